/**
 * RedriveExecution, as Step Functions does it for Standard workflows: an execution that did not
 * succeed (failed, aborted, timed out) in the last 14 days goes on from the state that did not
 * succeed, with the input that state was given; the states that succeeded are not run again, and
 * the history goes on under the same ARN after an `ExecutionRedriven` event.
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
 */
import type { HistoryEventRecord } from './history.ts';
import type { ExecutionRecord } from './execution-store.ts';

/** How long after it ended an execution may be redriven. */
export const REDRIVABLE_PERIOD_MS = 14 * 24 * 3600_000;

/** Why an execution cannot be redriven (Step Functions' `redriveStatusReason`), or nothing when it can. */
export function redriveRefusal(execution: ExecutionRecord, now = Date.now()): string | undefined {
  if (execution.mapRunArn) return 'A Map Run child execution is redriven by redriving its parent execution.';
  if (execution.status === 'RUNNING' || execution.status === 'SUCCEEDED')
    return `Execution is ${execution.status} and cannot be redriven.`;
  if (execution.stopDate !== undefined && now - execution.stopDate > REDRIVABLE_PERIOD_MS)
    return 'Execution redrivable period exceeded.';
  return undefined;
}

/** Where a redrive goes on: the state that did not succeed and the input it was given. */
export interface RedrivePoint {
  readonly state: string;
  readonly input: unknown;
}

const ENDINGS = new Set(['ExecutionFailed', 'ExecutionAborted', 'ExecutionTimedOut']);

/**
 * The top-level state that was entered and never exited before the execution ended, with its input
 * (a Fail state is such a state: a run that a Catch sent there fails there again). Without one (the
 * execution ended before entering any state), the start, with the execution's input.
 */
export function redrivePoint(
  history: readonly HistoryEventRecord[],
  start: { readonly startAt: string; readonly input: string },
): RedrivePoint {
  let open: { state: string; input: string } | undefined;
  let ended: { state: string; input: string } | undefined;
  let depth = 0;
  for (const event of history) {
    const entered = event['stateEnteredEventDetails'] as { name: string; input?: string } | undefined;
    // Only a state that exited succeeded (a Map's failed event names the state too).
    const exited = event.type.endsWith('StateExited')
      ? (event['stateExitedEventDetails'] as { name: string } | undefined)
      : undefined;
    if (entered && depth === 0) open = { state: entered.name, input: entered.input ?? '{}' };
    if (event.type === 'MapStateEntered' || event.type === 'ParallelStateEntered') depth += 1;
    const leaves = ['MapStateExited', 'MapStateFailed', 'ParallelStateExited', 'ParallelStateFailed'];
    if (leaves.includes(event.type)) depth = Math.max(0, depth - 1);
    if (exited && depth === 0 && open?.state === exited.name) open = undefined;
    if (ENDINGS.has(event.type)) {
      ended = open;
      depth = 0;
    }
  }
  const from = ended ?? { state: start.startAt, input: start.input };
  return { state: from.state, input: JSON.parse(from.input) as unknown };
}

type Json = Record<string, unknown>;

/** The states a state can lead to: by Next, Default, a Choice's rules or a Catch. */
function targetsOf(state: Json): string[] {
  const choices = (state['Choices'] as { Next?: string }[] | undefined) ?? [];
  const catches = (state['Catch'] as { Next?: string }[] | undefined) ?? [];
  return [state['Next'], state['Default'], ...choices.map((c) => c.Next), ...catches.map((c) => c.Next)].filter(
    (name): name is string => typeof name === 'string',
  );
}

/**
 * The definition entered at `state`: the same states, but those it can no longer reach left out
 * (the engine, like Step Functions' validation, refuses a definition with unreachable states).
 */
export function enteredAt(definition: Json, state: string): Json {
  const states = definition['States'] as Record<string, Json>;
  const reachable = new Set<string>();
  for (const queue = [state]; queue.length > 0;) {
    const name = queue.pop()!;
    if (reachable.has(name) || !states[name]) continue;
    reachable.add(name);
    queue.push(...targetsOf(states[name]));
  }
  return {
    ...definition,
    StartAt: state,
    States: Object.fromEntries(Object.entries(states).filter(([name]) => reachable.has(name))),
  };
}
