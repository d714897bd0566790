/**
 * Re-driving the capture step's failure destination (the local stack's failure file, or the SQS
 * queue of a deployed stack): each message names a range of stream records (Lambda's on-failure
 * message for a stream batch); the records are read from the stream again and handed to the
 * capture handler once more. A message whose records all went through is removed; one that fails
 * again stays; one whose records the stream no longer holds (24 hours) is removed and counted as
 * expired, since only a backfill recovers it; one that is not such a message at all stays and is
 * counted as unreadable.
 *
 * @example
 * ```ts
 * const result = await redriveFailures({ destination: failureFile(dataDir), streams, handler, filter });
 * // { messages: 1, redriven: 1, records: 3, stillFailing: 0, expired: 0, unreadable: 0 }
 * ```
 */
import {
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { FailureDestination, StreamFailureMessage } from '../aws/capture-failures.ts';
import type { StreamRecord } from '../indexer/capture.ts';
import { sortableSequence } from '../table/reserved-items.ts';
import type { CaptureHandler } from '../tasks/capture-handler.ts';
import { localLambdaContext } from '../lambda-host/lambda-context.ts';
import { matchesPattern } from '../lambda-host/event-filter.ts';
import { toLambdaRecord } from '../lambda-host/stream-records.ts';

/** What a re-drive did, counted. */
export interface RedriveResult {
  /** Messages taken from the failure destination (those arriving meanwhile wait for the next re-drive). */
  readonly messages: number;
  /** Messages whose records all went through: removed. */
  readonly redriven: number;
  /** Stream records handed to the handler. */
  readonly records: number;
  /** Messages whose records failed again: kept. */
  readonly stillFailing: number;
  /** Messages whose records the stream no longer holds: removed (a backfill recovers them). */
  readonly expired: number;
  /** Messages that are not Lambda's on-failure message for a stream batch: kept, for a person to look at. */
  readonly unreadable: number;
}

/** Empty pages read in a row before an open shard is taken to hold nothing more of a range. */
const EMPTY_PAGES = 3;

/** The records of one message's range, in order, as Lambda's event carries them. */
async function readRange(
  streams: DynamoDBStreamsClient,
  info: StreamFailureMessage['DDBStreamBatchInfo'],
): Promise<StreamRecord[]> {
  const end = sortableSequence(info.endSequenceNumber);
  let { ShardIterator: iterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: info.streamArn,
      ShardId: info.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: info.startSequenceNumber,
    }),
  );
  const records: StreamRecord[] = [];
  let empty = 0;
  while (iterator && empty < EMPTY_PAGES) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    const got = page.Records ?? [];
    empty = got.length === 0 ? empty + 1 : 0;
    for (const record of got) {
      if (sortableSequence(record.dynamodb?.SequenceNumber ?? '') > end) return records;
      records.push(toLambdaRecord(record, info.streamArn));
    }
    iterator = page.NextShardIterator;
  }
  return records;
}

export interface RedriveProps {
  /** Where the failed batches wait. */
  readonly destination: FailureDestination;
  readonly streams: DynamoDBStreamsClient;
  readonly handler: CaptureHandler;
  /** The mapping's filter pattern: records it drops are not handed over again. */
  readonly filter: Readonly<Record<string, unknown>>;
}

/** Re-drives a failure destination, message by message; what a message's outcome was decides whether it stays. */
export async function redriveFailures(props: RedriveProps): Promise<RedriveResult> {
  const counts = { messages: 0, redriven: 0, records: 0, stillFailing: 0, expired: 0, unreadable: 0 };
  for await (const taken of props.destination.take()) {
    counts.messages += 1;
    if (!taken.message) {
      counts.unreadable += 1;
      continue; // never settled: kept
    }
    let batch: StreamRecord[];
    try {
      batch = (await readRange(props.streams, taken.message.DDBStreamBatchInfo)).filter((record) =>
        matchesPattern(props.filter, record),
      );
    } catch (error) {
      if (!(error instanceof TrimmedDataAccessException)) throw error;
      counts.expired += 1;
      await taken.settle('done');
      continue;
    }
    counts.records += batch.length;
    const response =
      batch.length === 0
        ? { batchItemFailures: [] }
        : await props.handler({ Records: batch }, localLambdaContext('ddb-faiss-capture', 300_000));
    const outcome = response.batchItemFailures.length === 0 ? 'done' : 'kept';
    counts[outcome === 'done' ? 'redriven' : 'stillFailing'] += 1;
    await taken.settle(outcome);
  }
  return counts;
}
