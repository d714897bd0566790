/**
 * Plan stage: with the writer lease held (taken by the run's first stage), page through the
 * pending items (the sparse GSI: flagged items and, in stream mode, change markers standing for
 * their items; for a backfill, the whole table) in parallel scan segments, cutting batches of
 * `batchSize` keys into batch files as it goes: memory holds at most one page and one
 * partial batch per segment, never every pending item. Incremental runs stop at
 * `maxItemsPerRun`; the rest waits for the next run. The batch descriptors go to S3 as one list
 * (`indexer/batch-list.ts`), which the Embed Map reads: the state data carries only counts.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { IndexerContext, RunInfo } from './context.ts';
import { readKey, readVersion, type VersionedKey } from '../table/items.ts';
import { isReservedKey, itemOfChangeMarker } from '../table/reserved-items.ts';
import { takeRunRequest } from './capture.ts';
import { releaseLease, renewLease } from './lease.ts';
import { type BatchDescriptor, removeStaleRuns, writeBatch } from './run-files.ts';
import { type BatchList, writeBatchList } from './batch-list.ts';
import { checkPublishedIndex } from '../index-store/generations.ts';

export interface PlanResult {
  readonly batchCount: number;
  readonly itemCount: number;
  /** The batch descriptors on S3, for the Embed Map's ItemReader (none when nothing is pending). */
  readonly batchList?: BatchList;
  /** Whether more pending items remain than this run takes. */
  readonly capped: boolean;
  /** Age of the oldest pending item seen, from its version token (when it is a ddb-faiss timestamp). */
  readonly oldestPendingAgeSeconds?: number;
}

/** Version tokens from {@link newVersionToken} are microseconds since the epoch: later than 2001. */
const TIMESTAMP_TOKEN_MIN = 1e15;

const SEGMENTS = 4;
const PAGE_SIZE = 1000;
const STALE_RUN_MS = 6 * 60 * 60 * 1000;

export async function planRun(context: IndexerContext, run: RunInfo): Promise<PlanResult> {
  const { config, clients } = context;
  await renewLease(context, run);
  removeStaleRuns(config.efsRoot, run.execution, STALE_RUN_MS);

  const backfill = run.mode === 'backfill';
  // A damaged index fails an incremental run here, naming the file, even when nothing is pending;
  // a backfill rebuilds it whatever its state, so it does not look.
  if (!backfill) checkPublishedIndex(config.efsRoot, config.indexLayout === 'per-group');
  // Before reading what is pending: a change captured from now on asks for the next run.
  await takeRunRequest(context);
  const limit = backfill ? Number.POSITIVE_INFINITY : config.maxItemsPerRun;
  const batches: BatchDescriptor[] = [];
  let taken = 0;
  let capped = false;
  let oldestToken = Number.POSITIVE_INFINITY;
  let pending: VersionedKey[] = [];
  const cut = (force: boolean): void => {
    while (pending.length >= config.batchSize || (force && pending.length > 0)) {
      batches.push(writeBatch(config.efsRoot, run.execution, batches.length + 1, pending.slice(0, config.batchSize)));
      pending = pending.slice(config.batchSize);
    }
  };

  const scanSegment = async (segment: number): Promise<void> => {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await clients.dynamodb.send(
        new ScanCommand({
          TableName: config.tableName,
          ...(backfill ? {} : { IndexName: config.pendingIndexName }),
          ProjectionExpression: '#g, #i, #p',
          ExpressionAttributeNames: {
            '#g': config.groupAttribute,
            '#i': config.idAttribute,
            '#p': config.pendingAttribute,
          },
          Segment: segment,
          TotalSegments: SEGMENTS,
          Limit: PAGE_SIZE,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const read = readKey(config, item);
        // A change marker (stream mode) stands for its item; every other reserved item is ddb-faiss's own.
        const marked = read && !backfill ? itemOfChangeMarker(read) : undefined;
        const key = marked ?? read;
        if (!key || isReservedKey(key)) continue;
        if (taken >= limit) {
          capped = true;
          return;
        }
        taken += 1;
        const version = readVersion(config, item);
        if (version >= TIMESTAMP_TOKEN_MIN) oldestToken = Math.min(oldestToken, version);
        pending.push({ ...key, version, ...(marked ? { marker: true } : {}) });
      }
      cut(false);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  };
  await Promise.all(Array.from({ length: SEGMENTS }, (_, segment) => scanSegment(segment)));
  cut(true);

  if (batches.length === 0) await releaseLease(context, run);
  // The list goes to S3, not into the state data: its size grows with the run.
  const batchList = batches.length > 0 ? { batchList: await writeBatchList(context, run, batches) } : {};
  const oldest =
    Number.isFinite(oldestToken) && !backfill
      ? { oldestPendingAgeSeconds: Math.max(0, Math.round((Date.now() - oldestToken / 1000) / 1000)) }
      : {};
  return { batchCount: batches.length, itemCount: taken, ...batchList, capped, ...oldest };
}
