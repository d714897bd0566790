/**
 * The Step Functions API the local engine serves, typed with `@aws-sdk/client-sfn`'s own input and
 * output shapes, so the engine answers what the SDK expects (a missing or misnamed field is a type
 * error, not a surprise in a client). The JSON protocol carries timestamps as epoch seconds where
 * the SDK's types hold `Date`s: {@link Wire} maps one to the other.
 *
 * @example
 * ```ts
 * const answer: Wire<DescribeExecutionOutput> = engine.DescribeExecution({ executionArn });
 * ```
 */
import type {
  CreateStateMachineInput,
  CreateStateMachineOutput,
  DescribeExecutionInput,
  DescribeExecutionOutput,
  DescribeMapRunInput,
  DescribeMapRunOutput,
  DescribeStateMachineInput,
  DescribeStateMachineOutput,
  GetExecutionHistoryInput,
  GetExecutionHistoryOutput,
  ListExecutionsInput,
  ListExecutionsOutput,
  ListMapRunsInput,
  ListMapRunsOutput,
  ListStateMachinesInput,
  ListStateMachinesOutput,
  RedriveExecutionInput,
  RedriveExecutionOutput,
  StartExecutionInput,
  StartExecutionOutput,
  StopExecutionInput,
  StopExecutionOutput,
} from '@aws-sdk/client-sfn';

/** An SDK shape as the JSON protocol carries it: each `Date` an epoch-seconds number. */
export type Wire<T> = T extends Date
  ? number
  : T extends readonly (infer Item)[]
    ? Wire<Item>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** Every operation the local engine serves: its input as the SDK sends it, its output as the SDK reads it. */
export interface StepFunctionsApi {
  CreateStateMachine(request: CreateStateMachineInput): Wire<CreateStateMachineOutput>;
  DescribeStateMachine(request: DescribeStateMachineInput): Wire<DescribeStateMachineOutput>;
  ListStateMachines(request: ListStateMachinesInput): Wire<ListStateMachinesOutput>;
  StartExecution(request: StartExecutionInput): Wire<StartExecutionOutput>;
  DescribeExecution(request: DescribeExecutionInput): Wire<DescribeExecutionOutput>;
  ListExecutions(request: ListExecutionsInput): Wire<ListExecutionsOutput>;
  GetExecutionHistory(request: GetExecutionHistoryInput): Wire<GetExecutionHistoryOutput>;
  StopExecution(request: StopExecutionInput): Wire<StopExecutionOutput>;
  RedriveExecution(request: RedriveExecutionInput): Wire<RedriveExecutionOutput>;
  DescribeMapRun(request: DescribeMapRunInput): Wire<DescribeMapRunOutput>;
  ListMapRuns(request: ListMapRunsInput): Wire<ListMapRunsOutput>;
}

export type Operation = keyof StepFunctionsApi;
/** An operation's input, as the SDK sends it. */
export type InputOf<Op extends Operation> = Parameters<StepFunctionsApi[Op]>[0];
/** An operation's output, as the SDK reads it off the wire. */
export type OutputOf<Op extends Operation> = ReturnType<StepFunctionsApi[Op]>;

/** The operations by name, as the `X-Amz-Target` header names them. */
export const OPERATIONS = [
  'CreateStateMachine',
  'DescribeStateMachine',
  'ListStateMachines',
  'StartExecution',
  'DescribeExecution',
  'ListExecutions',
  'GetExecutionHistory',
  'StopExecution',
  'RedriveExecution',
  'DescribeMapRun',
  'ListMapRuns',
] as const satisfies readonly Operation[];

export const isOperation = (name: string): name is Operation => (OPERATIONS as readonly string[]).includes(name);
