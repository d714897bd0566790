/**
 * Clear stage: after the generation is published, clear the pending flag on exactly the
 * items it now reflects, each only if its version token is unchanged (an item edited since
 * it was embedded keeps its flag). Soft-deleted items are deleted the same way. Poison items
 * are recorded with their reason and their flag cleared, so they never block the queue.
 * Finally the writer lease is released.
 *
 * In stream mode the pending version lives on the item's change marker, not on the item: the
 * marker's pending attribute is cleared the same way, and a captured item is never written.
 *
 * Flags are cleared 25 to a request: PartiQL `BatchExecuteStatement`, one conditional `UPDATE`
 * per item (`... REMOVE <flag> WHERE <group> = ? AND <id> = ? AND <flag> = <version>`), each
 * statement judged on its own: a stale version comes back alone as `ConditionalCheckFailed` and
 * the item stays pending; a throttled statement is sent again, alone with the others throttled,
 * after a backoff. Deletes (rare: soft-deleted items) stay conditional `DeleteItem`s.
 *
 * The stage resumes where it stopped: what it has settled is checkpointed in the table (a reserved
 * item, at most once a second), so a retry after a failure (a request throttled past every
 * attempt, a timeout) starts after the entries already done, with their counts, rather than from
 * the top of a list of 100,000.
 *
 * One invocation works for at most {@link CLEAR_INVOCATION_MS}, then checkpoints and answers how far
 * it got; the state machine calls it again (`More to clear?`) until every entry is settled, and only
 * then is the lease released. A backfill's 10M flags are cleared in invocations of minutes, not one
 * that Lambda's 15-minute limit would cut.
 */
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  type BatchStatementRequest,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dynamodbRetryDelay } from '../aws/clients.ts';
import { forEachConcurrently } from '../aws/concurrency.ts';
import { PermanentError, TransientError } from '../aws/errors.ts';
import type { IndexerContext, RunInfo } from './context.ts';
import { keyAttributes } from '../table/items.ts';
import {
  changeMarkerKey,
  CLEAR_CHECKPOINT_KEY,
  clearCheckpointItem,
  poisonRecordItem,
  readClearCheckpointItem,
} from '../table/reserved-items.ts';
import { releaseLease, renewLease } from './lease.ts';
import type { MergeResult } from './merge.ts';
import { type ClearEntry, clearListFile, type ShardEntry } from './run-files.ts';
import { reportStageProgress } from './stage-progress.ts';

export interface ClearResult {
  readonly cleared: number;
  readonly deleted: number;
  /** Items whose token changed since they were embedded: they stay pending for the next run. */
  readonly keptPending: number;
  readonly poisonRecorded: number;
  /**
   * DynamoDB requests the stage made for them (BatchExecuteStatement, DeleteItem, PutItem) over all
   * its invocations, retries included.
   */
  readonly requests?: number;
  /** Every entry settled and the lease released (a result without it is from before clears were bounded). */
  readonly complete?: true;
}

/** A clear that handed the rest of its entries to the next invocation (checkpointed; the lease kept). */
export interface UnfinishedClear {
  readonly complete: false;
  /** Entries settled so far, of `total`. */
  readonly settled: number;
  readonly total: number;
}

/** What one clear invocation answers: the whole stage's counts, or how far it got. */
export type ClearStepResult = ClearResult | UnfinishedClear;

/** Options of {@link clearFlags}. */
export interface ClearOptions {
  /**
   * How long one invocation settles entries before it hands the rest to the next (checkpointed): at
   * least one request's entries are settled whatever the budget.
   * @default CLEAR_INVOCATION_MS
   */
  readonly budgetMs?: number;
}

/**
 * How long one clear invocation works: a backfill of 10M items has 10M flags to clear, hours at a
 * few thousand a second, so the stage goes on in invocations of a few minutes each, far inside
 * Lambda's 15.
 */
export const CLEAR_INVOCATION_MS = 4 * 60_000;

