/**
 * Persists state machines, executions and their histories under
 * `<dataDir>/stepfunctions/`, so a restart of `ddb-faiss up` keeps them.
 * Layout: `state-machines/<name>.json`, `executions/<machine>/<execution>.json` (the
 * description, rewritten atomically) and `<execution>.history.jsonl` (appended per event).
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryEventRecord } from './history.ts';
import { writeFileAtomic } from '../../index-store/atomic-file.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StateMachineRecord {
  readonly name: string;
  readonly stateMachineArn: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly type: 'STANDARD';
  readonly creationDate: number;
}

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  readonly startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  /** A Distributed Map's child execution: its Map Run. */
  readonly mapRunArn?: string;
  /** How often it was redriven, and when last (epoch ms). */
  redriveCount?: number;
  redriveDate?: number;
}

export class ExecutionStore {
  private readonly machinesDir: string;
  private readonly executionsDir: string;

  constructor(root: string) {
    this.machinesDir = path.join(root, 'state-machines');
    this.executionsDir = path.join(root, 'executions');
    mkdirSync(this.machinesDir, { recursive: true });
    mkdirSync(this.executionsDir, { recursive: true });
  }

  saveStateMachine(record: StateMachineRecord): void {
    writeFileAtomic(path.join(this.machinesDir, `${record.name}.json`), JSON.stringify(record));
  }

  loadStateMachines(): StateMachineRecord[] {
    return readJsonFiles<StateMachineRecord>(this.machinesDir);
  }

  private executionDir(machineName: string): string {
    const dir = path.join(this.executionsDir, machineName);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  saveExecution(machineName: string, record: ExecutionRecord): void {
    writeFileAtomic(path.join(this.executionDir(machineName), `${record.name}.json`), JSON.stringify(record));
  }

  appendHistory(machineName: string, executionName: string, event: HistoryEventRecord): void {
    appendJsonLine(path.join(this.executionDir(machineName), `${executionName}.history.jsonl`), event);
  }

  loadExecutions(machineName: string): ExecutionRecord[] {
    return readJsonFiles<ExecutionRecord>(this.executionDir(machineName));
  }

  loadHistory(machineName: string, executionName: string): HistoryEventRecord[] {
    return readJsonLines<HistoryEventRecord>(
      path.join(this.executionDir(machineName), `${executionName}.history.jsonl`),
    );
  }
}

/** Appends one value to a JSON Lines file. */
export function appendJsonLine(file: string, value: unknown): void {
  appendFileSync(file, `${JSON.stringify(value)}\n`);
}

/** The values of a JSON Lines file (none when it is absent); a line cut short by a crash mid-append is skipped. */
export function readJsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as T];
      } catch {
        return [];
      }
    });
}

/** Every `*.json` file of a folder, parsed (each written whole, atomically). */
export function readJsonFiles<T>(dir: string): T[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T);
}
