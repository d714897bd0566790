/**
 * The error taxonomy of every stage and request, and how AWS SDK errors are classified into it.
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * Errors, named so the state machine's Retry matches them by name (Lambda reports
 * `error.name` as the error type; so does the local engine). `TransientError` is retried
 * with backoff; `PermanentError` (and anything unexpected) is not.
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
}

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
 * Whether S3 answered "no such bucket or key" (404): HeadBucket and HeadObject raise
 * `NotFound`, GetObject `NoSuchKey`. Access denied, throttling or an unreachable endpoint are
 * not "missing" and must be reported.
 */
export function isS3NotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
