/**
 * The indexer's Lambda handlers, middy-wrapped. The same handlers run in Lambda (see
 * `tasks/lambda.ts`) and in the local stack, keyed by function name.
 */
import middy from '@middy/core';
import type { IndexerContext, ModelDescriptor, RunInfo } from '../indexer/context.ts';
import { bootstrapModel } from '../indexer/bootstrap.ts';
import { clearFlags, type ClearStepResult } from '../indexer/clear.ts';
import { compactIndex, type CompactionResult } from '../indexer/compact.ts';
import { embedBatch } from '../indexer/embed-batch.ts';
import { mergeShards, type MergeResult, type MergeStepResult } from '../indexer/merge.ts';
import { acquireLease, type LeaseResult, releaseLease } from '../indexer/lease.ts';
import { planRun, type PlanResult } from '../indexer/plan.ts';
import type { BatchDescriptor, ShardDescriptor } from '../indexer/run-files.ts';
import { type MapResults, readMapResults } from '../indexer/batch-list.ts';
import {
  functionNameOf,
  INDEXER_TASK_NAMES,
  type INDEXER_TASKS,
  type IndexerTask,
  LOCAL_FUNCTION_PREFIX,
  type TaskInputField,
} from '../asl/tasks.ts';
import { originOf } from '../asl/run-origins.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import type { TaskHandler } from './handler.ts';
import { classifyErrors } from './middleware.ts';
import { type MetricValues, type Observability, observeTask, type TaskLogKeys } from './observability.ts';

/**
 * The type of each state-data field a task's input may name (`TASK_INPUT_FIELDS`): indexing the
 * object by every name is what makes a name without a type here a compile error.
 */
type TaskInputTypes = {
  [F in TaskInputField]: {
    run: RunInfo;
    model: ModelDescriptor;
    plan: PlanResult;
    batch: BatchDescriptor;
    embedResults: MapResults;
    merge: MergeResult;
  }[F];
};

/**
 * A task's event, derived from its one declaration (`input` in `asl/tasks.ts`, which also renders
 * the Task state's `Parameters`): a field per name it takes, of that field's type.
 */
export type StageEvent<T extends IndexerTask> = {
  readonly [F in keyof (typeof INDEXER_TASKS)[T]['input'] & TaskInputField]: TaskInputTypes[F];
};

type StageEvents = { [T in IndexerTask]: StageEvent<T> };

/** The lease stage's answer to the state machine: the lease, and whether a run that found it held waits its turn. */
export type LeaseTaskResult = LeaseResult & { readonly waits: boolean };

interface StageResults {
  lease: LeaseTaskResult;
  bootstrap: Awaited<ReturnType<typeof bootstrapModel>>;
  plan: PlanResult;
  embed: ShardDescriptor;
  merge: MergeStepResult;
  compact: CompactionResult;
  clear: ClearStepResult;
  release: void;
}

/** The stage functions behind each task, by task. */
export type IndexerStages = { [T in IndexerTask]: (event: StageEvents[T]) => Promise<StageResults[T]> };

/**
 * Whether a run that finds the index held waits for it (asking every few seconds) rather than
 * ending SKIPPED. A run for captured changes always waits: the run holding the index may have
 * planned before the changes came. In stream mode a run started by hand (`run`, `backfill`) waits
 * too: runs for captured changes come seconds after every write, and `run --wait` promises that
 * what was pending is indexed when it returns. A scheduled run, a safety net, ends.
 */
export function waitsForLease(config: Pick<DdbFaissConfig, 'changeCapture'>, execution: string): boolean {
  const origin = originOf(execution);
  return origin === 'captured' || (config.changeCapture === 'stream' && (origin === 'manual' || origin === 'backfill'));
}

