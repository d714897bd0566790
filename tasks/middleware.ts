/** Middleware shared by the indexer's task handlers. */
import type { MiddlewareObj } from '@middy/core';
import { isTransient, TransientError } from '../aws/errors.ts';

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
