/**
 * A Distributed Map's Map Run and child executions, kept as AWS keeps them. On AWS each iteration
 * of a Distributed Map is a child execution with a history of its own, so the parent's history
 * carries only the Map state and `MapRunStarted` / `MapRunSucceeded` (or `MapRunFailed`,
 * `MapRunAborted`), and a run of 3,000 batches stays far from the 25,000-event cap. The local
 * engine runs the iterations inline (see `distributed-map.ts`); {@link MapRunTracker} sorts their
 * events into child executions, and {@link MapRunStore} keeps them under
 * `<dataDir>/stepfunctions/map-runs/` (`<id>.json`, the run; `<id>.executions.jsonl`, its ended
 * children; `<id>.history.jsonl`, their events), so DescribeMapRun, ListMapRuns,
 * ListExecutions(mapRunArn), DescribeExecution and GetExecutionHistory answer for them.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../index-store/atomic-file.ts';
import {
  appendJsonLine,
  type ExecutionRecord,
  type ExecutionStatus,
  readJsonFiles,
  readJsonLines,
} from './execution-store.ts';
import {
  causeText,
  type EngineEvent,
  type HistoryDraft,
  type HistoryEventRecord,
  json,
  toHistoryEvents,
} from './history.ts';
import {
  childExecutionArnOf,
  childExecutionName,
  childMachineArnOf,
  FAILURE_KEY,
  FINISH_SUFFIX,
  isHelperState,
  ITEMS_KEY,
  ITERATION,
  ITERATION_FAILED,
  mapRunArnOf,
  RUN_KEY,
  START_SUFFIX,
  withoutHelperData,
  withoutHelperDataIn,
  WRITE_SUFFIX,
} from './distributed-map.ts';

type Json = Record<string, unknown>;

export type MapRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** The counts DescribeMapRun reports as `itemCounts` (and `executionCounts`). */
export interface MapRunCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
}

export interface MapRunRecord {
  readonly mapRunArn: string;
  readonly executionArn: string;
  /** The child executions' state machine (`stateMachine:<machine>/<Map state>`). */
  readonly stateMachineArn: string;
  status: MapRunStatus;
  readonly startDate: number;
  stopDate?: number;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  readonly toleratedFailureCount: number;
  readonly itemCounts: MapRunCounts;
}

export const mapRunId = (mapRunArn: string): string => mapRunArn.slice(mapRunArn.lastIndexOf(':') + 1);

/** Map Runs and their children on disk. */
export class MapRunStore {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'map-runs');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(mapRunArn: string, suffix: string): string {
    return path.join(this.dir, `${mapRunId(mapRunArn)}${suffix}`);
  }

  save(record: MapRunRecord): void {
    writeFileAtomic(this.file(record.mapRunArn, '.json'), JSON.stringify(record));
  }

  loadAll(): MapRunRecord[] {
    return readJsonFiles<MapRunRecord>(this.dir);
  }

  /** Records a child execution that has ended. */
  saveChild(record: ExecutionRecord & { readonly mapRunArn: string }): void {
    appendJsonLine(this.file(record.mapRunArn, '.executions.jsonl'), record);
  }

  appendChildHistory(mapRunArn: string, execution: string, event: HistoryEventRecord): void {
    appendJsonLine(this.file(mapRunArn, '.history.jsonl'), { execution, event });
  }

  loadChildren(mapRunArn: string): ExecutionRecord[] {
    return readJsonLines<ExecutionRecord>(this.file(mapRunArn, '.executions.jsonl'));
  }

  loadChildHistory(mapRunArn: string, execution: string): HistoryEventRecord[] {
    return readJsonLines<{ execution: string; event: HistoryEventRecord }>(this.file(mapRunArn, '.history.jsonl'))
      .filter((line) => line.execution === execution)
      .map((line) => line.event);
  }
}

interface ChildExecution {
  readonly record: ExecutionRecord & { readonly mapRunArn: string };
  lastEventId: number;
  output?: string;
  failure?: { readonly error: string; readonly cause: string };
}

interface ActiveMapRun {
  readonly map: string;
  readonly record: MapRunRecord;
  readonly children: Map<number, ChildExecution>;
}

/** What the tracker tells the engine about Map Runs and children as they change. */
export interface MapRunListener {
  mapRunChanged(record: MapRunRecord): void;
  childChanged(record: ExecutionRecord): void;
}

/**
 * Sorts one execution's engine events: a Distributed Map's iterations into child executions, and
 * around the Map state, the Map Run events AWS records in the parent's history.
 */
