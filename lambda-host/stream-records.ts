/**
 * Stream records as Lambda's event source mapping hands them to a function: the Streams API's
 * record, with the stream's ARN and the creation time in epoch seconds (the SDK parses it to a
 * Date). Used wherever this process reads a stream for the capture handler: the local stack's
 * follower and the re-drive of failed batches.
 *
 * @example
 * ```ts
 * const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator }));
 * await handler({ Records: Records.map((record) => toLambdaRecord(record, streamArn)) }, context);
 * ```
 */
import type { _Record as SdkRecord } from '@aws-sdk/client-dynamodb-streams';
import type { StreamRecord } from '../indexer/capture.ts';

/** A stream record as the SDK returns it, in the shape Lambda's event carries. */
export function toLambdaRecord(record: SdkRecord, streamArn: string): StreamRecord & { eventSourceARN: string } {
  const { dynamodb, ...rest } = record;
  const created = dynamodb?.ApproximateCreationDateTime;
  return {
    ...(rest as Omit<StreamRecord, 'dynamodb'>),
    eventSourceARN: streamArn,
    ...(dynamodb
      ? {
          dynamodb: {
            ...(dynamodb as NonNullable<StreamRecord['dynamodb']>),
            ...(created ? { ApproximateCreationDateTime: created.getTime() / 1000 } : {}),
          },
        }
      : {}),
  };
}
