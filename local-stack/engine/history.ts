/**
 * Turns aws-local-stepfunctions' event stream into Step Functions history events, shaped as
 * GetExecutionHistory returns them (type names and `*EventDetails` fields), so that the
 * monitor and the CLI read local and AWS histories the same way.
 */
import { HistoryEventType } from '@aws-sdk/client-sfn';
import type { StateMachine } from 'aws-local-stepfunctions';

/** One event of aws-local-stepfunctions' stream (its type is not exported). */
export type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** A history event as the Step Functions JSON protocol carries it (timestamp in epoch seconds). */
export interface HistoryEventRecord {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: HistoryEventType;
  readonly [details: string]: unknown;
}

/** A history event before the engine numbers and timestamps it. */
export type HistoryDraft = { type: HistoryEventType; [details: string]: unknown };

export const json = (value: unknown): string => JSON.stringify(value ?? null);

const EVENT_TYPES = new Set<string>(Object.values(HistoryEventType));

/**
 * The history event a state of `stateType` records as it is entered, exits or fails, when Step
 * Functions records one: a Fail state never exits (the execution fails), and only Map and Parallel
 * states have a failed event of their own (another state's failure is the execution's).
 */
function stateEvent(stateType: string, phase: 'Entered' | 'Exited' | 'Failed'): HistoryEventType | undefined {
  const type = `${stateType}State${phase}`;
  return EVENT_TYPES.has(type) ? (type as HistoryEventType) : undefined;
}
/** An error's cause as a history event carries it: text. */
export const causeText = (cause: unknown): string =>
  typeof cause === 'string' ? cause : cause instanceof Error ? cause.message : JSON.stringify(cause ?? '');

/** Maps one engine event to zero or more history events (without ids/timestamps). */
export function toHistoryEvents(event: EngineEvent, roleArn: string): HistoryDraft[] {
  switch (event.type) {
    case 'ExecutionStarted':
      return [{ type: 'ExecutionStarted', executionStartedEventDetails: { input: json(event.input), roleArn } }];
    case 'ExecutionSucceeded':
      return [{ type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: json(event.output) } }];
    case 'ExecutionFailed':
      return [
        { type: 'ExecutionFailed', executionFailedEventDetails: { error: event.Error, cause: causeText(event.Cause) } },
      ];
    case 'ExecutionAborted':
      return [{ type: 'ExecutionAborted', executionAbortedEventDetails: {} }];
    case 'ExecutionTimeout':
      return [{ type: 'ExecutionTimedOut', executionTimedOutEventDetails: { error: 'States.Timeout' } }];
    case 'StateEntered': {
      const type = stateEvent(event.state.type, 'Entered');
      if (!type) return [];
      const entered: HistoryDraft = {
        type,
        stateEnteredEventDetails: { name: event.state.name, input: json(event.state.input) },
      };
      if (event.state.type !== 'Task') return [entered];
      return [
        entered,
        {
          type: 'LambdaFunctionScheduled',
          lambdaFunctionScheduledEventDetails: { resource: event.state.name, input: json(event.state.input) },
        },
      ];
    }
    case 'StateExited': {
      const type = stateEvent(event.state.type, 'Exited');
      if (!type) return [];
      const exited: HistoryDraft = {
        type,
        stateExitedEventDetails: { name: event.state.name, output: json(event.state.output) },
      };
      if (event.state.type !== 'Task') return [exited];
      return [
        { type: 'LambdaFunctionSucceeded', lambdaFunctionSucceededEventDetails: { output: json(event.state.output) } },
        exited,
      ];
    }
    case 'StateFailed':
      if (event.state.type === 'Task') {
        return [
          {
            type: 'LambdaFunctionFailed',
            lambdaFunctionFailedEventDetails: { error: event.Error, cause: causeText(event.Cause) },
          },
        ];
      }
      {
        const type = stateEvent(event.state.type, 'Failed');
        if (!type) return []; // the execution's failure follows, naming the error
        return [
          {
            type,
            stateExitedEventDetails: {
              name: event.state.name,
              output: json({ Error: event.Error, Cause: causeText(event.Cause) }),
            },
          },
        ];
      }
    case 'StateRetried':
      // AWS shows a retry as the function scheduled again after its failure.
      return [
        {
          type: 'LambdaFunctionScheduled',
          lambdaFunctionScheduledEventDetails: {
            resource: event.state.name,
            input: json(event.state.input),
            retryAttempt: event.retry.attempt,
          },
        },
      ];
    case 'StateCaught':
      return [];
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
      return [{ type: event.type, [key]: { name: event.parentState.name, index: event.index } }];
    }
    case 'ParallelBranchStarted':
    case 'ParallelBranchSucceeded':
    case 'ParallelBranchFailed':
      return [];
  }
}
