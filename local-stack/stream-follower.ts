/**
 * The local stack's event source mapping for the capture step: it follows the items table's
 * stream (DynamoDB Local's) as Lambda's mapping follows a DynamoDB stream on AWS, and calls the
 * same capture handler with the same settings (`CAPTURE_EVENT_SOURCE`) and filter:
 * - shards are read in their lineage's order (a child after its parent is drained), records in
 *   order, at most a batch a call;
 * - a record the filter drops never reaches the handler;
 * - a call that throws is retried, its batch split in two (bisect); a call that reports failed
 *   records is retried from the lowest of them; once the retries are spent, the failed records'
 *   range goes to the failure destination (a JSON-lines file holding Lambda's on-failure messages,
 *   which `ddb-faiss capture redrive` re-drives) and the records behind them carry on;
 * - where it got is checkpointed (a file beside the failure destination) after each batch, so a
 *   restart neither loses records nor replays more than the last batch (which the markers' sequence
 *   numbers absorb).
 * A checkpoint the stream no longer holds (records expired after 24 hours, or the stream was
 * replaced) is named in the state file with the backfill that heals it.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import {
  type FailureDestination,
  parseFailureMessage,
  type StreamFailureMessage,
  type TakenFailure,
} from '../aws/capture-failures.ts';
import { advise } from '../config/advice.ts';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { StreamRecord } from '../indexer/capture.ts';
import { CAPTURE_EVENT_SOURCE, type CaptureHandler } from '../tasks/capture-handler.ts';
import { localLambdaContext } from '../lambda-host/lambda-context.ts';
import { matchesPattern } from '../lambda-host/event-filter.ts';
import { toLambdaRecord } from '../lambda-host/stream-records.ts';

/** Where the follower got, and what it saw: `capture/state.json` under the data directory. */
export interface CaptureState {
  readonly streamArn?: string;
  /** Per shard: the last sequence number handled, and whether the shard is closed and drained. */
  readonly shards: Readonly<Record<string, { readonly after?: string; readonly finished?: true }>>;
  /** Records read, records the filter dropped, batches sent to the failure destination. */
  readonly totals: { readonly records: number; readonly filtered: number; readonly failedBatches: number };
  /** When a batch was last handed to the handler, and how old its oldest record was then. */
  readonly lastCapture?: { readonly at: string; readonly lagSeconds: number };
  /** Whether the last read of every open shard left nothing waiting (the capture lag is then nil). */
  readonly caughtUp?: boolean;
  /** Changes the stream no longer held when the follower came for them: what happened and the remedy. */
  readonly lost?: { readonly at: string; readonly reason: string; readonly remedy: string };
}

/** The capture folder of a data directory: the state (checkpoint) and the failure destination. */
export const captureFiles = (dataDir: string) => ({
  state: path.join(dataDir, 'capture', 'state.json'),
  failures: path.join(dataDir, 'capture', 'failures.jsonl'),
});

/** The follower's state in a data directory, or an empty one. */
export function readCaptureState(dataDir: string): CaptureState {
  const file = captureFiles(dataDir).state;
  if (!existsSync(file)) return { shards: {}, totals: { records: 0, filtered: 0, failedBatches: 0 } };
  return JSON.parse(readFileSync(file, 'utf8')) as CaptureState;
}

/** The failure file's lines, each with Lambda's on-failure message it holds (undefined where it holds none). */
function readFailureLines(file: string): { readonly line: string; readonly message?: StreamFailureMessage }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ({ line, message: parseFailureMessage(line) }));
}

/** The failure file's messages in a data directory. */
export function readFailureMessages(dataDir: string): StreamFailureMessage[] {
  return readFailureLines(captureFiles(dataDir).failures).flatMap(({ message }) => (message ? [message] : []));
}

/**
 * The local failure destination, `capture/failures.jsonl`: a re-drive takes the file aside first
 * (the follower appends new failures to a fresh one meanwhile) and writes back what it kept.
 */
export function failureFile(dataDir: string): FailureDestination {
  const file = captureFiles(dataDir).failures;
  return {
    where: file,
    async count() {
      return readFailureLines(file).length;
    },
    async *take() {
      if (!existsSync(file)) return;
      const taken = `${file}.redriving-${process.pid}`;
      renameSync(file, taken);
      const lines = readFailureLines(taken);
      const done = new Set<number>();
      try {
        for (const [index, { message }] of lines.entries()) {
          yield {
            message,
            async settle(outcome) {
              if (outcome === 'done') done.add(index);
            },
          } satisfies TakenFailure;
        }
      } finally {
        for (const [index, { line }] of lines.entries()) if (!done.has(index)) appendFileSync(file, `${line}\n`);
        rmSync(taken, { force: true });
      }
    },
  };
}

export interface StreamFollowerProps {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly tableName: string;
  readonly handler: CaptureHandler;
  /** The mapping's filter pattern. */
  readonly filter: Readonly<Record<string, unknown>>;
  readonly dataDir: string;
  /** Pause between polls of a stream with nothing new. @default 100 */
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
}

