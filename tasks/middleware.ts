/** Middleware shared by the indexer's task handlers. */
import type { MiddlewareObj } from '@middy/core';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { TransientError } from '../indexer/errors.ts';

/**
 * Whether an error is worth retrying, by the AWS SDK's own classifier (the one its retry
 * strategy uses): throttling (429, ThrottlingException, ProvisionedThroughputExceeded, ...),
 * 5xx, timeouts, dropped or refused connections, also when wrapped as another error's cause.
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as Parameters<typeof isTransientError>[0];
  return e.name === 'TransientError' || isThrottlingError(e) || isTransientError(e) || isServerError(e);
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
