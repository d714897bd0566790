/**
 * DynamoDB batch reads and writes of any size: chunked to the service limits (100 keys per
 * BatchGetItem, 25 writes per BatchWriteItem), several requests in flight, and unprocessed
 * keys or writes sent again: at once while each request makes progress (a response of large
 * items holds only some of them), with backoff when one makes none. Eight requests in a row
 * without progress is a TransientError, which the state machine retries. Writes are judged item
 * by item: DynamoDB refuses a whole request for one invalid item (e.g. over 400 KB), so such a
 * request is split and each write reported.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type DynamoDBClient,
  type KeysAndAttributes,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { forEachConcurrently } from './concurrency.ts';
import { TransientError } from './errors.ts';

type Item = Record<string, AttributeValue>;

const KEYS_PER_GET = 100;
const WRITES_PER_BATCH = 25;
const ATTEMPTS = 8;

const backoff = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));

export interface BatchGetOptions {
  readonly consistentRead?: boolean;
  /** Attributes to read, as a projection expression with its names. @default every attribute */
  readonly projection?: { readonly expression: string; readonly names: Record<string, string> };
  /** Requests in flight at once. @default 4 */
  readonly concurrency?: number;
  /**
   * Gives up (with the SDK's AbortError) once this signal aborts: a deadline for a caller that
   * must answer in time. @default none
   */
  readonly abortSignal?: AbortSignal;
}

/** Reads the items with these keys; missing items are simply absent from the result. */
export async function batchGetItems(
  client: DynamoDBClient,
  tableName: string,
  keys: readonly Item[],
  options: BatchGetOptions = {},
): Promise<Item[]> {
  const items: Item[] = [];
  const chunks: Item[][] = [];
  for (let start = 0; start < keys.length; start += KEYS_PER_GET) chunks.push(keys.slice(start, start + KEYS_PER_GET));
  await forEachConcurrently(chunks, options.concurrency ?? 4, async (chunk) => {
    let request: Record<string, KeysAndAttributes> | undefined = {
      [tableName]: {
        Keys: chunk,
        ...(options.consistentRead ? { ConsistentRead: true } : {}),
        ...(options.projection
          ? { ProjectionExpression: options.projection.expression, ExpressionAttributeNames: options.projection.names }
          : {}),
      },
    };
    // A response holds at most 16 MB (the local stand-in about 1 MB): large items come back a few
    // at a time. Only requests that return nothing count against the attempts, and only they wait.
    for (let stalled = 0; request && Object.keys(request).length > 0;) {
      if (stalled === ATTEMPTS)
        throw new TransientError(`BatchGetItem left keys unprocessed after ${stalled} attempts returned nothing`);
      if (stalled > 0) await backoff(stalled);
      const response: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({ RequestItems: request }),
        options.abortSignal ? { abortSignal: options.abortSignal } : {},
      );
      const returned = response.Responses?.[tableName] ?? [];
      for (const item of returned) items.push(item);
      stalled = returned.length > 0 ? 0 : stalled + 1;
      request = response.UnprocessedKeys;
    }
  });
  return items;
}

/** A write DynamoDB refused, by its position in the requests given. */
export interface BatchWriteFailure {
  readonly index: number;
  readonly error: string;
}

/** What a batch write did: how many writes landed, and each one refused. */
export interface BatchWriteResult {
  readonly written: number;
  readonly failed: readonly BatchWriteFailure[];
}

/** DynamoDB's answer for an invalid write; in a batch, one invalid item fails the whole request. */
const isValidationError = (error: unknown): error is Error =>
  (error as { name?: string }).name === 'ValidationException';

/**
 * Writes the requests (no two for one key in a chunk of 25), retrying unprocessed ones. A write
 * DynamoDB refuses (a ValidationException: too large, a key too long, ...) is reported in
 * `failed` and every other write still lands; any other error rejects.
 */
export async function batchWriteItems(
  client: DynamoDBClient,
  tableName: string,
  requests: readonly WriteRequest[],
  concurrency = 8,
): Promise<BatchWriteResult> {
  const writeChunk = async (chunk: readonly WriteRequest[]): Promise<void> => {
    let unprocessed: WriteRequest[] = [...chunk];
    // As for reads: only a request that writes nothing counts against the attempts.
    for (let stalled = 0; unprocessed.length > 0;) {
      if (stalled === ATTEMPTS)
        throw new TransientError(
          `BatchWriteItem left ${unprocessed.length} writes unprocessed after ${stalled} attempts wrote nothing`,
        );
      if (stalled > 0) await backoff(stalled);
      const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: unprocessed } }));
      const left = response.UnprocessedItems?.[tableName] ?? [];
      stalled = left.length < unprocessed.length ? 0 : stalled + 1;
      unprocessed = left;
    }
  };
  const chunks: { start: number; chunk: WriteRequest[] }[] = [];
  for (let start = 0; start < requests.length; start += WRITES_PER_BATCH)
    chunks.push({ start, chunk: requests.slice(start, start + WRITES_PER_BATCH) });
  let written = 0;
  const failed: BatchWriteFailure[] = [];
  await forEachConcurrently(chunks, concurrency, async ({ start, chunk }) => {
    try {
      await writeChunk(chunk);
      written += chunk.length;
      return;
    } catch (error) {
      if (!isValidationError(error)) throw error;
    }
    // One write spoiled the request: write each alone, so only the refused ones are lost.
    for (const [offset, request] of chunk.entries()) {
      try {
        await writeChunk([request]);
        written += 1;
      } catch (error) {
        if (!isValidationError(error)) throw error;
        failed.push({ index: start + offset, error: error.message });
      }
    }
  });
  return { written, failed: failed.sort((a, b) => a.index - b.index) };
}