/** Statements per BatchExecuteStatement: DynamoDB's limit. */
export const STATEMENTS_PER_REQUEST = 25;
/** Requests in flight at once: each carries 25 updates, so a few overlap the latency. */
const CONCURRENCY = 8;
/** The least time between two checkpoint writes. */
const CHECKPOINT_INTERVAL_MS = 1_000;
/** Tries of a statement DynamoDB throttles (each request also has the SDK's own attempts). */
const STATEMENT_ATTEMPTS = 8;

/** The error codes of a statement that is worth sending again (DynamoDB's BatchStatementErrorCodeEnum). */
const RETRIED_CODES = new Set([
  'ProvisionedThroughputExceeded',
  'ThrottlingError',
  'RequestLimitExceeded',
  'InternalServerError',
  'TransactionConflict',
]);

/**
 * How far a clear got: every entry below `settledBelow` is settled, and so are those listed in
 * `settledAbove` (entries settle out of order, a request's 25 at a time); the counts are theirs.
 */
interface ClearCheckpoint {
  readonly execution: string;
  readonly entries: number;
  readonly settledBelow: number;
  readonly settledAbove: readonly number[];
  readonly counts: Counts;
  /** The requests made so far (absent in a checkpoint written before clears were bounded). */
  readonly requests?: number;
}

/** A PartiQL identifier: double-quoted, a quote inside doubled. */
const identifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * The statement that clears one item's flag (or, for a captured item, its change marker's) if its
 * version is still the one indexed. A marker keeps its other attributes: its sequence number absorbs
 * replays of records it has seen.
 */
export function clearFlagStatement(
  config: IndexerContext['config'],
  entry: Pick<ShardEntry, 'group' | 'id' | 'version' | 'marker'>,
): BatchStatementRequest {
  const flag = identifier(config.pendingAttribute);
  const key = entry.marker ? changeMarkerKey(entry) : entry;
  return {
    Statement:
      `UPDATE ${identifier(config.tableName)} REMOVE ${flag} ` +
      `WHERE ${identifier(config.groupAttribute)} = ? AND ${identifier(config.idAttribute)} = ? AND ${flag} = ?`,
    Parameters: [{ S: key.group }, { S: key.id }, { N: String(entry.version) }] satisfies AttributeValue[],
  };
}

/** The wait before a throttled statement's next try: the one backoff of every DynamoDB request. */
const pause = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, dynamodbRetryDelay(attempt)));

/**
 * Clears what the merge's clear list names, resuming where an earlier attempt of this run stopped,
 * then releases the writer lease.
 *
 * @example
 * ```ts
 * const { cleared, keptPending, requests } = await clearFlags(context, run, merge);
 * ```
 */
export async function clearFlags(
  context: IndexerContext,
  run: RunInfo,
  merge: Pick<MergeResult, 'windows' | 'clearItems'>,
  options: ClearOptions = {},
): Promise<ClearStepResult> {
  await renewLease(context, run);
  const { config } = context;
  const deadline = Date.now() + (options.budgetMs ?? CLEAR_INVOCATION_MS);
  const resumed = await readCheckpoint(context, run, merge.clearItems);
  const clear = new ClearRun(context, run, { total: merge.clearItems, deadline }, resumed);
  // A clear list at a time (one a merge window): the memory is one list's, whatever the run's size.
  const lists = (function* (): Generator<readonly ClearEntry[]> {
    for (let window = 0; window < merge.windows; window++) {
      const file = path.join(config.efsRoot, clearListFile(run.execution, window));
      yield JSON.parse(readFileSync(file, 'utf8')) as ClearEntry[];
    }
  })();
  const result = await clear.settleAll(lists);
  if (result.complete) await releaseLease(context, run);
  return result;
}

type Counts = { -readonly [K in keyof Omit<ClearResult, 'requests' | 'complete'>]: number };

/** Where an earlier attempt of this run's clear stage got, if it cleared this very list. */
async function readCheckpoint(
  { config, clients }: IndexerContext,
  run: RunInfo,
  entries: number,
): Promise<ClearCheckpoint | undefined> {
  const { Item: saved } = await clients.dynamodb.send(
    new GetItemCommand({
      TableName: config.tableName,
      Key: keyAttributes(config, CLEAR_CHECKPOINT_KEY),
      ConsistentRead: true,
    }),
  );
  const found = readClearCheckpointItem(saved) as ClearCheckpoint | undefined;
  return found?.execution === run.execution && found.entries === entries ? found : undefined;
}

