/**
 * RedriveExecution, as Step Functions does it for Standard workflows: an execution that did not
 * succeed (failed, aborted, timed out) in the last 14 days goes on from the state that did not
 * succeed, with the input that state was given; the states that succeeded are not run again, and
 * the history goes on under the same ARN after an `ExecutionRedriven` event.
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
 */
import { type RedriveHistoryEvent, redriveState } from '../../asl/redrive-point.ts';
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

/**
 * The state a redrive goes on from (`asl/redrive-point.ts`), with its input; without one (the
 * execution ended before entering any state), the start, with the execution's input.
 */
export function redrivePoint(
  history: readonly HistoryEventRecord[],
  start: { readonly startAt: string; readonly input: string },
): RedrivePoint {
  const from = redriveState(history as readonly RedriveHistoryEvent[]) ?? { state: start.startAt, input: start.input };
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