/** The stage functions behind each task; tests may wrap them to inject faults. */
export function indexerStages(context: IndexerContext): IndexerStages {
  return {
    lease: async (event) => {
      const lease = await acquireLease(context, event.run);
      return { ...lease, waits: !lease.acquired && waitsForLease(context.config, event.run.execution) };
    },
    bootstrap: () => bootstrapModel(context),
    plan: (event) => planRun(context, event.run),
    embed: (event) => embedBatch(context, event.run, event.model, event.batch),
    // The shards come from the Map's results on S3, not from the state data.
    merge: async (event) =>
      mergeShards(context, event.run, event.model, event.plan, await readMapResults(context, event.embedResults)),
    compact: (event) => compactIndex(context, event.run, event.model, event.merge),
    clear: (event) => clearFlags(context, event.run, event.merge),
    // The state machine always passes the run; an invocation made by hand without one holds nothing.
    release: async (event) => (event.run ? releaseLease(context, event.run) : undefined),
  };
}

/** What each task's call adds to the metrics (tasks/metrics.ts), from its event and result. */
const TASK_METRICS: { [T in IndexerTask]?: (event: StageEvents[T], result: StageResults[T]) => MetricValues } = {
  // A backfill plans the whole table: only a scheduled or manual run's plan is the backlog.
  plan: (event, plan) =>
    event.run.mode === 'incremental'
      ? { pendingItems: plan.itemCount, oldestPendingAge: plan.oldestPendingAgeSeconds ?? 0 }
      : {},
  embed: (_event, shard) => ({ itemsEmbedded: shard.vectors + shard.deletes + shard.poison }),
  clear: (event, result) => {
    if (result.complete === false) return {}; // counted once, by the invocation that ends the run
    const indexed = event.merge.added + event.merge.replaced + event.merge.removed;
    const startedAt = Date.parse(event.run.startedAt ?? '');
    const seconds = (Date.now() - startedAt) / 1000;
    return Number.isFinite(seconds) && seconds > 0
      ? { itemsIndexed: indexed, runDuration: seconds, itemsPerSecond: indexed / seconds }
      : { itemsIndexed: indexed };
  },
};

/** Wraps one stage as a middy handler: observed (logs, metrics, traces), transient failures renamed for Retry. */
export function stageHandler<T extends IndexerTask>(
  task: T,
  stage: (event: StageEvents[T]) => Promise<StageResults[T]>,
  observability: Observability,
): TaskHandler<StageEvents[T], StageResults[T]> {
  const keysOf = (event: StageEvents[T]): TaskLogKeys => {
    const { run, batch } = event as { run?: RunInfo; batch?: BatchDescriptor };
    return { ...(run ? { execution: run.execution } : {}), ...(batch ? { batch: batch.batch } : {}) };
  };
  return middy<StageEvents[T], StageResults[T]>(async (event: StageEvents[T]) => stage(event))
    .use(observeTask(observability, task, { keysOf, ...(TASK_METRICS[task] ? { metricsOf: TASK_METRICS[task] } : {}) }))
    .use(classifyErrors());
}

/** The middy handler of every task, by task. */
export type IndexerHandlers = { [T in IndexerTask]: TaskHandler<StageEvents[T], StageResults[T]> };

/** Every task's handler, by task. */
export function indexerHandlers(
  context: IndexerContext,
  observability: Observability,
  stages = indexerStages(context),
): IndexerHandlers {
  const handler = <T extends IndexerTask>(task: T): TaskHandler<StageEvents[T], StageResults[T]> =>
    stageHandler(task, stages[task], observability);
  return {
    lease: handler('lease'),
    bootstrap: handler('bootstrap'),
    plan: handler('plan'),
    embed: handler('embed'),
    merge: handler('merge'),
    compact: handler('compact'),
    clear: handler('clear'),
    release: handler('release'),
  };
}

/** Every task's handler by its local Lambda function name (`ddb-faiss-<task>`), for the local engine. */
export function createIndexerHandlers(
  context: IndexerContext,
  observability: Observability,
  stages = indexerStages(context),
): Map<string, TaskHandler> {
  const handlers = indexerHandlers(context, observability, stages);
  return new Map(
    INDEXER_TASK_NAMES.map((task) => [functionNameOf(LOCAL_FUNCTION_PREFIX, task), handlers[task] as TaskHandler]),
  );
}
