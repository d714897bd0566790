/**
 * AWS Step Functions' service limits that the local engine enforces, so that a workflow that
 * would break them in AWS breaks the same way locally:
 * - a state's input or output over 256 KiB fails the execution with `States.DataLimitExceeded`,
 *   which no Catch (not even `States.ALL`) handles;
 * - a Standard execution's history holds at most 25,000 events: when event 25,000 would be anything
 *   but `ExecutionSucceeded`, the execution fails there (a Distributed Map's child executions keep
 *   histories of their own, see `map-runs.ts`);
 * - names of state machines and executions: 1 to 80 characters, none of them whitespace,
 *   brackets, wildcards, ``" # % \ ^ | ~ ` $ & , ; : /`` or control characters.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html
 */

/** The largest state input or output, and execution input, in bytes of UTF-8 JSON. */
export const STATE_DATA_LIMIT_BYTES = 256 * 1024;

/** A name Step Functions accepts for a state machine or an execution. */
// eslint-disable-next-line no-control-regex
const AWS_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/u;

export function isValidName(name: string): boolean {
  return AWS_NAME.test(name);
}

/** Why a name is refused, in the service's words. */
export function nameProblem(kind: 'execution' | 'state machine', name: string): string {
  return name.length === 0 || [...name].length > 80
    ? `invalid ${kind} name: it must be 1 to 80 characters long, got ${[...name].length}`
    : `invalid ${kind} name: ${JSON.stringify(name)} contains a character Step Functions does not allow ` +
        '(whitespace, brackets, wildcards, control characters or any of " # % \\ ^ | ~ ` $ & , ; : /)';
}

/** Bytes of a value as the JSON Step Functions would carry. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

/** The failure AWS reports when a state's data is over the limit. */
export function dataLimitExceeded(
  state: string,
  which: 'input' | 'output',
  bytes: number,
): { readonly error: string; readonly cause: string } {
  const what = which === 'output' ? 'returned a result' : 'received an input';
  return {
    error: 'States.DataLimitExceeded',
    cause:
      `The state/task '${state}' ${what} with a size exceeding the maximum number of bytes service limit ` +
      `(${bytes} bytes; the limit is ${STATE_DATA_LIMIT_BYTES}).`,
  };
}

/** The most events a Standard execution's history holds. */
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * The failure recorded as event 25,000. AWS documents that the execution fails there; the error's
 * name is not documented, and `States.Runtime` is this engine's choice (see docs/local-stack.md).
 */
export const historyLimitReached = (): { readonly error: string; readonly cause: string } => ({
  error: 'States.Runtime',
  cause:
    `The execution reached the maximum number of events in its history (${HISTORY_EVENT_LIMIT}). ` +
    'Use a Distributed Map, whose iterations run as child executions with histories of their own.',
});
