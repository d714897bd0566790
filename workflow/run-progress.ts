/**
 * Reads an execution's history (local or AWS, the same shapes) as the stages a user thinks
 * in: for each stage its status, timing and counts. Used by `run --wait` and the monitor.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { EMBED_MAP, INDEXER_STAGES } from '../asl/indexer.ts';
import { INDEXER_TASKS } from '../asl/tasks.ts';
import type { ClearStepResult } from '../indexer/clear.ts';
import type { ModelDescriptor } from '../indexer/context.ts';
import type { LeaseResult } from '../indexer/lease.ts';
import type { CompactionResult } from '../indexer/compact.ts';
import type { MergeStepResult } from '../indexer/merge.ts';
import type { PlanResult } from '../indexer/plan.ts';

const LEASE = INDEXER_TASKS.lease.state;
const BOOTSTRAP = INDEXER_TASKS.bootstrap.state;
const PLAN = INDEXER_TASKS.plan.state;
const MERGE = INDEXER_TASKS.merge.state;
const COMPACT = INDEXER_TASKS.compact.state;
const CLEAR = INDEXER_TASKS.clear.state;

/** A stage's status; `aborted` is a stage a stopped run left unfinished (not a failure of its own). */
export type StageStatus = 'waiting' | 'running' | 'succeeded' | 'failed' | 'retried' | 'aborted';

export interface StageProgress {
  readonly name: string;
  status: StageStatus;
  startedAt?: Date;
  endedAt?: Date;
  /** One line of counts, e.g. "3 batches, 130 items". */
  detail?: string;
  error?: string;
  retries: number;
}

/** How one state of the definition (the Map's inner states included) was visited by a run. */
export interface StateVisit {
  readonly name: string;
  /** The last visit's status; `caught` is a failure a Catch sent on, `aborted` a state a stop cut short. */
  status: 'running' | 'succeeded' | 'failed' | 'caught' | 'aborted';
  /** Times entered (a Map's inner state: once per iteration) and exited. */
  entered: number;
  exited: number;
}

/** The transition a run took between two states, and how often (a Catch path included). */
export interface TakenEdge {
  readonly from: string;
  readonly to: string;
  count: number;
}

export interface RunProgress {
  readonly stages: StageProgress[];
  /** Embed batches done and planned. */
  readonly batches: { done: number; failed: number; total: number };
  /** Every state the run entered, by name, in the order first entered. */
  readonly states: StateVisit[];
  /** The top-level transitions the run took. */
  readonly edges: TakenEdge[];
  /** The Map's iterations: started, succeeded and failed so far. */
  readonly iterations: { started: number; succeeded: number; failed: number };
}

/** The state data after a stage: each stage's result under its ResultPath (see asl/indexer.ts). */
interface StateData {
  /** The lease stage's answer (`tasks/indexer-handlers.ts`); runs made before it said `waits` lack it. */
  readonly lease?: LeaseResult & { readonly waits?: boolean };
  readonly model?: ModelDescriptor & { readonly copied?: boolean };
  readonly plan?: Pick<PlanResult, 'itemCount' | 'batchCount' | 'capped'>;
  readonly merge?: MergeStepResult;
  /** The compaction's result, or the error it failed with (the run goes on: see asl/tasks.ts). */
  readonly compaction?: CompactionResult | { readonly Error: string; readonly Cause?: string };
  readonly clear?: ClearStepResult;
}

const parse = (text: string | undefined): StateData => {
  try {
    return text ? (JSON.parse(text) as StateData) : {};
  } catch {
    return {};
  }
};

