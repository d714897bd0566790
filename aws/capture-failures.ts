/**
 * The capture step's failure destination: where a stream batch goes once its retries are spent,
 * as Lambda's on-failure message (it names the batch's range of records, not the records). On AWS
 * that is an SQS queue (the stack's `CaptureFailureQueueUrl`); the local stack keeps the same
 * messages in a file. Both are read through {@link FailureDestination}, so `status` counts them and
 * `ddb-faiss capture redrive` re-drives them the same way.
 *
 * @example
 * ```ts
 * const queue = sqsFailureQueue(new SQSClient({ region }), queueUrl);
 * const waiting = await queue.count();
 * for await (const taken of queue.take()) await taken.settle(await tryAgain(taken.message));
 * ```
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** Lambda's on-failure message for a DynamoDB stream batch whose retries were spent. */
export interface StreamFailureMessage {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: { readonly statusCode: number; readonly functionError?: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord?: string;
    readonly approximateArrivalOfLastRecord?: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

/** One message taken from a failure destination for a re-drive. */
export interface TakenFailure {
  /** The message, or undefined when its body is not Lambda's on-failure message for a stream batch. */
  readonly message: StreamFailureMessage | undefined;
  /**
   * What became of it: `'done'` removes it (its records went through, or the stream no longer
   * holds them); `'kept'` leaves it for the next re-drive. A message never settled is kept.
   */
  settle(outcome: 'done' | 'kept'): Promise<void>;
}

/** Where failed stream batches wait: counted by `status`, taken by `ddb-faiss capture redrive`. */
export interface FailureDestination {
  /** Where it is, for people: a queue URL or a file path. */
  readonly where: string;
  /** Messages waiting (including any a re-drive holds at the moment). */
  count(): Promise<number>;
  /**
   * Each waiting message once, in the order they arrived where the destination keeps one.
   * Messages that arrive meanwhile wait for the next re-drive; kept ones are back once the loop ends.
   */
  take(): AsyncIterable<TakenFailure>;
}

/** A failure destination's message body as Lambda's on-failure message, or undefined when it is not one. */
export function parseFailureMessage(body: string): StreamFailureMessage | undefined {
  try {
    const message = JSON.parse(body) as Partial<StreamFailureMessage> | null;
    const range = message?.DDBStreamBatchInfo;
    return typeof range?.streamArn === 'string' &&
      typeof range.shardId === 'string' &&
      typeof range.startSequenceNumber === 'string' &&
      typeof range.endSequenceNumber === 'string'
      ? (message as StreamFailureMessage)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long a message a re-drive took stays hidden from other readers: longer than reading one
 * batch's range again and capturing it (a batch is at most 100 records).
 */
const TAKEN_FOR_SECONDS = 300;
/** Long polling asks every SQS server, so an empty answer means an empty queue, not an unlucky sample. */
const WAIT_SECONDS = 1;

/**
 * The SQS queue Lambda's event source mapping sends failed batches to.
 * Taken messages stay hidden until settled: done ones are deleted, kept ones are made visible
 * again once the re-drive ends (not at once, or the same re-drive would take them again).
 */
export function sqsFailureQueue(sqs: SQSClient, queueUrl: string): FailureDestination {
  return {
    where: queueUrl,
    async count() {
      const { Attributes: counts = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(counts.ApproximateNumberOfMessages ?? 0) + Number(counts.ApproximateNumberOfMessagesNotVisible ?? 0)
      );
    },
    async *take() {
      const held = new Set<string>();
      try {
        for (;;) {
          const { Messages: received = [] } = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 10,
              VisibilityTimeout: TAKEN_FOR_SECONDS,
              WaitTimeSeconds: WAIT_SECONDS,
            }),
          );
          if (received.length === 0) return;
          for (const { Body: body = '', ReceiptHandle: handle = '' } of received) {
            held.add(handle);
            yield {
              message: parseFailureMessage(body),
              async settle(outcome) {
                if (outcome === 'kept') return;
                await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handle }));
                held.delete(handle);
              },
            };
          }
        }
      } finally {
        await Promise.all(
          [...held].map((handle) =>
            sqs.send(
              new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }),
            ),
          ),
        );
      }
    },
  };
}
