/**
 * Clear stage: after the generation is published, clear the pending flag on exactly the
 * items it now reflects, each only if its version token is unchanged (an item edited since
 * it was embedded keeps its flag). Soft-deleted items are deleted the same way. Poison items
 * are recorded with their reason and their flag cleared, so they never block the queue.
 * Finally the writer lease is released.
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
import type { IndexerContext, RunInfo } from './context.ts';
import { keyAttributes } from '../table/items.ts';
import { poisonRecordItem } from '../table/reserved-items.ts';
import { releaseLease, renewLease } from './lease.ts';
import type { MergeResult } from './merge.ts';
import type { ShardEntry } from './run-files.ts';
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

export async function clearFlags(
  context: IndexerContext,
  run: RunInfo,
  merge: Pick<MergeResult, 'clearFile'>,
): Promise<ClearResult> {
  const { config, clients } = context;
  await renewLease(context, run);
  const entries = JSON.parse(readFileSync(path.join(config.efsRoot, merge.clearFile), 'utf8')) as ShardEntry[];
  let cleared = 0;
  let deleted = 0;
  let keptPending = 0;
  let poisonRecorded = 0;
  const condition = {
    ConditionExpression: '#p = :v',
    ExpressionAttributeNames: { '#p': config.pendingAttribute },
  };

  const clearOne = async (entry: ShardEntry): Promise<void> => {
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
      poisonRecorded += 1;
    }
    if (entry.version === 0 || entry.kind === 'gone') return; // no flag to clear
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
        deleted += 1;
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
        cleared += 1;
      }
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      keptPending += 1;
    }
  };

  const progress = reportStageProgress(context, run, 'clear', entries.length, 'flags cleared');
  let settled = 0;
  await forEachConcurrently(entries, CONCURRENCY, async (entry) => {
    await clearOne(entry);
    progress.update(++settled);
  });
  await progress.finish();
  await releaseLease(context, run);
  return { cleared, deleted, keptPending, poisonRecorded };
}
