/**
 * Where a redrive goes on, as Step Functions decides it for Standard workflows: from the top-level
 * state that was entered and never exited before the execution ended ("a parent workflow redrives
 * unsuccessful states if there's no `<stateType>Exited` event corresponding to the
 * `<stateType>Entered` event"), with the input that state was given. The local engine redrives from
 * it; the monitor names it before a redrive.
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html
 *
 * @example
 * ```ts
 * redriveState(history); // { state: 'Merge into index', input: '{"run": ...}' }
 * ```
 */

/** The parts of a history event (the SDK's, or as the JSON protocol carries it) the rule reads. */
export interface RedriveHistoryEvent {
  readonly type?: string;
  readonly stateEnteredEventDetails?: { readonly name?: string; readonly input?: string };
  readonly stateExitedEventDetails?: { readonly name?: string };
}

const ENDINGS = new Set(['ExecutionFailed', 'ExecutionAborted', 'ExecutionTimedOut']);
const NESTING = new Set(['MapStateEntered', 'ParallelStateEntered']);
const UNNESTING = new Set(['MapStateExited', 'MapStateFailed', 'ParallelStateExited', 'ParallelStateFailed']);

/**
 * The state a redrive goes on from, and its input, after the last ending in `history`; none when
 * the execution ended before it entered a state (a redrive then starts it again).
 */
export function redriveState(
  history: readonly RedriveHistoryEvent[],
): { readonly state: string; readonly input: string } | undefined {
  let open: { state: string; input: string } | undefined;
  let ended: { state: string; input: string } | undefined;
  let depth = 0;
  for (const event of history) {
    const type = event.type ?? '';
    const entered = event.stateEnteredEventDetails?.name;
    if (entered && depth === 0) open = { state: entered, input: event.stateEnteredEventDetails?.input ?? '{}' };
    if (NESTING.has(type)) depth += 1;
    if (UNNESTING.has(type)) depth = Math.max(0, depth - 1);
    // Only a state that exited succeeded (a Map's failed event names the state too).
    if (type.endsWith('StateExited') && depth === 0 && open?.state === event.stateExitedEventDetails?.name)
      open = undefined;
    if (ENDINGS.has(type)) {
      ended = open;
      depth = 0;
    }
  }
  return ended;
}