export class MapRunTracker {
  private active?: ActiveMapRun;
  /** The Map Run the `⟨start⟩` helper just named, for the Map it precedes. */
  private named?: { readonly map: string; readonly id: string };

  constructor(
    private readonly execution: { readonly executionArn: string; readonly roleArn: string },
    /** The states of the definition as written (the Map's settings are read from it). */
    private readonly states: Readonly<Record<string, Json>>,
    private readonly store: MapRunStore,
    private readonly listener: MapRunListener,
  ) {}

  /**
   * The parent history events for `event`, when it belongs to a Distributed Map (an empty list
   * when it goes to a child, or nowhere); undefined when the engine should record it as usual.
   */
  take(event: EngineEvent): HistoryDraft[] | undefined {
    const active = this.active;
    if (active && 'index' in event && event.index !== undefined) {
      this.childEvent(active, event, event.index);
      return [];
    }
    if (!('state' in event)) return undefined;
    const { name } = event.state;
    if (name.endsWith(START_SUFFIX) && event.type === 'StateExited') {
      const id = String(((event.state.output as Json | undefined)?.[RUN_KEY] as Json | undefined)?.['id']);
      this.named = { map: name.slice(0, -START_SUFFIX.length), id };
      return [];
    }
    if (event.type === 'StateEntered' && event.state.type === 'Map' && this.named?.map === name) {
      const record = this.startRun(name, this.named.id, event.state.input);
      this.named = undefined;
      return [
        ...this.draftsOf(event),
        { type: 'MapRunStarted', mapRunStartedEventDetails: { mapRunArn: record.mapRunArn } },
      ];
    }
    if (!active) return undefined;
    if (name === active.map) {
      // Its exit waits for `⟨finish⟩`, which gives the Map its output (or fails it).
      if (event.type === 'StateExited') return [];
      if (event.type === 'StateFailed') return [...this.endRun('FAILED', event), ...this.draftsOf(event)];
    }
    if (name === active.map + WRITE_SUFFIX || name === active.map + FINISH_SUFFIX) {
      if (event.type === 'StateExited' && name.endsWith(FINISH_SUFFIX)) {
        const exited = { name: active.map, output: json(withoutHelperData(event.state.output)) };
        return [...this.endRun('SUCCEEDED'), { type: 'MapStateExited', stateExitedEventDetails: exited }];
      }
      if (event.type === 'StateFailed') {
        const failed = { name: active.map, output: json({ Error: event.Error, Cause: causeText(event.Cause) }) };
        return [...this.endRun('FAILED', event), { type: 'MapStateFailed', stateExitedEventDetails: failed }];
      }
      return [];
    }
    return undefined;
  }

  /** Ends a Map Run the execution left running (it was aborted or failed), and its children. */
  close(status: ExecutionStatus): void {
    if (!this.active) return;
    this.endRun(status === 'FAILED' ? 'FAILED' : 'ABORTED');
  }

  private draftsOf(event: EngineEvent): HistoryDraft[] {
    return toHistoryEvents(withoutHelperDataIn(event), this.execution.roleArn);
  }

  private startRun(map: string, id: string, input: unknown): MapRunRecord {
    const settings = this.states[map] ?? {};
    const items = (input as Json | undefined)?.[ITEMS_KEY];
    const total = Array.isArray(items) ? items.length : 0;
    const mapRunArn = mapRunArnOf(this.execution.executionArn, map, id);
    const record: MapRunRecord = {
      mapRunArn,
      executionArn: this.execution.executionArn,
      stateMachineArn: childMachineArnOf(mapRunArn),
      status: 'RUNNING',
      startDate: Date.now(),
      maxConcurrency: Number(settings['MaxConcurrency'] ?? 0),
      toleratedFailurePercentage: Number(settings['ToleratedFailurePercentage'] ?? 0),
      toleratedFailureCount: Number(settings['ToleratedFailureCount'] ?? 0),
      itemCounts: {
        pending: total,
        running: 0,
        succeeded: 0,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        total,
        resultsWritten: 0,
      },
    };
    this.active = { map, record, children: new Map() };
    this.store.save(record);
    this.listener.mapRunChanged(record);
    return record;
  }