function describeOutput(stage: string, output: StateData): string | undefined {
  switch (stage) {
    case LEASE: {
      const lease = output['lease'];
      if (!lease) return undefined;
      // A run that waits for the lease asks again; one that does not ends here.
      // The holder renews its lease as it goes: while waiting, its expiry is left out, so the line
      // `run --wait` prints does not change (and print again) with every renewal.
      if (!lease.acquired)
        return lease.waits ? `waiting: ${lease.skipped.replace(/ until \S+$/, '')}` : `skipped: ${lease.skipped}`;
      return lease.tookOverFrom
        ? `taken over from ${lease.tookOverFrom.holder} (${lease.tookOverFrom.status})`
        : 'taken';
    }
    case BOOTSTRAP: {
      const model = output.model;
      return model
        ? `${model.name} (${model.dimensions} dimensions)${model.copied ? ', copied to EFS' : ''}`
        : undefined;
    }
    case PLAN: {
      const plan = output['plan'];
      if (!plan) return undefined;
      const capped = plan.capped ? ' (capped; the rest waits for the next run)' : '';
      return `${plan.itemCount} items in ${plan.batchCount} batches${capped}`;
    }
    case MERGE: {
      const merge = output['merge'];
      if (!merge) return undefined;
      if (merge.complete === false)
        return `${merge.windowsMerged} of ${merge.windows} windows merged (published after the last)`;
      const failed = merge.failedBatchCount ? `, ${merge.failedBatchCount} batches failed` : '';
      const change = `${describeChange(merge)}, ${merge.poison} poison${failed}`;
      // A result of an older run counts vectors only (one per item then).
      const size = merge.items === undefined ? `${merge.vectors} vectors` : `${merge.items} items`;
      return `generation ${merge.generation}: ${size} (${change})`;
    }
    case COMPACT: {
      const compaction = output['compaction'];
      if (!compaction) return undefined;
      if ('Error' in compaction)
        return `failed (${compaction.Error}); the index is as its last published fold left it, and correct`;
      const segments = `${compaction.segments} segment${compaction.segments === 1 ? '' : 's'}`;
      return compaction.compacted === 0
        ? `nothing to compact (${segments})`
        : `${compaction.segmentsFolded} segments folded into ${compaction.folds ?? compaction.compacted}, ` +
            `${compaction.deadDropped} dead vectors dropped; generation ${compaction.generation}, ` +
            segments +
            (compaction.morePending ? '; more next run (one step is bounded)' : '');
    }
    case CLEAR: {
      const clear = output['clear'];
      if (clear?.complete === false) return `${clear.settled} of ${clear.total} flags settled (more to come)`;
      return clear
        ? `${clear.cleared} flags cleared, ${clear.deleted} deleted, ${clear.keptPending} edited in flight kept pending`
        : undefined;
    }
    default:
      return undefined;
  }
}

/** How an ended Embed Map went: "8 of 8 batches embedded", ", 1 failed" when some did. */
const embeddedDetail = (total: number, failed: number): string =>
  `${total - failed} of ${total} batches embedded${failed ? `, ${failed} failed` : ''}`;

/** A merge's changes for people: "10 added, 5 replaced, 2 removed". */
export function describeChange(change: {
  readonly added: number;
  readonly replaced: number;
  readonly removed: number;
}): string {
  return `${change.added} added, ${change.replaced} replaced, ${change.removed} removed`;
}

/** Why a run was stopped, from its ExecutionAborted event: " (User.Stop: stopped from the monitor)". */
function stopReason(event: HistoryEvent): string {
  const details = event.executionAbortedEventDetails;
  if (!details?.error && !details?.cause) return '';
  return ` (${[details.error, details.cause].filter(Boolean).join(': ')})`;
}