/**
 * One clear stage's work: which entries are settled, their counts, the requests made, the
 * checkpoints. Entries are numbered across the run's clear lists, in order; one list is held at a time.
 */
class ClearRun {
  private readonly counts: Counts;
  /** Requests made for the entries (not the checkpoint's or progress's): the stage's cost. */
  private requests: number;
  private readonly total: number;
  /** When this invocation stops starting requests; it makes at least one. */
  private readonly deadline: number;
  private batchesStarted = 0;
  private readonly settled: Uint8Array;
  private settledBelow: number;
  private lastCheckpoint = 0;
  private checkpoints: Promise<void> = Promise.resolve();
  /** The list being settled, and the number of its first entry. */
  private list: readonly ClearEntry[] = [];
  private offset = 0;

  constructor(
    private readonly context: IndexerContext,
    private readonly run: RunInfo,
    { total, deadline }: { total: number; deadline: number },
    resumed: ClearCheckpoint | undefined,
  ) {
    this.total = total;
    this.deadline = deadline;
    this.counts = { cleared: 0, deleted: 0, keptPending: 0, poisonRecorded: 0, ...resumed?.counts };
    this.requests = resumed?.requests ?? 0;
    this.settled = new Uint8Array(total);
    this.settledBelow = resumed?.settledBelow ?? 0;
    this.settled.fill(1, 0, this.settledBelow);
    for (const index of resumed?.settledAbove ?? []) this.settled[index] = 1;
  }

  /** Settles every entry of the lists not yet settled, a request's worth at a time, checkpointing as it goes. */
  async settleAll(lists: Iterable<readonly ClearEntry[]>): Promise<ClearStepResult> {
    const { total } = this;
    let done = this.settled.reduce((sum, settled) => sum + settled, 0);
    const progress = reportStageProgress(this.context, this.run, 'clear', total, 'flags cleared', done);
    let stopped = false;
    try {
      for (const list of lists) {
        const end = this.offset + list.length;
        if (end > total) throw new PermanentError(`the clear lists hold more than the ${total} entries merge counted`);
        this.list = list;
        const todo: number[] = [];
        for (let index = this.offset; index < end; index++) if (this.settled[index] !== 1) todo.push(index);
        const batches: number[][] = [];
        for (let at = 0; at < todo.length; at += STATEMENTS_PER_REQUEST)
          batches.push(todo.slice(at, at + STATEMENTS_PER_REQUEST));
        await forEachConcurrently(batches, CONCURRENCY, async (batch) => {
          if (this.batchesStarted > 0 && Date.now() >= this.deadline) {
            stopped = true; // the rest is the next invocation's
            return;
          }
          this.batchesStarted += 1;
          await this.settle(batch);
          progress.update((done += batch.length));
          if (Date.now() - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS) this.checkpoint();
        });
        if (stopped) break;
        this.offset = end;
      }
    } finally {
      // Also after a failure: the retry resumes after every entry settled so far.
      this.checkpoint();
      await this.checkpoints;
    }
    await progress.finish();
    if (stopped) return { complete: false, settled: done, total };
    return { ...this.counts, requests: this.requests, complete: true };
  }

  /** The entry numbered `index` (of the list being settled). */
  private entry(index: number): ClearEntry {
    return this.list[index - this.offset]!;
  }

  /** Settles one request's worth of entries: poison records, deletes, then every flag at once. */
  private async settle(batch: readonly number[]): Promise<void> {
    const done: Partial<Counts> = {};
    const add = (count: keyof Counts): void => void (done[count] = (done[count] ?? 0) + 1);
    const flags: number[] = [];
    for (const index of batch) {
      const entry = this.entry(index);
      if (entry.kind === 'poison') {
        await this.recordPoison(entry);
        add('poisonRecorded');
      }
      if (entry.version === 0 || (entry.kind === 'gone' && !entry.marker)) continue; // no flag to clear
      if (entry.kind !== 'delete' || entry.marker) flags.push(index);
      else add(await this.deleteItem(entry));
    }
    if (flags.length > 0)
      for (const [index, outcome] of await this.clearBatch(flags)) {
        // A superseded entry's flag already moved on (a newer version): nothing kept pending for it.
        if (outcome === 'keptPending' && this.entry(index).kind === 'superseded') continue;
        add(outcome);
      }
    // Counted and marked settled in one step: a checkpoint never counts what it does not mark.
    for (const [count, value] of Object.entries(done)) this.counts[count as keyof Counts] += value;
    for (const index of batch) this.settled[index] = 1;
  }

