/**
 * One execution as the monitor's execution page shows it, read through `@aws-sdk/client-sfn`
 * only (`DescribeExecution`, `GetExecutionHistory`, `DescribeMapRun`, `ListExecutions` of the Map
 * Run), so it is the same against the local stack and AWS: the outcome, the stages, a timeline of
 * the states, the table of history events, the embed Map Run's batches, what the run changed, and
 * why it failed, in words first.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { originOf, readHistory } from '../indexer-client.ts';
import {
  describeOutcome,
  displayStatus,
  outcomeOf,
  type RunProgress,
  summarizeHistory,
  withMapRunCounts,
} from '../run-progress.ts';
import type { MergeResult } from '../../indexer/merge.ts';
import { redriveState } from '../../asl/redrive-point.ts';
import type {
  BatchView,
  ChangeView,
  EventView,
  ExecutionRowView,
  ExecutionView,
  FailureView,
  MapRunView,
  OutcomeView,
  StageView,
  TimelineSpan,
} from './view.ts';

/** The most batches the page lists (one ListExecutions page); the counts cover every one. */
const LISTED_BATCHES = 100;
/** The most characters of one state's input or output the events table carries. */
const DATA_CHARS = 4_000;

const iso = (date: Date | undefined): string | undefined => date?.toISOString();
const secondsBetween = (start?: Date, stop?: Date): number | null =>
  start ? ((stop ?? new Date()).getTime() - start.getTime()) / 1000 : null;
const clip = (text: string | undefined): string | undefined =>
  text === undefined || text.length <= DATA_CHARS ? text : `${text.slice(0, DATA_CHARS)}… (${text.length} characters)`;

/** The message inside a Lambda error's cause (`{"errorMessage": ...}`), or the cause as it is. */
export function causeInWords(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is already words
  }
  return cause;
}

/** An ended (or running) execution's outcome for people. */
export function outcomeView(execution: {
  readonly status?: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}): OutcomeView {
  const outcome = execution.status === 'SUCCEEDED' ? outcomeOf(execution.output) : {};
  const display = displayStatus(execution.status, outcome);
  const reason = [execution.error, causeInWords(execution.cause)].filter(Boolean).join(': ');
  const words =
    execution.status === 'SUCCEEDED'
      ? describeOutcome(outcome) || 'succeeded'
      : execution.status === 'RUNNING'
        ? 'running'
        : execution.status === 'ABORTED'
          ? `stopped${reason ? `: ${reason}` : ''}`
          : execution.status === 'TIMED_OUT'
            ? 'timed out: the run took longer than its time limit'
            : `failed${reason ? `: ${reason}` : ''}`;
  return { ...outcome, display, words };
}

/** A row of the execution list. */
export function executionRowView(
  execution: { readonly name?: string; readonly status?: string; readonly startDate?: Date; readonly stopDate?: Date },
  outcome?: OutcomeView,
): ExecutionRowView {
  return {
    name: execution.name ?? '',
    status: execution.status ?? '',
    origin: originOf(execution.name ?? ''),
    ...(execution.startDate ? { startDate: iso(execution.startDate) } : {}),
    ...(execution.stopDate ? { stopDate: iso(execution.stopDate) } : {}),
    seconds: secondsBetween(execution.startDate, execution.stopDate),
    ...(outcome ? { outcome } : {}),
  };
}

/** The `...EventDetails` of an event, whichever kind it is. */
function detailsOf(event: HistoryEvent): Record<string, unknown> {
  for (const [key, value] of Object.entries(event))
    if (key.endsWith('EventDetails') && value && typeof value === 'object') return value as Record<string, unknown>;
  return {};
}

/** Every history event as a row: time, type, its state, time since the start, its data and error. */
export function eventViews(history: readonly HistoryEvent[], start: Date | undefined): EventView[] {
  const startMs = start?.getTime() ?? history[0]?.timestamp?.getTime() ?? 0;
  let state: string | undefined;
  return history.map((event) => {
    const details = detailsOf(event);
    const named = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
    if (event.stateEnteredEventDetails) state = named;
    const text = (key: string): string | undefined =>
      typeof details[key] === 'string' ? (details[key] as string) : undefined;
    const view: EventView = {
      id: event.id ?? 0,
      at: iso(event.timestamp) ?? '',
      type: event.type ?? '',
      ...((named ?? state) ? { state: named ?? state } : {}),
      elapsedMs: (event.timestamp?.getTime() ?? startMs) - startMs,
      ...(text('input') !== undefined ? { input: clip(text('input')) } : {}),
      ...(text('output') !== undefined ? { output: clip(text('output')) } : {}),
      ...(text('error') !== undefined ? { error: text('error') } : {}),
      ...(text('cause') !== undefined ? { cause: clip(text('cause')) } : {}),
    };
    if (event.stateExitedEventDetails) state = undefined;
    return view;
  });
}

