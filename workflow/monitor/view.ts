/**
 * What the monitor's API answers, defined once: the server builds these (`api.ts`,
 * `execution-view.ts`) and the page reads them (`page/`), both typed by this module. Dates are
 * ISO strings, as JSON carries them.
 */
import type { AslGraph } from '../../asl/indexer.ts';
import type { RunOutcome, StageProgress, StateVisit, TakenEdge } from '../run-progress.ts';

/** A run's outcome for people: what it did, or why it did nothing or ended early. */
export interface OutcomeView extends RunOutcome {
  /** Step Functions' status, or `SKIPPED` for a run that succeeded without doing any work. */
  readonly display: string;
  /** One line: "240 items indexed", "skipped: the index is held by ...", "stopped: ...". */
  readonly words: string;
}

/** One execution as the list shows it. */
export interface ExecutionRowView {
  readonly name: string;
  readonly status: string;
  readonly origin: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly seconds: number | null;
  /** Read for ended runs only (a request each, kept once read). */
  readonly outcome?: OutcomeView;
}

export interface ExecutionPageView {
  readonly executions: readonly ExecutionRowView[];
  readonly nextToken?: string;
}

/** One history event as the execution page's table shows it. */
export interface EventView {
  readonly id: number;
  readonly at: string;
  readonly type: string;
  /** The state it belongs to (entered, exited, or the one running when it happened). */
  readonly state?: string;
  /** Milliseconds since the execution started. */
  readonly elapsedMs: number;
  readonly input?: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** A top-level state's span on the execution's time axis. */
export interface TimelineSpan {
  readonly state: string;
  readonly startMs: number;
  /** Absent while the state runs. */
  readonly endMs?: number;
  readonly status: StateVisit['status'];
}

/** One batch of the embed Map Run: a child execution. */
export interface BatchView {
  readonly name: string;
  /** The batch's number in the plan, and how many items it holds. */
  readonly batch?: number;
  readonly items?: number;
  /** `embedded`, `failed` (caught inside its iteration: its items stay pending), `running`, or the child's status. */
  readonly status: string;
  readonly seconds: number | null;
  readonly error?: string;
  readonly cause?: string;
}

/** The embed Map's run: item counts by status and its batches (the first page of them). */
export interface MapRunView {
  readonly mapRunArn: string;
  readonly status?: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly batches: readonly BatchView[];
  /** Whether there are more batches than listed. */
  readonly more: boolean;
  /** Items of failed batches, left pending for the next run. */
  readonly itemsLeftPending: number;
}

/** Why a run failed (or was stopped, or timed out), in words first; then the raw error and cause. */
export interface FailureView {
  readonly words: string;
  readonly stage?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** What a run changed in the index. */
export interface ChangeView {
  readonly generation: number;
  readonly added: number;
  readonly replaced: number;
  readonly removed: number;
  readonly poison: number;
}

/** A stage with its live counts, when it reports them. */
export type StageView = Omit<StageProgress, 'startedAt' | 'endedAt'> & {
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly progress?: { readonly done: number; readonly total: number; readonly unit: string };
};

/** One execution, in full: what the execution page shows. */
export interface ExecutionView extends ExecutionRowView {
  readonly input: unknown;
  readonly output: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly redriveCount: number;
  /** Whether it may be redriven (it did not succeed, in the last 14 days), and from which state. */
  readonly redrivable: boolean;
  readonly redriveFrom?: string;
  readonly stages: readonly StageView[];
  readonly states: readonly StateVisit[];
  readonly edges: readonly TakenEdge[];
  readonly iterations: { readonly started: number; readonly succeeded: number; readonly failed: number };
  readonly batches: { readonly done: number; readonly failed: number; readonly total: number };
  readonly timeline: readonly TimelineSpan[];
  readonly events: readonly EventView[];
  readonly mapRun?: MapRunView;
  readonly change?: ChangeView;
  readonly failure?: FailureView;
}

/** The state machine as the page draws it. */
export interface DefinitionView {
  readonly name?: string;
  readonly definition: AslGraph;
  /** The stages, in order, and the states off the main path (from `asl/tasks.ts`). */
  readonly stages: readonly string[];
  readonly side: readonly string[];
}

/** A run as the run chart plots it: its duration and the items it indexed per second. */
export interface RunPointView {
  readonly name: string;
  readonly origin: string;
  readonly status: string;
  readonly startDate?: string;
  readonly seconds: number | null;
  readonly items: number | null;
  readonly itemsPerSecond: number | null;
}

export interface ChartsView {
  readonly runs: readonly RunPointView[];
  readonly backlog: readonly (readonly [number, number])[];
  readonly searchLatency: readonly { readonly at: number; readonly p50: number; readonly p99: number }[];
}
