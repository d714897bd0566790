/** Middleware shared by the indexer's task handlers. */
import type { MiddlewareObj } from '@middy/core';
import { TransientError } from '../indexer/errors.ts';

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'SlowDown',
  'TimeoutError',
  'RequestTimeout',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Whether an error is worth retrying: throttling, 5xx, timeouts, dropped connections. */
export function isTransient(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  return (
    e.name === 'TransientError' ||
    TRANSIENT_NAMES.has(e.name ?? '') ||
    TRANSIENT_CODES.has(e.code ?? '') ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    Boolean(e.$retryable)
  );
}

/**
 * Renames transient failures to `TransientError` (which the state machine retries with
 * backoff) and leaves every other error as it is (never retried).
 */
export function classifyErrors(): MiddlewareObj {
  return {
    onError: async (request) => {
      const error = request.error;
      if (error && error.name !== 'TransientError' && isTransient(error)) {
        request.error = new TransientError(`${error.name}: ${error.message}`, { cause: error });
      }
    },
  };
}