/**
 * The top-level states on the execution's time axis, each from entered to exited (a state that
 * failed ends at the next state entered, or at the execution's end). A Map's inner states run as
 * child executions and are the Map Run's; an inline Map's inner events are skipped here too.
 */
export function timelineOf(history: readonly HistoryEvent[], progress: RunProgress, start: Date): TimelineSpan[] {
  const spans: { state: string; startMs: number; endMs?: number }[] = [];
  const at = (event: HistoryEvent): number => (event.timestamp?.getTime() ?? start.getTime()) - start.getTime();
  let depth = 0;
  for (const event of history) {
    const entered = event.stateEnteredEventDetails?.name;
    const exited = event.stateExitedEventDetails?.name;
    if (entered && depth === 0) {
      const open = spans.at(-1);
      if (open && open.endMs === undefined) open.endMs = at(event);
      spans.push({ state: entered, startMs: at(event) });
    }
    if (event.type === 'MapStateEntered') depth += 1;
    if (event.type === 'MapStateExited' || event.type === 'MapStateFailed') depth = Math.max(0, depth - 1);
    if (exited && depth === 0) {
      const span = spans.findLast((candidate) => candidate.state === exited && candidate.endMs === undefined);
      if (span) span.endMs = at(event);
    }
    if (/^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(event.type ?? '')) {
      const open = spans.at(-1);
      if (open && open.endMs === undefined) open.endMs = at(event);
    }
  }
  const statusOf = new Map(progress.states.map((visit) => [visit.name, visit.status]));
  return spans.map((span) => ({ ...span, status: statusOf.get(span.state) ?? 'succeeded' }));
}

/** The change a run made, from its output's merge result. */
function changeOf(output: string | undefined): ChangeView | undefined {
  try {
    const merge = (JSON.parse(output ?? '{}') as { merge?: MergeResult }).merge;
    if (!merge) return undefined;
    const { generation, added, replaced, removed, poison } = merge;
    return { generation, added, replaced, removed, poison };
  } catch {
    return undefined;
  }
}

/** Why the run did not succeed: the stage that failed and its message first, then the raw error. */
export function failureOf(
  execution: DescribeExecutionCommandOutput,
  stages: readonly StageView[],
): FailureView | undefined {
  if (execution.status === 'SUCCEEDED' || execution.status === 'RUNNING') return undefined;
  const failed = stages.find((stage) => stage.status === 'failed' && stage.error);
  const stopped = stages.find((stage) => stage.status === 'aborted');
  if (execution.status === 'ABORTED') {
    const where = stopped ? ` during ${stopped.name}` : '';
    const why = causeInWords(execution.cause) || 'no reason given';
    return { words: `Stopped${where}: ${why}.`, ...errorAndCause(execution) };
  }
  if (execution.status === 'TIMED_OUT')
    return { words: 'The run took longer than its time limit and was ended.', ...errorAndCause(execution) };
  if (failed) {
    const [error, ...rest] = (failed.error ?? '').split(': ');
    const message = causeInWords(rest.join(': ')) || error || '';
    return { words: `${failed.name} failed: ${message}`, stage: failed.name, error, cause: rest.join(': ') };
  }
  return {
    words: `The run failed: ${causeInWords(execution.cause) || execution.error || 'no cause recorded'}`,
    ...errorAndCause(execution),
  };
}

const errorAndCause = (execution: DescribeExecutionCommandOutput) => ({
  ...(execution.error ? { error: execution.error } : {}),
  ...(execution.cause ? { cause: execution.cause } : {}),
});

/** What a batch's child execution says about it: its descriptor (input) and, if it failed, why (output). */
function batchOf(child: DescribeExecutionCommandOutput): BatchView {
  const input = parseObject(child.input) as { batch?: { batch?: number; items?: number } };
  const output = parseObject(child.output) as { failed?: boolean; error?: string; cause?: string };
  const failedInside = child.status === 'SUCCEEDED' && output.failed === true;
  const status =
    child.status === 'SUCCEEDED' ? (failedInside ? 'failed' : 'embedded') : (child.status ?? 'UNKNOWN').toLowerCase();
  return {
    name: child.name ?? '',
    ...(input.batch?.batch !== undefined ? { batch: input.batch.batch } : {}),
    ...(input.batch?.items !== undefined ? { items: input.batch.items } : {}),
    status,
    seconds: secondsBetween(child.startDate, child.stopDate),
    ...(failedInside && output.error ? { error: output.error } : child.error ? { error: child.error } : {}),
    ...(failedInside && output.cause ? { cause: output.cause } : child.cause ? { cause: child.cause } : {}),
  };
}

