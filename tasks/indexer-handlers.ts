/**
 * The indexer's Lambda handlers, middy-wrapped. The same handlers run in Lambda (see
 * `tasks/lambda.ts`) and in the local stack, keyed by function name.
 */
import middy from '@middy/core';
import type { IndexerContext, ModelDescriptor, RunInfo } from '../indexer/context.ts';
import { bootstrapModel } from '../indexer/bootstrap.ts';
import { type ClearResult, clearFlags } from '../indexer/clear.ts';
import { embedBatch } from '../indexer/embed-batch.ts';
import { mergeShards, type MergeResult } from '../indexer/merge.ts';
import { acquireLease, type LeaseResult, releaseLease } from '../indexer/lease.ts';
import { planRun, type PlanResult } from '../indexer/plan.ts';
import type { BatchDescriptor, FailedBatch, ShardDescriptor } from '../indexer/run-files.ts';
import { functionNameOf, INDEXER_TASK_NAMES, type IndexerTask, LOCAL_FUNCTION_PREFIX } from '../asl/tasks.ts';
import type { TaskHandler } from './handler.ts';
import { classifyErrors } from './middleware.ts';

interface StageEvents {
  lease: { run: RunInfo };
  bootstrap: { run: RunInfo };
  plan: { run: RunInfo; model: ModelDescriptor };
  embed: { run: RunInfo; model: ModelDescriptor; batch: BatchDescriptor };
  merge: { run: RunInfo; model: ModelDescriptor; plan: PlanResult; shards: (ShardDescriptor | FailedBatch)[] };
  clear: { run: RunInfo; merge: MergeResult };
  release: { run?: RunInfo };
}

interface StageResults {
  lease: LeaseResult;
  bootstrap: Awaited<ReturnType<typeof bootstrapModel>>;
  plan: PlanResult;
  embed: ShardDescriptor;
  merge: MergeResult;
  clear: ClearResult;
  release: void;
}

/** The stage functions behind each task, by task. */
export type IndexerStages = { [T in IndexerTask]: (event: StageEvents[T]) => Promise<StageResults[T]> };

/** Options of {@link indexerStages}. */
export interface StageOptions {
  /**
   * Publish the backlog to CloudWatch as Embedded Metric Format log lines (the dashboard and
   * the backlog-age alarm): only in Lambda, where a log line becomes a metric.
   * @default false
   */
  readonly publishMetrics?: boolean;
}

/** The stage functions behind each task; tests may wrap them to inject faults. */
export function indexerStages(context: IndexerContext, options: StageOptions = {}): IndexerStages {
  return {
    lease: (event) => acquireLease(context, event.run),
    bootstrap: () => bootstrapModel(context),
    plan: async (event) => {
      const plan = await planRun(context, event.run);
      if (options.publishMetrics && event.run.mode === 'incremental') emitBacklogMetrics(plan);
      return plan;
    },
    embed: (event) => embedBatch(context, event.run, event.model, event.batch),
    merge: (event) => mergeShards(context, event.run, event.model, event.plan, event.shards),
    clear: (event) => clearFlags(context, event.run, event.merge),
    // A run rejected before it started (bad input) has no run descriptor and holds nothing.
    release: async (event) => (event.run ? releaseLease(context, event.run) : undefined),
  };
}

/** Publishes the backlog to CloudWatch as an Embedded Metric Format log line. */
function emitBacklogMetrics(plan: PlanResult): void {
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: 'ddb-faiss',
            Dimensions: [[]],
            Metrics: [
              { Name: 'PendingItems', Unit: 'Count' },
              { Name: 'OldestPendingAgeSeconds', Unit: 'Seconds' },
            ],
          },
        ],
      },
      PendingItems: plan.itemCount,
      OldestPendingAgeSeconds: plan.oldestPendingAgeSeconds ?? 0,
    }),
  );
}

/** Wraps one stage as a middy handler whose transient failures are renamed for Retry. */
export function stageHandler<E, R>(stage: (event: E) => Promise<R>): TaskHandler<E, R> {
  return middy<E, R>(async (event: E) => stage(event)).use(classifyErrors());
}

/** The middy handler of every task, by task. */
export type IndexerHandlers = { [T in IndexerTask]: TaskHandler<StageEvents[T], StageResults[T]> };

/** Every task's handler, by task. */
export function indexerHandlers(context: IndexerContext, stages = indexerStages(context)): IndexerHandlers {
  const handler = <T extends IndexerTask>(task: T): TaskHandler<StageEvents[T], StageResults[T]> =>
    stageHandler<StageEvents[T], StageResults[T]>(stages[task]);
  return {
    lease: handler('lease'),
    bootstrap: handler('bootstrap'),
    plan: handler('plan'),
    embed: handler('embed'),
    merge: handler('merge'),
    clear: handler('clear'),
    release: handler('release'),
  };
}

/** Every task's handler by its local Lambda function name (`ddb-faiss-<task>`), for the local engine. */
export function createIndexerHandlers(
  context: IndexerContext,
  stages = indexerStages(context),
): Map<string, TaskHandler> {
  const handlers = indexerHandlers(context, stages);
  return new Map(
    INDEXER_TASK_NAMES.map((task) => [functionNameOf(LOCAL_FUNCTION_PREFIX, task), handlers[task] as TaskHandler]),
  );
}
