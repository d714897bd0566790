/**
 * The base of every error a person is meant to read: its message is the whole story (what went
 * wrong, in the words of the setting, file or item at fault), `code` names it for scripts and
 * logs, and `hint` says what to do where the message does not. The CLI prints such an error as
 * its message and hint, never a stack trace; anything else is a defect and keeps its stack. An
 * error a search request can cause is a {@link RequestError}: the search API answers with its
 * HTTP status. It lives in `config/`, the layer every other one may import.
 *
 * @example
 * ```ts
 * export class PortInUseError extends UserFacingError {
 *   override readonly name = 'PortInUseError';
 *   readonly code = 'port-in-use';
 * }
 * throw new PortInUseError('port 8000 is in use', { hint: 'pass --http-port 0 for a free one' });
 * ```
 */

/** Options of a {@link UserFacingError}: the cause, and what to do about it. */
export interface UserFacingErrorOptions extends ErrorOptions {
  /** What to do about it, where the message does not already say. */
  readonly hint?: string;
}

/** An error whose message is meant for a person: see the module's TSDoc. */
export abstract class UserFacingError extends Error {
  /** Names what went wrong, stable across releases (kebab-case), for scripts and logs. */
  abstract readonly code: string;
  /** What to do about it, where the message does not already say. */
  readonly hint: string | undefined;

  constructor(message: string, options: UserFacingErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.hint = options.hint;
  }
}

/** A user-facing error a search request can cause, with the HTTP status the search API answers with. */
export abstract class RequestError extends UserFacingError {
  /** The HTTP status: 4xx for what the caller got wrong, 503 for what waiting or an operator mends. */
  abstract readonly status: number;
  /** Response headers that help the caller (e.g. `Retry-After`). */
  get headers(): Readonly<Record<string, string>> {
    return {};
  }
}

/** Whether an error is meant for a person (its message and hint are the whole story). */
export const isUserFacing = (error: unknown): error is UserFacingError => error instanceof UserFacingError;