export function summarizeHistory(events: readonly HistoryEvent[]): RunProgress {
  const stages = new Map<string, StageProgress>(
    INDEXER_STAGES.map((name) => [name, { name, status: 'waiting', retries: 0 }]),
  );
  const batches = { done: 0, failed: 0, total: 0 };
  const visits = new Map<string, StateVisit>();
  const edges = new Map<string, TakenEdge>();
  const iterations = { started: 0, succeeded: 0, failed: 0 };
  let current: StageProgress | undefined;
  let lastTopLevel: string | undefined;
  let mapDepth = 0;
  let lastFailure: StateVisit | undefined;
  /** Set by a redrive, until the state it goes on from is entered. */
  let redriven = false;
  for (const event of events) {
    if (event.type === 'ExecutionRedriven') redriven = true;
    const name = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
    const stage = name ? stages.get(name) : undefined;
    if (name && event.type?.endsWith('StateEntered')) {
      lastFailure = undefined;
      const visit = visits.get(name) ?? { name, status: 'running', entered: 0, exited: 0 };
      visit.entered += 1;
      visit.status = 'running';
      visits.set(name, visit);
      if (mapDepth === 0) {
        if (lastTopLevel) {
          const key = `${lastTopLevel}\u0000${name}`;
          const edge = edges.get(key) ?? { from: lastTopLevel, to: name, count: 0 };
          edge.count += 1;
          edges.set(key, edge);
        }
        lastTopLevel = name;
      }
      if (event.type === 'MapStateEntered') mapDepth += 1;
    } else if (name && event.type?.endsWith('StateExited')) {
      const visit = visits.get(name);
      if (visit) {
        visit.exited += 1;
        if (visit.status === 'running') visit.status = 'succeeded';
      }
      if (event.type === 'MapStateExited') mapDepth = Math.max(0, mapDepth - 1);
    } else if (event.type?.endsWith('StateFailed') || event.type === 'LambdaFunctionFailed') {
      // The state that failed: the one named, else the newest one still running.
      const failed = (name && visits.get(name)) || [...visits.values()].reverse().find((v) => v.status === 'running');
      if (failed) failed.status = 'caught';
      if (event.type === 'LambdaFunctionFailed') lastFailure = failed;
      if (event.type === 'MapStateFailed') mapDepth = Math.max(0, mapDepth - 1);
    } else if (event.type === 'LambdaFunctionScheduled' && lastFailure) {
      // Scheduled again after its failure, with no state entered between: a retry.
      lastFailure.status = 'running';
      lastFailure = undefined;
    } else if (event.type === 'MapIterationStarted') {
      iterations.started += 1;
    } else if (event.type === 'MapIterationFailed') {
      iterations.failed += 1;
    } else if (event.type === 'ExecutionFailed' || event.type === 'ExecutionTimedOut') {
      for (const visit of visits.values())
        if (visit.status === 'running' || visit.status === 'caught') visit.status = 'failed';
    } else if (event.type === 'ExecutionAborted') {
      for (const visit of visits.values()) if (visit.status === 'running') visit.status = 'aborted';
    }
    if (event.type?.endsWith('StateEntered') && stage) {
      stage.status = 'running';
      // A stage entered again keeps its first start (the lease is asked for again while waiting for
      // it), but a redrive starts it anew.
      if (redriven || !stage.startedAt) stage.startedAt = event.timestamp;
      stage.endedAt = undefined;
      redriven = false;
      current = stage;
    } else if (event.type?.endsWith('StateExited') && stage) {
      stage.status = stage.status === 'failed' ? 'failed' : stage.retries > 0 ? 'retried' : 'succeeded';
      stage.endedAt = event.timestamp;
      const output = parse(event.stateExitedEventDetails?.output);
      stage.detail = describeOutput(stage.name, output) ?? stage.detail;
      if (stage.name === PLAN) batches.total = Number(output['plan']?.batchCount ?? 0);
      if (stage.name === EMBED_MAP) stage.detail = `${batches.done} of ${batches.total} batches done`;
      if (stage.name === MERGE && output.merge && output.merge.complete !== false) {
        // The Map's results are on S3: merge is where the failed batches are counted (by its last window).
        batches.failed = output.merge.failedBatchCount;
        const embed = stages.get(EMBED_MAP)!;
        embed.detail = embeddedDetail(batches.total, batches.failed);
        if (batches.failed > 0) embed.status = 'retried';
      }
    } else if (event.type === 'LambdaFunctionFailed' && current) {
      const failure = event.lambdaFunctionFailedEventDetails;
      current.error = `${failure?.error ?? 'Error'}: ${failure?.cause ?? ''}`;
      if (current.name !== EMBED_MAP) current.status = 'failed';
    } else if (event.type === 'LambdaFunctionScheduled' && current && current.name !== EMBED_MAP && current.error) {
      current.retries += 1; // scheduled again after a failure: a retry
      current.status = 'running';
    } else if (event.type === 'MapIterationSucceeded') {
      iterations.succeeded += 1;
      batches.done += 1;
      const embed = stages.get(EMBED_MAP)!;
      if (embed.status === 'running') embed.detail = `${batches.done} of ${batches.total} batches done`;
    } else if (event.type === 'ExecutionFailed' || event.type === 'ExecutionTimedOut') {
      // The stage the run ended in failed there, then (a failed stage is never exited).
      if (current && (current.status === 'running' || current.status === 'failed')) {
        current.status = 'failed';
        current.endedAt = event.timestamp;
      }
    } else if (event.type === 'ExecutionAborted') {
      // Stopped: the stage it was in did not fail, it was cut short.
      if (current && current.status === 'running') {
        current.status = 'aborted';
        current.endedAt = event.timestamp;
        current.detail = `stopped${stopReason(event)}`;
      }
    }
  }
  return {
    stages: [...stages.values()],
    batches,
    states: [...visits.values()],
    edges: [...edges.values()],
    iterations,
  };
}