const FUNCTION_NAME = 'ddb-faiss-capture';
const FUNCTION_ARN = `arn:aws:lambda:local:000000000000:function:${FUNCTION_NAME}`;
/** How often the shard list is read again (new shards appear as DynamoDB splits them). */
const SHARD_REFRESH_MS = 5_000;

export class StreamFollower {
  private state: CaptureState;
  private readonly files: ReturnType<typeof captureFiles>;
  private readonly iterators = new Map<string, string>();
  private shards: Shard[] = [];
  private shardsReadAt = 0;
  private currentArn: string | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly props: StreamFollowerProps) {
    this.files = captureFiles(props.dataDir);
    mkdirSync(path.dirname(this.files.state), { recursive: true });
    this.state = readCaptureState(props.dataDir);
  }

  /** Starts following; records already in the stream past the checkpoint come first. */
  start(): void {
    this.loop = this.run();
  }

  /** Stops after the batch in flight, its checkpoint written. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const pollMs = this.props.pollMs ?? 100;
    while (!this.stopped) {
      let worked: boolean;
      try {
        worked = await this.pollOnce();
      } catch (error) {
        if (this.stopped) return;
        this.props.log?.(`capture: reading the stream failed: ${(error as Error).message}`);
        worked = false;
      }
      if (!worked && !this.stopped)
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, pollMs);
        });
    }
  }

  /** One pass over the open shards. @returns whether any records came */
  private async pollOnce(): Promise<boolean> {
    // The table's stream and its shards are read again every few seconds, not at every poll.
    if (!this.currentArn || Date.now() - this.shardsReadAt > SHARD_REFRESH_MS) {
      this.currentArn = await this.streamArn();
      if (this.currentArn) await this.readShards(this.currentArn);
    }
    const streamArn = this.currentArn;
    if (!streamArn) return false;
    let worked = false;
    let behind = false;
    const known = new Set(this.shards.map((shard) => shard.ShardId));
    for (const shard of this.shards) {
      if (this.stopped) break;
      const id = shard.ShardId!;
      if (this.state.shards[id]?.finished) continue;
      // A child shard waits until its parent is drained: a key's records stay in order.
      const parent = shard.ParentShardId;
      if (parent && known.has(parent) && !this.state.shards[parent]?.finished) continue;
      const read = await this.pollShard(streamArn, id);
      worked ||= read.came;
      behind ||= !read.drained;
    }
    // Caught up: every shard's last read left nothing waiting. Saved on a change only.
    if (behind === (this.state.caughtUp ?? true)) this.save({ ...this.state, caughtUp: !behind });
    return worked;
  }

  private async streamArn(): Promise<string | undefined> {
    const { Table } = await this.props.dynamodb.send(new DescribeTableCommand({ TableName: this.props.tableName }));
    const arn = Table?.StreamSpecification?.StreamEnabled ? Table.LatestStreamArn : undefined;
    if (arn && this.state.streamArn !== arn) {
      // A checkpoint in another stream: what was written between the two streams was never captured.
      if (this.state.streamArn) this.noteLost(`the table's stream was replaced (${this.state.streamArn} by ${arn})`);
      this.save({ ...this.state, streamArn: arn, shards: {} });
      this.iterators.clear();
      this.shardsReadAt = 0;
    }
    return arn;
  }

  private async readShards(streamArn: string): Promise<void> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.props.streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    this.shards = shards;
    this.shardsReadAt = Date.now();
  }

  private async iteratorFor(streamArn: string, shardId: string): Promise<string | undefined> {
    const after = this.state.shards[shardId]?.after;
    const get = (position: 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON') =>
      this.props.streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: position,
          ...(position === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: after } : {}),
        }),
      );
    try {
      return (await get(after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON')).ShardIterator;
    } catch (error) {
      if (!(error instanceof TrimmedDataAccessException)) throw error;
      this.noteLost(`records of shard ${shardId} after ${after} expired before they were captured`);
      return (await get('TRIM_HORIZON')).ShardIterator;
    }
  }

  /**
   * Reads one batch of a shard and hands it over.
   * @returns whether records came, and whether the read drained the shard (fewer than a batch came)
   */
  private async pollShard(streamArn: string, shardId: string): Promise<{ came: boolean; drained: boolean }> {
    let iterator = this.iterators.get(shardId) ?? (await this.iteratorFor(streamArn, shardId));
    if (!iterator) return { came: false, drained: true };
    let page;
    try {
      page = await this.props.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: CAPTURE_EVENT_SOURCE.batchSize }),
      );
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)) throw error;
      this.iterators.delete(shardId);
      if (error instanceof TrimmedDataAccessException)
        this.noteLost(`records of shard ${shardId} expired before they were captured`);
      return { came: false, drained: false };
    }
    const records = (page.Records ?? []).map((record) => toLambdaRecord(record, streamArn));
    if (records.length > 0) await this.deliver(streamArn, shardId, records);
    const last = records.at(-1)?.dynamodb?.SequenceNumber;
    const shardState = { ...this.state.shards[shardId], ...(last ? { after: last } : {}) };
    iterator = page.NextShardIterator;
    if (iterator) this.iterators.set(shardId, iterator);
    else this.iterators.delete(shardId);
    if (last || !iterator)
      this.save({
        ...this.state,
        shards: { ...this.state.shards, [shardId]: iterator ? shardState : { ...shardState, finished: true } },
      });
    return { came: records.length > 0, drained: records.length < CAPTURE_EVENT_SOURCE.batchSize };
  }

  /** Filters a batch and calls the handler on the rest, with Lambda's retries, bisection and failure destination. */
  private async deliver(streamArn: string, shardId: string, records: readonly StreamRecord[]): Promise<void> {
    const kept = records.filter((record) => matchesPattern(this.props.filter, record));
    const totals = this.state.totals;
    const oldest = Math.min(...records.map((record) => record.dynamodb?.ApproximateCreationDateTime ?? Infinity));
    this.state = {
      ...this.state,
      totals: {
        ...totals,
        records: totals.records + records.length,
        filtered: totals.filtered + records.length - kept.length,
      },
      lastCapture: {
        at: new Date().toISOString(),
        lagSeconds: Number.isFinite(oldest) ? Math.max(0, Date.now() / 1000 - oldest) : 0,
      },
    };
    const queue: { batch: readonly StreamRecord[]; attempts: number }[] =
      kept.length > 0 ? [{ batch: kept, attempts: 0 }] : [];
    while (queue.length > 0) {
      let { batch, attempts } = queue.shift()!;
      for (;;) {
        const failedFrom = await this.invoke(batch);
        if (failedFrom === undefined) break;
        batch = batch.slice(failedFrom.index);
        if (attempts >= CAPTURE_EVENT_SOURCE.retryAttempts) {
          this.sendToFailureDestination(streamArn, shardId, batch, attempts + 1, failedFrom.threw);
          break;
        }
        attempts += 1;
        // A call that threw is split in two (bisect); a partial failure is retried from its lowest record.
        if (failedFrom.threw && CAPTURE_EVENT_SOURCE.bisectBatchOnError && batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          queue.unshift({ batch: batch.slice(half), attempts });
          batch = batch.slice(0, half);
        }
      }
    }
  }

  /** One call. @returns undefined when every record succeeded, else where the failures start */
  private async invoke(batch: readonly StreamRecord[]): Promise<{ index: number; threw: boolean } | undefined> {
    try {
      const response = await this.props.handler({ Records: batch }, localLambdaContext(FUNCTION_NAME, 300_000));
      const failed = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
      if (failed.length === 0) return undefined;
      const index = batch.findIndex((record) => failed.includes(record.dynamodb?.SequenceNumber ?? ''));
      // An identifier that names no record of the batch fails the whole batch, as in Lambda.
      return { index: Math.max(0, index), threw: false };
    } catch (error) {
      this.props.log?.(`capture: a call failed: ${(error as Error).message}`);
      return { index: 0, threw: true };
    }
  }

  private sendToFailureDestination(
    streamArn: string,
    shardId: string,
    batch: readonly StreamRecord[],
    invokeCount: number,
    threw: boolean,
  ): void {
    const first = batch[0]!.dynamodb;
    const last = batch.at(-1)!.dynamodb;
    const arrival = (seconds: number | undefined) =>
      seconds === undefined ? {} : { time: new Date(seconds * 1000).toISOString() };
    const message: StreamFailureMessage = {
      requestContext: {
        requestId: crypto.randomUUID(),
        functionArn: FUNCTION_ARN,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: invokeCount,
      },
      responseContext: { statusCode: 200, ...(threw ? { functionError: 'Unhandled' } : {}) },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: first!.SequenceNumber!,
        endSequenceNumber: last!.SequenceNumber!,
        ...('time' in arrival(first?.ApproximateCreationDateTime)
          ? { approximateArrivalOfFirstRecord: arrival(first?.ApproximateCreationDateTime).time }
          : {}),
        ...('time' in arrival(last?.ApproximateCreationDateTime)
          ? { approximateArrivalOfLastRecord: arrival(last?.ApproximateCreationDateTime).time }
          : {}),
        batchSize: batch.length,
        streamArn,
      },
    };
    appendFileSync(this.files.failures, `${JSON.stringify(message)}\n`);
    const totals = this.state.totals;
    this.state = { ...this.state, totals: { ...totals, failedBatches: totals.failedBatches + 1 } };
    this.props.log?.(
      `capture: ${batch.length} records (${first!.SequenceNumber} to ${last!.SequenceNumber}) ` +
        `failed ${invokeCount} times: ` +
        `sent to ${this.files.failures}; ${advise('redriveCapture')} tries them again`,
    );
  }

  private noteLost(reason: string): void {
    const lost = {
      at: new Date().toISOString(),
      reason,
      remedy: `a backfill (${advise('backfill')}) indexes the table as it is, recovering what was not captured`,
    };
    this.props.log?.(`capture: ${reason}: ${lost.remedy}`);
    this.save({ ...this.state, lost });
  }

  private save(state: CaptureState): void {
    this.state = state;
    writeFileAtomic(this.files.state, JSON.stringify(state));
  }
}