function parseObject(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The most ended executions (and run views) kept; the oldest go first. */
const MAX_KEPT = 5_000;

/**
 * What never changes once an execution has ended, read once: its description (a Map Run may have
 * many children) and the view of its page (the page polls every second). A redrive gives it a new
 * stop date, and so a new key.
 */
export class EndedExecutions {
  private readonly described = new Map<string, DescribeExecutionCommandOutput>();
  private readonly views = new Map<string, ExecutionView>();
  constructor(private readonly sfn: SFNClient) {}

  async describe(executionArn: string, stopDate?: Date): Promise<DescribeExecutionCommandOutput> {
    const key = keyOf(executionArn, stopDate);
    const known = this.described.get(key);
    if (known) return known;
    const described = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') keep(this.described, key, described);
    return described;
  }

  /** The view of an ended execution, made once by `make`. */
  async view(execution: DescribeExecutionCommandOutput, make: () => Promise<ExecutionView>): Promise<ExecutionView> {
    if (execution.status === 'RUNNING' || !execution.executionArn) return make();
    const key = keyOf(execution.executionArn, execution.stopDate);
    const known = this.views.get(key);
    if (known) return known;
    const view = await make();
    keep(this.views, key, view);
    return view;
  }
}

const keyOf = (executionArn: string, stopDate?: Date): string => `${executionArn}@${stopDate?.getTime() ?? ''}`;

function keep<T>(map: Map<string, T>, key: string, value: T): void {
  map.set(key, value);
  if (map.size > MAX_KEPT) map.delete(map.keys().next().value!);
}

/** The Map Run's counts by status and its first page of batches. */
async function readMapRun(sfn: SFNClient, mapRunArn: string, ended: EndedExecutions): Promise<MapRunView> {
  const [run, listed] = await Promise.all([
    sfn.send(new DescribeMapRunCommand({ mapRunArn })),
    sfn.send(new ListExecutionsCommand({ mapRunArn, maxResults: LISTED_BATCHES })),
  ]);
  const children = await Promise.all(
    (listed.executions ?? []).map((child) =>
      child.status === 'RUNNING'
        ? Promise.resolve({ ...child, input: undefined, output: undefined } as DescribeExecutionCommandOutput)
        : ended.describe(child.executionArn!, child.stopDate),
    ),
  );
  const batches = children.map(batchOf).sort((a, b) => (a.batch ?? 0) - (b.batch ?? 0));
  const counts = Object.fromEntries(
    Object.entries(run.itemCounts ?? {}).filter(([name]) => !name.startsWith('resultsWritten')),
  ) as Record<string, number>;
  return {
    mapRunArn,
    ...(run.status ? { status: run.status } : {}),
    counts,
    batches,
    more: listed.nextToken !== undefined,
    itemsLeftPending: batches.filter((batch) => batch.status === 'failed').reduce((n, b) => n + (b.items ?? 0), 0),
  };
}

/**
 * One execution in full. `withLive` adds the live counts of the stage running now (the monitor
 * reads them from the run-progress record).
 */
export async function readExecutionView(
  sfn: SFNClient,
  executionArn: string,
  ended: EndedExecutions,
  withLive: (progress: RunProgress, execution: DescribeExecutionCommandOutput) => Promise<StageView[]>,
): Promise<ExecutionView> {
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  return ended.view(execution, () => viewOf(sfn, execution, ended, withLive));
}

async function viewOf(
  sfn: SFNClient,
  execution: DescribeExecutionCommandOutput,
  ended: EndedExecutions,
  withLive: (progress: RunProgress, execution: DescribeExecutionCommandOutput) => Promise<StageView[]>,
): Promise<ExecutionView> {
  const history = await readHistory(sfn, execution.executionArn!);
  const mapRunArn = history.findLast((event) => event.mapRunStartedEventDetails)?.mapRunStartedEventDetails?.mapRunArn;
  const mapRun = mapRunArn ? await readMapRun(sfn, mapRunArn, ended) : undefined;
  let progress = summarizeHistory(history);
  if (mapRun) progress = withMapRunCounts(progress, mapRun.counts);
  const stages = await withLive(progress, execution);
  const start = execution.startDate ?? history[0]?.timestamp ?? new Date();
  const change = changeOf(execution.output);
  const failure = failureOf(execution, stages);
  return {
    ...executionRowView(execution, outcomeView(execution)),
    input: parseJson(execution.input),
    output: parseJson(execution.output),
    ...(execution.error ? { error: execution.error } : {}),
    ...(execution.cause ? { cause: execution.cause } : {}),
    redriveCount: execution.redriveCount ?? 0,
    redrivable: execution.redriveStatus === 'REDRIVABLE',
    ...(execution.redriveStatus === 'REDRIVABLE' ? { redriveFrom: redriveState(history)?.state } : {}),
    stages,
    states: progress.states,
    edges: progress.edges,
    iterations: progress.iterations,
    batches: progress.batches,
    timeline: timelineOf(history, progress, start),
    events: eventViews(history, start),
    ...(mapRun ? { mapRun } : {}),
    ...(change ? { change } : {}),
    ...(failure ? { failure } : {}),
  };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
