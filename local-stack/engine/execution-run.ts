/**
 * One execution as it runs: aws-local-stepfunctions runs the definition while its events are
 * written to the execution's history as Step Functions records them; the limits AWS enforces
 * (state data size, history length) end it as AWS would; at the end its record is settled
 * (succeeded, failed, aborted or timed out). Each step is a method of its own:
 * {@link ExecutionRun.recordHistory}, {@link ExecutionRun.recordEvent}, {@link ExecutionRun.settle}.
 */
import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';
import type { HistoryEventType } from '@aws-sdk/client-sfn';
import type { TaskHandlerRegistry } from '../../tasks/handler.ts';
import {
  dataLimitExceeded,
  HISTORY_EVENT_LIMIT,
  historyLimitReached,
  jsonBytes,
  STATE_DATA_LIMIT_BYTES,
} from './aws-limits.ts';
import { isHelperState, withoutHelperData, withoutHelperDataIn } from './distributed-map.ts';
import type { ExecutionRecord, ExecutionStore, StateMachineRecord } from './execution-store.ts';
import { type EngineEvent, type HistoryDraft, type HistoryEventRecord, toHistoryEvents } from './history.ts';
import { type MapRunListener, type MapRunStore, MapRunTracker } from './map-runs.ts';
import { bindTaskHandlers } from './task-handlers.ts';

type Json = Record<string, unknown>;

/** A definition as written, and as the engine runs it (its Distributed Maps rewritten). */
export interface CheckedDefinition {
  readonly written: Json;
  readonly runnable: Json;
}

/** Why an execution ends other than by its own course. */
interface Ending {
  readonly error?: string;
  readonly cause?: string;
}

/** What an execution runs with. */
export interface ExecutionRunProps {
  readonly machine: StateMachineRecord;
  readonly record: ExecutionRecord;
  readonly definition: CheckedDefinition;
  readonly input: unknown;
  readonly handlers: TaskHandlerRegistry;
  /** Task handler calls not yet settled, of every execution (shutdown waits for them). */
  readonly taskCalls: Set<Promise<unknown>>;
  readonly store: ExecutionStore;
  readonly mapRunStore: MapRunStore;
  readonly listener: MapRunListener;
  /** Called once the record is settled and saved. */
  readonly ended: () => void;
  /**
   * A redrive: the history goes on from `lastEventId`, and the engine's ExecutionStarted is recorded
   * as ExecutionRedriven, as Step Functions records it. @default a new execution
   */
  readonly redrive?: { readonly lastEventId: number; readonly redriveCount: number };
}

const seconds = (ms: number): number => ms / 1000;

/** The failure AWS reports for state data of `bytes`, if that is over the limit. */
const overLimit = (state: string, which: 'input' | 'output', bytes: number) =>
  bytes > STATE_DATA_LIMIT_BYTES ? dataLimitExceeded(state, which, bytes) : undefined;

/** The same for a Task's input or result, before it is serialized (a Task is checked before the engine moves on). */
function oversized(state: string, which: 'input' | 'output', value: unknown) {
  // The Distributed Map helpers carry the items and results that, on AWS, never enter the state data.
  if (isHelperState(state)) return undefined;
  return overLimit(state, which, jsonBytes(withoutHelperData(value)));
}

/** The same for the state data that history events (already serialized) carry. */
function oversizedInHistory(drafts: readonly HistoryDraft[]) {
  for (const draft of drafts) {
    const entered = draft['stateEnteredEventDetails'] as { name: string; input: string } | undefined;
    const exited = draft['stateExitedEventDetails'] as { name: string; output: string } | undefined;
    const failure =
      (entered && overLimit(entered.name, 'input', Buffer.byteLength(entered.input))) ||
      (exited && overLimit(exited.name, 'output', Buffer.byteLength(exited.output)));
    if (failure) return failure;
  }
  return undefined;
}

/** The error and cause of a failed execution, from the engine's error. */
function failureOf(error: unknown): { Error: string; Cause: string } {
  // ExecutionError wraps the state's error as `cause`.
  const inner = (error as { cause?: unknown }).cause;
  const source = inner instanceof Error ? inner : (error as Error);
  const cause = (source as { cause?: unknown }).cause;
  return {
    Error: source.name || 'States.Runtime',
    Cause: typeof cause === 'string' ? cause : source.message,
  };
}

export class ExecutionRun {
  /** Resolves once the execution has ended and its record is saved. */
  readonly done: Promise<void>;
  private readonly execution: ReturnType<StateMachine['run']>;
  private readonly tracker: MapRunTracker;
  private eventId = 0;
  /** Set by StopExecution or shutdown: the execution ends ABORTED, with this error and cause. */
  private stopping?: Ending;
  /** Set when a state's data or the history broke a limit: the execution ends FAILED with it. */
  private failing?: { readonly error: string; readonly cause: string };