  /** Records a poison item with its reason (`ddb-faiss status` lists them). */
  private async recordPoison(entry: ClearEntry & { kind: 'poison' }): Promise<void> {
    const { config, clients } = this.context;
    this.requests += 1;
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: config.tableName,
        Item: poisonRecordItem(config, {
          group: entry.group,
          id: entry.id,
          reason: entry.reason,
          recordedAt: new Date().toISOString(),
          execution: this.run.execution,
        }),
      }),
    );
  }

  /** Deletes a soft-deleted item, only while its version is the one indexed. */
  private async deleteItem(entry: ClearEntry): Promise<'deleted' | 'keptPending'> {
    const { config, clients } = this.context;
    try {
      this.requests += 1;
      await clients.dynamodb.send(
        new DeleteItemCommand({
          TableName: config.tableName,
          Key: keyAttributes(config, entry),
          ConditionExpression: '#p = :v',
          ExpressionAttributeNames: { '#p': config.pendingAttribute },
          ExpressionAttributeValues: { ':v': { N: String(entry.version) } },
        }),
      );
      return 'deleted';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return 'keptPending';
    }
  }

  /** Clears the flags of these entries, 25 to a request; each statement that is throttled goes again. */
  private async clearBatch(batch: readonly number[]): Promise<Map<number, 'cleared' | 'keptPending'>> {
    const { config, clients } = this.context;
    const outcome = new Map<number, 'cleared' | 'keptPending'>();
    let left = [...batch];
    for (let attempt = 0; left.length > 0; attempt++) {
      if (attempt === STATEMENT_ATTEMPTS)
        throw new TransientError(`${left.length} flag clears were throttled ${STATEMENT_ATTEMPTS} times`);
      if (attempt > 0) await pause(attempt);
      this.requests += 1;
      const { Responses: responses = [] } = await clients.dynamodb.send(
        new BatchExecuteStatementCommand({
          Statements: left.map((index) => clearFlagStatement(config, this.entry(index))),
        }),
      );
      const again: number[] = [];
      left.forEach((index, i) => {
        const error = responses[i]?.Error;
        if (!error) outcome.set(index, 'cleared');
        else if (error.Code === 'ConditionalCheckFailed') outcome.set(index, 'keptPending');
        else if (RETRIED_CODES.has(error.Code ?? '')) again.push(index);
        else {
          const { group, id } = this.entry(index);
          throw new PermanentError(`clearing the flag of ${group}/${id} failed: ${error.Code}: ${error.Message}`);
        }
      });
      left = again;
    }
    return outcome;
  }

  /** Writes where the stage got, in order; a checkpoint that is not written only means more to do again. */
  private checkpoint(): void {
    const { total, settled } = this;
    while (this.settledBelow < total && settled[this.settledBelow] === 1) this.settledBelow += 1;
    const settledAbove: number[] = [];
    for (let index = this.settledBelow; index < total; index++) if (settled[index] === 1) settledAbove.push(index);
    const record: ClearCheckpoint = {
      execution: this.run.execution,
      entries: total,
      settledBelow: this.settledBelow,
      settledAbove,
      counts: { ...this.counts },
      requests: this.requests,
    };
    const { config, clients } = this.context;
    const put = new PutItemCommand({ TableName: config.tableName, Item: clearCheckpointItem(config, record) });
    this.lastCheckpoint = Date.now();
    this.checkpoints = this.checkpoints.then(() =>
      clients.dynamodb.send(put).then(
        () => undefined,
        () => undefined,
      ),
    );
  }
}
