/**
 * The capture step's Lambda handler (stream mode), middy-wrapped: a DynamoDB stream batch in,
 * a partial batch response out. It runs behind Lambda's event source mapping on AWS and behind
 * the local stack's stream follower (`local-stack/stream-follower.ts`), which both read the
 * event source settings defined here once.
 *
 * @example
 * ```ts
 * const handler = createCaptureHandler({ config, clients, stateMachineArn }, observability);
 * const { batchItemFailures } = await handler({ Records: records }, lambdaContext);
 * ```
 */
import middy from '@middy/core';
import type { DdbFaissConfig } from '../config/config.ts';
import { captureChanges, type CaptureResult, type StreamEvent } from '../indexer/capture.ts';
import { type CaptureContext, requestRun, requestRunForPending } from './capture-run.ts';
import { RESERVED_GROUP } from '../table/reserved-items.ts';
import type { TaskHandler } from './handler.ts';
import { classifyErrors } from './middleware.ts';
import { type Observability, observeTask } from './observability.ts';

/** Lambda's partial batch response: the records to try again (Lambda retries from the lowest). */
export interface StreamBatchResponse {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

/**
 * How the stream reaches the handler: the event source mapping's settings, the same on AWS (CDK)
 * and locally (the follower).
 */
export const CAPTURE_EVENT_SOURCE = {
  /** Records per call at most. */
  batchSize: 100,
  /** How long the mapping gathers records before a call with fewer than a batch; 0: at once. */
  maxBatchingWindowSeconds: 0,
  /** Tries after the first before a batch's failed records go to the failure destination. */
  retryAttempts: 3,
  /** A batch whose call fails (throws) is split in two and each half retried. */
  bisectBatchOnError: true,
  /** The handler reports the records that failed (`batchItemFailures`). */
  reportBatchItemFailures: true,
  /** Where a new mapping starts: every record the stream still holds. */
  startingPosition: 'TRIM_HORIZON',
} as const;

/**
 * The mapping's filter (Lambda's event filtering pattern): ddb-faiss's own items (markers, the
 * lease, status, progress) never even reach the handler.
 */
export const captureFilterPattern = (config: Pick<DdbFaissConfig, 'groupAttribute'>) => ({
  dynamodb: { Keys: { [config.groupAttribute]: { S: [{ 'anything-but': [RESERVED_GROUP] }] } } },
});

export type CaptureHandler = TaskHandler<StreamEvent, StreamBatchResponse>;

/** The capture step as a local stack hosts it: the handler, and what a (re)start of its follower does first. */
export interface CaptureStep {
  readonly handler: CaptureHandler;
  /** What a (re)started capture does first: see `LocalStack.resumeCapture`. @returns the execution it started */
  readonly resume: () => Promise<string | undefined>;
}

/**
 * Each call's counts, keyed by its response's failure list (one object per call, so calls in
 * flight together never mix): the log line and metrics read them, Lambda reads only the failures.
 */
const lastResults = new WeakMap<object, CaptureResult & { readonly runStarted?: string }>();

/** The capture handler: markers for the batch's changes, a run if none is waiting, its failures reported. */
export function createCaptureHandler(context: CaptureContext, observability: Observability): CaptureHandler {
  return middy<StreamEvent, StreamBatchResponse>(async (event: StreamEvent) => {
    const captured = await captureChanges(context, event.Records);
    // Changes that were all absorbed (a replay after a crash) still ask when markers are pending:
    // their run may have been lost. A request already waiting makes either a read.
    const runStarted =
      captured.markers + captured.flagged > 0
        ? await requestRun(context)
        : captured.stale > 0
          ? await requestRunForPending(context)
          : undefined;
    const result = { ...captured, ...(runStarted ? { runStarted } : {}) };
    const failures = result.failed.map((itemIdentifier) => ({ itemIdentifier }));
    if (failures.length > 0)
      observability.logger.warn('capture could not write some change markers', { failed: result.failed.length });
    lastResults.set(failures, result);
    return { batchItemFailures: failures };
  })
    .use(
      observeTask<StreamEvent, StreamBatchResponse>(observability, 'capture', {
        metricsOf: (event, response) => {
          const result = lastResults.get(response.batchItemFailures);
          return {
            streamRecords: event.Records.length,
            changesCaptured: result?.changes ?? 0,
            captureFailures: response.batchItemFailures.length,
            ...(result?.oldestRecordAgeSeconds !== undefined ? { captureLag: result.oldestRecordAgeSeconds } : {}),
          };
        },
        summaryOf: (response) => {
          const result = lastResults.get(response.batchItemFailures);
          return result
            ? {
                records: result.records,
                changes: result.changes,
                markers: result.markers,
                flagged: result.flagged,
                stale: result.stale,
                failed: result.failed.length,
                ...(result.runStarted ? { runStarted: result.runStarted.split(':').pop() } : {}),
              }
            : undefined;
        },
      }),
    )
    .use(classifyErrors());
}