  constructor(private readonly props: ExecutionRunProps) {
    const { machine, record, definition, input } = props;
    const engine = new StateMachine(definition.runnable as never, { validationOptions: { checkArn: false } });
    this.execution = engine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: bindTaskHandlers(
          definition.runnable,
          props.handlers,
          props.taskCalls,
          (state, which, value) => this.checkTaskData(state, which, value),
        ) as never,
      },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          Input: input as never,
          StartTime: new Date(record.startDate).toISOString(),
          RoleArn: machine.roleArn,
        },
        StateMachine: { Id: machine.stateMachineArn, Name: machine.name },
      },
    });
    this.tracker = new MapRunTracker(
      { executionArn: record.executionArn, roleArn: machine.roleArn },
      definition.written['States'] as Record<string, Json>,
      props.mapRunStore,
      props.listener,
    );
    this.eventId = props.redrive?.lastEventId ?? 0;
    this.done = this.follow();
  }

  /** Stops the execution: it ends ABORTED with the error and cause given. */
  stop(ending: Ending): void {
    this.stopping = ending;
    this.execution.abort();
  }

  private async follow(): Promise<void> {
    await this.recordHistory();
    await this.settle();
    this.props.store.saveExecution(this.props.machine.name, this.props.record);
    this.props.ended();
  }

  /**
   * A Task's data over the limit ends the execution at once, before the engine goes on; other
   * states' data is checked as their events arrive ({@link recordEvent}).
   */
  private checkTaskData(state: string, which: 'input' | 'output', value: unknown): void {
    const failure = oversized(state, which, value);
    if (!failure) return;
    this.fail(failure);
    throw Object.assign(new Error(failure.cause), { name: failure.error });
  }

  /** Ends the execution FAILED with the first limit it broke. */
  private fail(failure: { readonly error: string; readonly cause: string }): void {
    this.failing ??= failure;
    this.execution.abort();
  }

  /** Writes every event of the engine's stream to the history (the engine waits on its consumer). */
  private async recordHistory(): Promise<void> {
    for await (const event of this.execution.eventLogs) this.recordEvent(event);
  }

  private recordEvent(event: EngineEvent): void {
    if (this.failing) {
      // Only the end of the execution remains to record: failed, with the limit it broke.
      if (event.type.startsWith('Execution') && event.type !== 'ExecutionStarted')
        this.append('ExecutionFailed', { executionFailedEventDetails: this.failing }, event.timestamp);
      return;
    }
    // A Distributed Map's iterations go to child executions, with their own histories.
    const routed = this.tracker.take(event);
    // The Distributed Map helpers are local plumbing: AWS's history has no such states.
    if (!routed && 'state' in event && isHelperState(event.state.name)) return;
    const drafts = routed ?? toHistoryEvents(withoutHelperDataIn(event), this.props.machine.roleArn);
    // A state's data is measured as its history event carries it, serialized once.
    const failure = oversizedInHistory(drafts);
    if (failure) return this.fail(failure);
    for (const { type, ...details } of drafts) {
      if (type === 'ExecutionStarted' && this.props.redrive) {
        const redriven = { executionRedrivenEventDetails: { redriveCount: this.props.redrive.redriveCount } };
        this.append('ExecutionRedriven', redriven, event.timestamp);
        continue;
      }
      // Event 25,000 may only end the execution successfully; anything else fails it there.
      if (this.eventId >= HISTORY_EVENT_LIMIT - 1 && type !== 'ExecutionSucceeded')
        return this.fail(historyLimitReached());
      if (type === 'ExecutionAborted' && this.stopping)
        Object.assign(details, { executionAbortedEventDetails: this.stopping });
      this.append(type, details, event.timestamp);
    }
  }

  private append(type: HistoryEventType, details: Json, timestampMs = Date.now()): void {
    this.eventId += 1;
    const event: HistoryEventRecord = {
      id: this.eventId,
      previousEventId: this.eventId - 1,
      timestamp: seconds(timestampMs),
      type,
      ...details,
    };
    this.props.store.appendHistory(this.props.machine.name, this.props.record.name, event);
  }

  /** The record's outcome: the engine's result, unless a limit or a stop decided otherwise. */
  private async settle(): Promise<void> {
    const { record } = this.props;
    try {
      const output = await this.execution.result;
      // The engine may have finished before the oversized data's event was read.
      if (this.failing) throw new Error(this.failing.cause);
      record.status = 'SUCCEEDED';
      record.output = JSON.stringify(output ?? null);
    } catch (error) {
      if (this.failing) {
        record.status = 'FAILED';
        record.error = this.failing.error;
        record.cause = this.failing.cause;
      } else if (error instanceof ExecutionAbortedError || this.stopping) {
        record.status = 'ABORTED';
        record.error = this.stopping?.error;
        record.cause = this.stopping?.cause;
      } else {
        const { Error: errorName, Cause } = failureOf(error);
        record.status = (error as Error).name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
        record.error = errorName;
        record.cause = Cause;
      }
    }
    record.stopDate = Date.now();
    this.tracker.close(record.status);
  }
}
