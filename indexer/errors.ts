/**
 * Task errors, named so the state machine's Retry matches them by name (Lambda reports
 * `error.name` as the error type; so does the local engine). `TransientError` is retried
 * with backoff; `PermanentError` (and anything unexpected) is not.
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
}

/** The index was built by another model: only a backfill may switch models. */
export class ModelMismatchError extends PermanentError {
  override readonly name = 'ModelMismatchError';
}

/** This run no longer holds the writer lease (it expired and another run took it). */
export class LeaseLostError extends PermanentError {
  override readonly name = 'LeaseLostError';
}
