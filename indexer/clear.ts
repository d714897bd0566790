/**
 * Clear stage: after the generation is published, clear the pending flag on exactly the
 * items it now reflects, each only if its version token is unchanged (an item edited since
 * it was embedded keeps its flag). Soft-deleted items are deleted the same way. Poison items
 * are recorded with their reason and their flag cleared, so they never block the queue.
 * Finally the writer lease is released.
 *
 * The stage resumes where it stopped: what it has settled is checkpointed on EFS
 * (`runs/<execution>/clear-checkpoint.json`, at most once a second), so a retry after a failure
 * (a request throttled past the SDK's attempts, a timeout) starts after the entries already done,
 * with their counts, rather than from the top of a list of 100,000.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { forEachConcurrently } from '../aws/concurrency.ts';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { IndexerContext, RunInfo } from './context.ts';
import { keyAttributes } from '../table/items.ts';
import { poisonRecordItem } from '../table/reserved-items.ts';
import { releaseLease, renewLease } from './lease.ts';
import type { MergeResult } from './merge.ts';
import { runDir, type ShardEntry } from './run-files.ts';
import { reportStageProgress } from './stage-progress.ts';

export interface ClearResult {
  readonly cleared: number;
  readonly deleted: number;
  /** Items whose token changed since they were embedded: they stay pending for the next run. */
  readonly keptPending: number;
  readonly poisonRecorded: number;
}

// Conditional updates in flight at once: each is one small request, so overlap hides latency.
const CONCURRENCY = 32;
/** The least time between two checkpoint writes. */
const CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * How far a clear got: every entry below `settledBelow` is settled, and so are those listed in
 * `settledAbove` (entries settle out of order, 32 at a time); the counts are theirs.
 */
interface ClearCheckpoint {
  readonly execution: string;
  readonly entries: number;
  readonly settledBelow: number;
  readonly settledAbove: readonly number[];
  readonly counts: ClearResult;
}

/** The checkpoint of a clear of `entries` entries by this run, if an earlier attempt left one. */
function readCheckpoint(file: string, execution: string, entries: number): ClearCheckpoint | undefined {
  try {
    const checkpoint = JSON.parse(readFileSync(file, 'utf8')) as ClearCheckpoint;
    return checkpoint.execution === execution && checkpoint.entries === entries ? checkpoint : undefined;
  } catch {
    return undefined; // none yet (or unreadable: starting over only repeats conditional writes)
  }
}

export async function clearFlags(
  context: IndexerContext,
  run: RunInfo,
  merge: Pick<MergeResult, 'clearFile'>,
): Promise<ClearResult> {
  const { config, clients } = context;
  await renewLease(context, run);
  const entries = JSON.parse(readFileSync(path.join(config.efsRoot, merge.clearFile), 'utf8')) as ShardEntry[];
  const checkpointFile = path.join(config.efsRoot, runDir(run.execution), 'clear-checkpoint.json');
  const resumed = readCheckpoint(checkpointFile, run.execution, entries.length);
  let { cleared, deleted, keptPending, poisonRecorded } = resumed?.counts ?? {
    cleared: 0,
    deleted: 0,
    keptPending: 0,
    poisonRecorded: 0,
  };
  const settled = new Uint8Array(entries.length);
  settled.fill(1, 0, resumed?.settledBelow ?? 0);
  for (const index of resumed?.settledAbove ?? []) settled[index] = 1;
  let settledBelow = resumed?.settledBelow ?? 0;
  let lastCheckpoint = Date.now();
  const checkpoint = (): void => {
    while (settledBelow < entries.length && settled[settledBelow] === 1) settledBelow += 1;
    const settledAbove: number[] = [];
    for (let index = settledBelow; index < entries.length; index++) if (settled[index] === 1) settledAbove.push(index);
    const counts = { cleared, deleted, keptPending, poisonRecorded };
    const record: ClearCheckpoint = {
      execution: run.execution,
      entries: entries.length,
      settledBelow,
      settledAbove,
      counts,
    };
    writeFileAtomic(checkpointFile, JSON.stringify(record));
    lastCheckpoint = Date.now();
  };
  const condition = {
    ConditionExpression: '#p = :v',
    ExpressionAttributeNames: { '#p': config.pendingAttribute },
  };

  /** Settles one entry; what it did is counted by the caller, with the entry marked settled in the same step. */
  const clearOne = async (entry: ShardEntry): Promise<Partial<ClearResult>> => {
    const outcome: { -readonly [K in keyof ClearResult]?: number } = {};
    if (entry.kind === 'poison') {
      await clients.dynamodb.send(
        new PutItemCommand({
          TableName: config.tableName,
          Item: poisonRecordItem(config, {
            group: entry.group,
            id: entry.id,
            reason: entry.reason,
            recordedAt: new Date().toISOString(),
            execution: run.execution,
          }),
        }),
      );
      outcome.poisonRecorded = 1;
    }
    if (entry.version === 0 || entry.kind === 'gone') return outcome; // no flag to clear
    const values = { ':v': { N: String(entry.version) } };
    try {
      if (entry.kind === 'delete') {
        await clients.dynamodb.send(
          new DeleteItemCommand({
            TableName: config.tableName,
            Key: keyAttributes(config, entry),
            ...condition,
            ExpressionAttributeValues: values,
          }),
        );
        outcome.deleted = 1;
      } else {
        await clients.dynamodb.send(
          new UpdateItemCommand({
            TableName: config.tableName,
            Key: keyAttributes(config, entry),
            UpdateExpression: 'REMOVE #p',
            ...condition,
            ExpressionAttributeValues: values,
          }),
        );
        outcome.cleared = 1;
      }
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      outcome.keptPending = 1;
    }
    return outcome;
  };

  const progress = reportStageProgress(context, run, 'clear', entries.length, 'flags cleared');
  const todo = entries.flatMap((entry, index) => (settled[index] === 1 ? [] : [index]));
  let done = entries.length - todo.length;
  progress.update(done);
  try {
    await forEachConcurrently(todo, CONCURRENCY, async (index) => {
      const outcome = await clearOne(entries[index]!);
      cleared += outcome.cleared ?? 0;
      deleted += outcome.deleted ?? 0;
      keptPending += outcome.keptPending ?? 0;
      poisonRecorded += outcome.poisonRecorded ?? 0;
      settled[index] = 1;
      progress.update(++done);
      if (Date.now() - lastCheckpoint >= CHECKPOINT_INTERVAL_MS) checkpoint();
    });
  } finally {
    // Also after a failure: the retry resumes after every entry settled so far.
    checkpoint();
  }
  await progress.finish();
  await releaseLease(context, run);
  return { cleared, deleted, keptPending, poisonRecorded };
}