/** A Distributed Map Run's item counts, as DescribeMapRun reports them. */
export interface MapRunItemCounts {
  readonly pending?: number;
  readonly running?: number;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly timedOut?: number;
  readonly aborted?: number;
  readonly total?: number;
}

/**
 * The progress with the Embed Map's iterations counted from its Map Run: a Distributed Map runs
 * them as child executions, whose events are not in the run's history.
 */
export function withMapRunCounts(progress: RunProgress, counts: MapRunItemCounts): RunProgress {
  const failed = (counts.failed ?? 0) + (counts.timedOut ?? 0) + (counts.aborted ?? 0);
  const succeeded = counts.succeeded ?? 0;
  const iterations = { started: (counts.total ?? 0) - (counts.pending ?? 0), succeeded, failed };
  // A batch that fails is caught inside its iteration: every ended iteration is a batch done.
  const batches = { ...progress.batches, done: succeeded + failed };
  // While the Map runs, how many batches are done; once it has ended, how many were embedded
  // (the words merge uses too, so a line printed when the Map ends is not printed again).
  const stages = progress.stages.map((stage) => {
    if (stage.name !== EMBED_MAP || stage.status === 'waiting') return stage;
    if (stage.status === 'running') return { ...stage, detail: `${batches.done} of ${batches.total} batches done` };
    return {
      ...stage,
      detail: stage.detail?.includes('embedded') ? stage.detail : embeddedDetail(batches.total, failed),
    };
  });
  return { ...progress, stages, batches, iterations };
}

/** What an ended run did, from its output: what `status` lists and `run --wait` ends with. */
export interface RunOutcome {
  /** Items the run added, replaced or removed in the index. */
  readonly indexed?: number;
  /** Why a run did nothing: another run held the index (it took no lease, loaded nothing). */
  readonly skipped?: string;
  /** A run that found nothing pending. */
  readonly nothingToIndex?: boolean;
}

/** What an execution's output says it did; nothing for a failed run (its output is its error). */
export function outcomeOf(output: string | undefined): RunOutcome {
  const data = parse(output);
  if (data.lease && !data.lease.acquired) return { skipped: data.lease.skipped };
  if (data.merge && data.merge.complete !== false)
    return { indexed: data.merge.added + data.merge.replaced + data.merge.removed };
  if (data.plan && data.plan.itemCount === 0) return { nothingToIndex: true };
  return {};
}

/** Whether an ended run did no work: the index was held by another run, or nothing was pending. */
export const isSkipped = (outcome: RunOutcome): boolean =>
  outcome.skipped !== undefined || outcome.nothingToIndex === true;

/**
 * The status to show people: Step Functions' own, but `SKIPPED` for a run that succeeded without
 * doing any work, so a skipped run never reads like a real one (`status`, `run --wait`, the monitor).
 */
export function displayStatus(status: string | undefined, outcome: RunOutcome | undefined): string {
  return status === 'SUCCEEDED' && outcome && isSkipped(outcome) ? 'SKIPPED' : (status ?? 'UNKNOWN');
}

/** An outcome for people: "8000 items indexed", "skipped: ...", "nothing pending". */
export function describeOutcome(outcome: RunOutcome): string {
  if (outcome.skipped !== undefined) return `skipped: ${outcome.skipped}`;
  if (outcome.indexed !== undefined) return `${outcome.indexed} item${outcome.indexed === 1 ? '' : 's'} indexed`;
  return outcome.nothingToIndex ? 'nothing pending' : '';
}

/** Seconds between two dates, for display. */
export const seconds = (start?: Date, end?: Date): string =>
  start ? `${(((end ?? new Date()).getTime() - start.getTime()) / 1000).toFixed(1)} s` : '';