  private endRun(status: MapRunStatus, failure?: { Error: string; Cause: unknown }): HistoryDraft[] {
    const active = this.active!;
    this.active = undefined;
    for (const [index, child] of active.children) this.endChild(active, index, child, 'ABORTED');
    const { record } = active;
    record.status = status;
    record.stopDate = Date.now();
    if (status === 'SUCCEEDED' && 'ResultWriter' in (this.states[active.map] ?? {}))
      record.itemCounts.resultsWritten = record.itemCounts.succeeded + record.itemCounts.failed;
    this.store.save(record);
    this.listener.mapRunChanged(record);
    if (status === 'SUCCEEDED') return [{ type: 'MapRunSucceeded' }];
    if (status === 'ABORTED') return [{ type: 'MapRunAborted' }];
    return [
      {
        type: 'MapRunFailed',
        mapRunFailedEventDetails: { error: failure?.Error ?? 'States.Runtime', cause: causeText(failure?.Cause) },
      },
    ];
  }

  private childEvent(active: ActiveMapRun, event: EngineEvent, index: number): void {
    const counts = active.record.itemCounts;
    if (event.type === 'MapIterationStarted') {
      const mapRunArn = active.record.mapRunArn;
      const child: ChildExecution = {
        record: {
          executionArn: childExecutionArnOf(mapRunArn, index),
          stateMachineArn: active.record.stateMachineArn,
          name: childExecutionName(mapRunArn, index),
          status: 'RUNNING',
          startDate: event.timestamp,
          input: 'null',
          mapRunArn,
        },
        lastEventId: 0,
      };
      active.children.set(index, child);
      counts.running += 1;
      // Without an ItemReader the total is not known up front: it is at least what has started.
      const started = counts.running + counts.succeeded + counts.failed + counts.aborted;
      counts.total = Math.max(counts.total, started);
      counts.pending = counts.total - started;
      this.listener.childChanged(child.record);
      return;
    }
    const child = active.children.get(index);
    if (!child) return;
    if (event.type === 'MapIterationSucceeded' || event.type === 'MapIterationFailed') {
      // A failed iteration is caught inside the rewrite: it ends in `⟨iteration failed⟩`.
      child.failure ??=
        event.type === 'MapIterationFailed' ? { error: event.Error, cause: causeText(event.Cause) } : undefined;
      this.endChild(active, index, child, child.failure ? 'FAILED' : 'SUCCEEDED');
      return;
    }
    if (!('state' in event)) return;
    const { name } = event.state;
    if (name === ITERATION) {
      if (event.type === 'StateEntered') {
        const input = (event.state.input as Json | undefined)?.['item'];
        child.record.input = json(input);
        const started = { input: child.record.input, roleArn: this.execution.roleArn };
        this.appendChild(child, [{ type: 'ExecutionStarted', executionStartedEventDetails: started }], event.timestamp);
      } else if (event.type === 'StateExited') {
        child.output = json(event.state.output);
      }
      return;
    }
    if (name === ITERATION_FAILED) {
      if (event.type === 'StateExited') {
        const failure = (event.state.output as Json | undefined)?.[FAILURE_KEY] as { Error?: string; Cause?: unknown };
        child.failure = { error: failure?.Error ?? 'States.Runtime', cause: causeText(failure?.Cause) };
      }
      return;
    }
    if (isHelperState(name)) return;
    this.appendChild(child, toHistoryEvents(event, this.execution.roleArn), event.timestamp);
  }

  private appendChild(child: ChildExecution, drafts: readonly HistoryDraft[], timestampMs = Date.now()): void {
    for (const { type, ...details } of drafts) {
      child.lastEventId += 1;
      const event: HistoryEventRecord = {
        id: child.lastEventId,
        previousEventId: child.lastEventId - 1,
        timestamp: timestampMs / 1000,
        type,
        ...details,
      };
      this.store.appendChildHistory(child.record.mapRunArn, child.record.name, event);
    }
  }

  private endChild(
    active: ActiveMapRun,
    index: number,
    child: ChildExecution,
    status: 'SUCCEEDED' | 'FAILED' | 'ABORTED',
  ): void {
    active.children.delete(index);
    const { record } = child;
    record.status = status;
    record.stopDate = Date.now();
    const counts = active.record.itemCounts;
    counts.running = Math.max(0, counts.running - 1);
    if (status === 'SUCCEEDED') {
      record.output = child.output ?? 'null';
      counts.succeeded += 1;
      this.appendChild(child, [
        { type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: record.output } },
      ]);
    } else if (status === 'FAILED') {
      record.error = child.failure?.error;
      record.cause = child.failure?.cause;
      counts.failed += 1;
      this.appendChild(child, [{ type: 'ExecutionFailed', executionFailedEventDetails: { ...child.failure } }]);
    } else {
      counts.aborted += 1;
      this.appendChild(child, [{ type: 'ExecutionAborted', executionAbortedEventDetails: {} }]);
    }
    this.store.saveChild(record);
    this.listener.childChanged(record);
  }
}
