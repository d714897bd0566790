/**
 * A Step Functions service in one process: state machines and executions with persisted
 * histories, executions run in the background by aws-local-stepfunctions (`execution-run.ts`).
 * Its operations take and return `@aws-sdk/client-sfn`'s own shapes as the JSON protocol carries
 * them (`api.ts`); `sfn-endpoint.ts` serves them over HTTP so the SDK works against it unchanged.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { randomUUID } from 'node:crypto';
import { notFound, invalid } from './errors.ts';
import { type ExecutionRecord, ExecutionStore, type StateMachineRecord } from './execution-store.ts';
import type { HistoryEventRecord } from './history.ts';
import type { TaskHandler, TaskHandlerRegistry } from '../../tasks/handler.ts';
import { bindTaskHandlers } from './task-handlers.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { distributedMapHandlers, rewriteDistributedMaps } from './distributed-map.ts';
import { isValidName, nameProblem, STATE_DATA_LIMIT_BYTES } from './aws-limits.ts';
import { type MapRunRecord, MapRunStore } from './map-runs.ts';
import { type CheckedDefinition, ExecutionRun, type ExecutionRunProps } from './execution-run.ts';
import { enteredAt, redrivePoint, redriveRefusal } from './redrive.ts';
import type { ExecutionListItem } from '@aws-sdk/client-sfn';
import type { InputOf, OutputOf, StepFunctionsApi, Wire } from './api.ts';

type Json = Record<string, unknown>;
const ACCOUNT = '000000000000';

/** Options of {@link LocalStepFunctions}. */
export interface LocalStepFunctionsProps {
  /** Folder for state machines, executions and histories. */
  readonly directory: string;
  readonly region: string;
  /** Task handlers by Lambda function name. */
  readonly handlers: TaskHandlerRegistry;
  /**
   * The S3 a Distributed Map's ItemReader and ResultWriter use (resolved when a run needs it:
   * the stack creates its clients after the engine). @default none: such a Map fails
   */
  readonly s3?: () => S3Client;
}

const seconds = (ms: number): number => ms / 1000;

export class LocalStepFunctions implements StepFunctionsApi {
  private readonly store: ExecutionStore;
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, ExecutionRun>();
  private readonly mapRunStore: MapRunStore;
  private readonly mapRuns = new Map<string, MapRunRecord>();
  /** The child executions of the Map Runs still running, by ARN (an ended run's are read from disk). */
  private readonly children = new Map<string, ExecutionRecord>();
  /** Task handler calls not yet settled, of every execution. */
  private readonly taskCalls = new Set<Promise<unknown>>();

  /** The Distributed Map helpers' handlers. */
  private readonly helpers: Map<string, TaskHandler>;

  constructor(private readonly props: LocalStepFunctionsProps) {
    this.store = new ExecutionStore(props.directory);
    const s3 = () => {
      if (!props.s3) throw new Error('this local Step Functions has no S3 for ItemReader/ResultWriter');
      return props.s3();
    };
    this.helpers = distributedMapHandlers(s3);
    this.mapRunStore = new MapRunStore(props.directory);
    for (const run of this.mapRunStore.loadAll()) {
      if (run.status === 'RUNNING') {
        // Its execution can no longer finish it (see abortOrphan).
        run.status = 'ABORTED';
        run.stopDate = Date.now();
        this.mapRunStore.save(run);
      }
      this.mapRuns.set(run.mapRunArn, run);
    }
    for (const machine of this.store.loadStateMachines()) {
      this.machines.set(machine.stateMachineArn, machine);
      for (const execution of this.store.loadExecutions(machine.name)) {
        if (execution.status === 'RUNNING') this.abortOrphan(machine, execution);
        this.executions.set(execution.executionArn, execution);
      }
    }
  }

