/** The indexer's own permanent failures (never retried: see `aws/errors.ts`). */
import { PermanentError } from '../aws/errors.ts';

/** The index was built by another model: only a backfill may switch models. */
export class ModelMismatchError extends PermanentError {
  override readonly name = 'ModelMismatchError';
}

/** This run no longer holds the writer lease (it expired and another run took it). */
export class LeaseLostError extends PermanentError {
  override readonly name = 'LeaseLostError';
}