  /** An execution left RUNNING by a stopped process can never finish: record that. */
  private abortOrphan(machine: StateMachineRecord, execution: ExecutionRecord): void {
    const history = this.store.loadHistory(machine.name, execution.name);
    const last = history.at(-1);
    execution.status = 'ABORTED';
    execution.stopDate = Date.now();
    execution.error = 'States.Runtime';
    execution.cause = 'the local stack stopped while this execution was running';
    this.store.appendHistory(machine.name, execution.name, {
      id: (last?.id ?? 0) + 1,
      previousEventId: last?.id ?? 0,
      timestamp: seconds(execution.stopDate),
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: execution.error, cause: execution.cause },
    });
    this.store.saveExecution(machine.name, execution);
  }

  /** Creates a state machine, or updates its definition when it exists (idempotent deploy). */
  createOrUpdateStateMachine(
    name: string,
    definition: string,
    roleArn = `arn:aws:iam::${ACCOUNT}:role/ddb-faiss-local`,
  ): StateMachineRecord {
    if (!isValidName(name)) throw invalid('InvalidName', nameProblem('state machine', name));
    this.checkDefinition(definition);
    const stateMachineArn = `arn:aws:states:${this.props.region}:${ACCOUNT}:stateMachine:${name}`;
    const existing = this.machines.get(stateMachineArn);
    const record: StateMachineRecord = {
      name,
      stateMachineArn,
      definition,
      roleArn,
      type: 'STANDARD',
      creationDate: existing?.creationDate ?? Date.now(),
    };
    this.machines.set(stateMachineArn, record);
    this.store.saveStateMachine(record);
    return record;
  }

  /** The task handlers (the stack adds some after the engine exists) and the helpers'. */
  private get registry(): TaskHandlerRegistry {
    return new Map([...this.helpers, ...this.props.handlers]);
  }

  /**
   * The definition as written, and as the engine runs it (Distributed Maps rewritten), once it is
   * valid and every Task has a handler.
   */
  private checkDefinition(definition: string): CheckedDefinition {
    let written: Json;
    try {
      written = JSON.parse(definition) as Json;
      new StateMachine(written as never, { validationOptions: { checkArn: false } });
    } catch (error) {
      throw invalid('InvalidDefinition', `invalid definition: ${(error as Error).message}`);
    }
    const runnable = rewriteDistributedMaps(written);
    bindTaskHandlers(runnable, this.registry);
    return { written, runnable };
  }

  private machine(arn: string): StateMachineRecord {
    const machine = this.machines.get(arn);
    if (!machine) throw notFound('StateMachine', arn);
    return machine;
  }

  private execution(arn: string): ExecutionRecord {
    const execution = this.executions.get(arn) ?? this.child(arn);
    if (!execution) throw notFound('Execution', arn);
    return execution;
  }

  private mapRun(arn: string): MapRunRecord {
    const run = this.mapRuns.get(arn);
    if (!run) throw invalid('ResourceNotFound', `Map Run does not exist: ${arn}`);
    return run;
  }

  /** The children of a Map Run: a running one's from memory, an ended one's from disk. */
  private childrenOf(run: MapRunRecord): ExecutionRecord[] {
    if (run.status !== 'RUNNING') return this.mapRunStore.loadChildren(run.mapRunArn);
    return [...this.children.values()].filter((child) => child.mapRunArn === run.mapRunArn);
  }

  /** Keeps a running Map Run's children at hand; an ended run's are all on disk, and leave memory. */
  private mapRunChanged(run: MapRunRecord): void {
    this.mapRuns.set(run.mapRunArn, run);
    if (run.status === 'RUNNING') return;
    for (const [arn, child] of this.children) if (child.mapRunArn === run.mapRunArn) this.children.delete(arn);
  }

  /** A child execution by ARN (`execution:<machine>/<Map>:<name>`), read back from its Map Run if need be. */
  private child(arn: string): ExecutionRecord | undefined {
    const known = this.children.get(arn);
    if (known) return known;
    const machine = arn.replace(':execution:', ':stateMachine:').replace(/:[^:]*$/, '');
    for (const run of this.mapRuns.values()) {
      if (run.stateMachineArn !== machine) continue;
      const found = this.childrenOf(run).find((child) => child.executionArn === arn);
      if (found) return found;
    }
    return undefined;
  }

  // --- API operations -------------------------------------------------------------------

  CreateStateMachine(request: InputOf<'CreateStateMachine'>): OutputOf<'CreateStateMachine'> {
    const record = this.createOrUpdateStateMachine(request.name ?? '', request.definition ?? '', request.roleArn);
    return { stateMachineArn: record.stateMachineArn, creationDate: seconds(record.creationDate) };
  }

  DescribeStateMachine(request: InputOf<'DescribeStateMachine'>): OutputOf<'DescribeStateMachine'> {
    const machine = this.machine(String(request.stateMachineArn));
    return {
      stateMachineArn: machine.stateMachineArn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definition,
      roleArn: machine.roleArn,
      type: machine.type,
      creationDate: seconds(machine.creationDate),
    };
  }

  ListStateMachines(): OutputOf<'ListStateMachines'> {
    return {
      stateMachines: [...this.machines.values()].map((machine) => ({
        stateMachineArn: machine.stateMachineArn,
        name: machine.name,
        type: machine.type,
        creationDate: seconds(machine.creationDate),
      })),
    };
  }

  StartExecution(request: InputOf<'StartExecution'>): OutputOf<'StartExecution'> {
    const machine = this.machine(String(request.stateMachineArn));
    const name = request.name ?? randomUUID();
    if (!isValidName(name)) throw invalid('InvalidName', nameProblem('execution', name));
    const inputText = request.input ?? '{}';
    if (Buffer.byteLength(inputText, 'utf8') > STATE_DATA_LIMIT_BYTES)
      throw invalid(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: ` +
          `Member must have length less than or equal to ${STATE_DATA_LIMIT_BYTES}`,
      );
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch {
      throw invalid('InvalidExecutionInput', 'execution input is not valid JSON');
    }
    const executionArn = `arn:aws:states:${this.props.region}:${ACCOUNT}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.input === inputText && existing.status === 'RUNNING')
        return { executionArn, startDate: seconds(existing.startDate) };
      throw invalid('ExecutionAlreadyExists', `execution already exists: ${executionArn}`);
    }
    const definition = this.checkDefinition(machine.definition);
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      input: inputText,
    };
    this.executions.set(executionArn, record);
    this.store.saveExecution(machine.name, record);
    this.run(machine, record, definition, input);
    return { executionArn, startDate: seconds(record.startDate) };
  }

  private run(
    machine: StateMachineRecord,
    record: ExecutionRecord,
    definition: CheckedDefinition,
    input: unknown,
    redrive?: ExecutionRunProps['redrive'],
  ): void {
    const run = new ExecutionRun({
      machine,
      record,
      definition,
      input,
      ...(redrive ? { redrive } : {}),
      handlers: this.registry,
      taskCalls: this.taskCalls,
      store: this.store,
      mapRunStore: this.mapRunStore,
      listener: {
        mapRunChanged: (changed) => this.mapRunChanged(changed),
        childChanged: (child) => this.children.set(child.executionArn, child),
      },
      ended: () => this.running.delete(record.executionArn),
    });
    this.running.set(record.executionArn, run);
  }

  /**
   * Redrives an execution that did not succeed: it goes on from the state that did not succeed, with
   * that state's input, under the same ARN (see `redrive.ts`).
   */
  RedriveExecution(request: InputOf<'RedriveExecution'>): OutputOf<'RedriveExecution'> {
    const execution = this.execution(String(request.executionArn));
    const refusal = redriveRefusal(execution);
    if (refusal) throw invalid('ExecutionNotRedrivable', refusal);
    const machine = this.machine(execution.stateMachineArn);
    const history = this.store.loadHistory(machine.name, execution.name);
    const written = JSON.parse(machine.definition) as Json;
    const from = redrivePoint(history, { startAt: String(written['StartAt']), input: execution.input });
    // The same definition, entered at the state that did not succeed (Distributed Maps rewritten after).
    const definition = this.checkDefinition(JSON.stringify(enteredAt(written, from.state)));
    execution.status = 'RUNNING';
    execution.redriveCount = (execution.redriveCount ?? 0) + 1;
    execution.redriveDate = Date.now();
    delete execution.stopDate;
    delete execution.output;
    delete execution.error;
    delete execution.cause;
    this.store.saveExecution(machine.name, execution);
    this.run(machine, execution, definition, from.input, {
      lastEventId: history.at(-1)?.id ?? 0,
      redriveCount: execution.redriveCount,
    });
    return { redriveDate: seconds(execution.redriveDate) };
  }

  DescribeExecution(request: InputOf<'DescribeExecution'>): OutputOf<'DescribeExecution'> {
    const execution = this.execution(String(request.executionArn));
    const refusal = redriveRefusal(execution);
    return {
      ...executionListItem(execution),
      redriveCount: execution.redriveCount ?? 0,
      redriveStatus: refusal ? 'NOT_REDRIVABLE' : 'REDRIVABLE',
      ...(refusal ? { redriveStatusReason: refusal } : {}),
      input: execution.input,
      ...(execution.output !== undefined ? { output: execution.output } : {}),
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
    };
  }

  ListExecutions(request: InputOf<'ListExecutions'>): OutputOf<'ListExecutions'> {
    const { statusFilter, mapRunArn } = request;
    if ((mapRunArn === undefined) === (request.stateMachineArn === undefined))
      throw invalid('ValidationException', 'give exactly one of stateMachineArn and mapRunArn');
    // A Map Run's children are listed by its ARN, and never among their parent machine's executions.
    const machineArn = mapRunArn ? undefined : this.machine(String(request.stateMachineArn)).stateMachineArn;
    const candidates = mapRunArn
      ? this.childrenOf(this.mapRun(mapRunArn))
      : [...this.executions.values()].filter((execution) => execution.stateMachineArn === machineArn);
    const all = candidates
      .filter((execution) => !statusFilter || execution.status === statusFilter)
      .sort((a, b) => b.startDate - a.startDate || b.name.localeCompare(a.name));
    const { page, nextToken } = paginate(all, request);
    return {
      executions: page.map(executionListItem),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  GetExecutionHistory(request: InputOf<'GetExecutionHistory'>): OutputOf<'GetExecutionHistory'> {
    const execution = this.execution(String(request.executionArn));
    let events = execution.mapRunArn
      ? this.mapRunStore.loadChildHistory(execution.mapRunArn, execution.name)
      : this.store.loadHistory(this.machine(execution.stateMachineArn).name, execution.name);
    if (request.includeExecutionData === false) events = events.map(withoutData);
    if (request.reverseOrder === true) events = events.reverse();
    const { page, nextToken } = paginate(events, request);
    return { events: page, ...(nextToken ? { nextToken } : {}) };
  }

  DescribeMapRun(request: InputOf<'DescribeMapRun'>): OutputOf<'DescribeMapRun'> {
    const run = this.mapRun(String(request.mapRunArn));
    const { stateMachineArn: _children, startDate, stopDate, itemCounts, ...rest } = run;
    return {
      ...rest,
      startDate: seconds(startDate),
      ...(stopDate !== undefined ? { stopDate: seconds(stopDate) } : {}),
      itemCounts,
      // One child execution per item, as AWS runs them without an ItemBatcher.
      executionCounts: itemCounts,
      redriveCount: 0,
    };
  }

  ListMapRuns(request: InputOf<'ListMapRuns'>): OutputOf<'ListMapRuns'> {
    const execution = this.execution(String(request.executionArn));
    const runs = [...this.mapRuns.values()]
      .filter((run) => run.executionArn === execution.executionArn)
      .sort((a, b) => b.startDate - a.startDate);
    const { page, nextToken } = paginate(runs, request);
    return {
      mapRuns: page.map((run) => ({
        executionArn: run.executionArn,
        mapRunArn: run.mapRunArn,
        stateMachineArn: run.stateMachineArn,
        startDate: seconds(run.startDate),
        ...(run.stopDate !== undefined ? { stopDate: seconds(run.stopDate) } : {}),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  StopExecution(request: InputOf<'StopExecution'>): OutputOf<'StopExecution'> {
    const execution = this.execution(String(request.executionArn));
    const running = this.running.get(execution.executionArn);
    running?.stop({
      ...(request.error !== undefined ? { error: request.error } : {}),
      ...(request.cause !== undefined ? { cause: request.cause } : {}),
    });
    return { stopDate: seconds(execution.stopDate ?? Date.now()) };
  }

  /** Resolves when the execution has ended (for tests and shutdown). */
  async settled(executionArn: string): Promise<void> {
    await this.running.get(executionArn)?.done;
  }

  /**
   * Aborts every running execution, waits until their records are written, then waits (at most
   * `taskCallGraceMs`) for task handler calls already made, which an abort does not stop.
   */
  async shutdown(taskCallGraceMs = 15_000): Promise<void> {
    const running = [...this.running.values()];
    for (const execution of running)
      execution.stop({ error: 'States.Runtime', cause: 'the local stack was shut down' });
    await Promise.allSettled(running.map((execution) => execution.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, taskCallGraceMs)));
    await Promise.race([Promise.allSettled([...this.taskCalls]), grace]);
    clearTimeout(timer);
  }
}

/** An execution as ListExecutions lists it (DescribeExecution adds input, output, error). */
function executionListItem(execution: ExecutionRecord): Wire<ExecutionListItem> {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    ...(execution.mapRunArn !== undefined ? { mapRunArn: execution.mapRunArn } : {}),
    name: execution.name,
    status: execution.status,
    startDate: seconds(execution.startDate),
    ...(execution.stopDate !== undefined ? { stopDate: seconds(execution.stopDate) } : {}),
    ...(execution.redriveCount ? { redriveCount: execution.redriveCount } : {}),
    ...(execution.redriveDate !== undefined ? { redriveDate: seconds(execution.redriveDate) } : {}),
  };
}

function paginate<T>(
  items: readonly T[],
  request: { readonly maxResults?: number; readonly nextToken?: string },
): { page: T[]; nextToken?: string } {
  const max = Number(request.maxResults ?? 0) || 1000;
  const start = request.nextToken ? Number(Buffer.from(request.nextToken, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalid('InvalidToken', 'invalid nextToken');
  const page = items.slice(start, start + max);
  const next = start + max;
  return next < items.length ? { page, nextToken: Buffer.from(String(next)).toString('base64url') } : { page };
}

function withoutData(event: HistoryEventRecord): HistoryEventRecord {
  const copy: Record<string, unknown> = { ...event };
  for (const [key, value] of Object.entries(copy)) {
    if (key.endsWith('EventDetails') && value && typeof value === 'object') {
      const { input: _input, output: _output, ...rest } = value as Json;
      copy[key] = rest;
    }
  }
  return copy as HistoryEventRecord;
}
