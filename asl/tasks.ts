/**
 * The indexer workflow's tasks, defined once. Each task's name is the key; from it and its
 * entry derive the Task state (name, timeout, Retry, Catch) in `asl/indexer.asl.json`, the
 * `${...FunctionArn}` placeholder, the Lambda function and its export (`tasks/lambda.ts`),
 * the CDK function (`infra/functions.ts`) and the local engine's handler map. The handler behind
 * each task is the stage of the same name in `tasks/indexer-handlers.ts`, which TypeScript
 * holds to exactly these names. Each task's `input` is its one contract with its handler: the
 * Task state's `Parameters` (the embed Map's `ItemSelector`) are rendered from it, and the
 * handler's event type is derived from it, field by field.
 *
 * @example
 * ```ts
 * import { INDEXER_TASKS, placeholderOf, functionNameOf } from './asl/tasks.ts';
 * INDEXER_TASKS.merge.state;          // 'Merge into index'
 * placeholderOf('merge');             // 'MergeFunctionArn'
 * functionNameOf('ddb-faiss', 'merge'); // 'ddb-faiss-merge'
 * ```
 */

/** Where a Task's failure goes once its retries are spent. */
export interface FailureRoute {
  /** The state the Catch leads to. */
  readonly next: string;
  /** Where the error lands in the state's data (`null` discards it). */
  readonly resultPath: string | null;
}

/**
 * The state data a task's input may name, each a field of the handler's event; its type is in
 * `tasks/indexer-handlers.ts` (`TaskInputTypes`), which must give one for every name here.
 */
export const TASK_INPUT_FIELDS = ['run', 'model', 'plan', 'batch', 'embedResults', 'merge'] as const;
export type TaskInputField = (typeof TASK_INPUT_FIELDS)[number];

/** One task of the workflow. */
export interface TaskSpec {
  /** The Task state's name, as the console, `run --wait` and the monitor show it. */
  readonly state: string;
  /** The state's comment in the ASL. @default none */
  readonly comment?: string;
  /** The module that does the task's work, which its handler calls (one hop from a state to its code). */
  readonly stage: string;
  /**
   * The handler's event: each field, and the path in the state data it is taken from. Rendered as
   * the Task state's `Parameters`, or for the Map's task as the Map's `ItemSelector`.
   */
  readonly input: Readonly<Partial<Record<TaskInputField, string>>>;
  /** Where the handler's result goes in the state data (`null`: nowhere). @default the whole state (a Map's task) */
  readonly resultPath?: string | null;
  /** The task is the Map's item processor: its input is the Map's `ItemSelector`. @default false */
  readonly mapItem?: true;
  /** How long one attempt may take; above the local engine's 60 s default. */
  readonly timeoutSeconds: number;
  /**
   * Where a failure goes once its retries are spent. @default nowhere: the run fails at this state,
   * which keeps the writer lease, so the run can be redriven from this state (`RedriveExecution`
   * continues from the state that failed; a failure a Catch sent elsewhere is redriven from there).
   */
  readonly onFailure?: FailureRoute;
  /** Errors that end the run whatever `onFailure` says (to Record failure, the error in `$.error`). @default none */
  readonly failsRunOn?: readonly string[];
}

/** Names of the states the failure routes lead to. */
export const RECORD_FAILURE = 'Record failure';
export const RUN_FAILED = 'Run failed';
export const BATCH_FAILED = 'Batch failed';

const CLEAR_STATE = 'Clear pending flags';
const FIFTEEN_MINUTES = 900;

/** Every task of the indexer workflow, in the order a run reaches them. */
export const INDEXER_TASKS = {
  lease: {
    state: 'Take writer lease',
    comment:
      'The first work of every run: takes the writer lease, or finds it held by a running execution. ' +
      'A holder that has ended (failed, aborted, timed out) loses it at once.',
    stage: 'indexer/lease.ts',
    input: { run: '$.run' },
    resultPath: '$.lease',
    timeoutSeconds: 120,
  },
  bootstrap: {
    state: 'Bootstrap model',
    comment:
      'Copies the active model bundle from S3 to EFS when missing or changed; verifies it; ' +
      'publishes it by atomic rename.',
    stage: 'indexer/bootstrap.ts',
    input: { run: '$.run' },
    resultPath: '$.model',
    timeoutSeconds: FIFTEEN_MINUTES,
  },
  plan: {
    state: 'Plan batches',
    comment: 'Pages through the pending index (or scans the table for a backfill) and writes batch files to EFS.',
    stage: 'indexer/plan.ts',
    input: { run: '$.run', model: '$.model' },
    resultPath: '$.plan',
    timeoutSeconds: FIFTEEN_MINUTES,
  },
  embed: {
    state: 'Embed batch',
    stage: 'indexer/embed-batch.ts',
    input: { batch: '$$.Map.Item.Value', run: '$.run', model: '$.model' },
    mapItem: true,
    timeoutSeconds: FIFTEEN_MINUTES,
    onFailure: { next: BATCH_FAILED, resultPath: '$.error' },
  },
  merge: {
    state: 'Merge into index',
    comment:
      'Folds the shards into the index: a new segment for what was added or replaced, tombstones for what was ' +
      'replaced or removed; publishes a new generation atomically.',
    stage: 'indexer/merge.ts',
    input: { run: '$.run', model: '$.model', plan: '$.plan', embedResults: '$.embedResults.ResultWriterDetails' },
    resultPath: '$.merge',
    timeoutSeconds: FIFTEEN_MINUTES,
  },
  compact: {
    state: 'Compact index',
    comment:
      'Folds segments once their count or dead share passes a threshold, and publishes the result; ' +
      'otherwise does nothing. The index holds the same items either way, so a failure here does not stop ' +
      'the run: its error is kept in $.compaction and the flags are still cleared. A damaged segment does ' +
      'fail the run, naming the file: a backfill heals it.',
    stage: 'indexer/compact.ts',
    input: { run: '$.run', model: '$.model', merge: '$.merge' },
    resultPath: '$.compaction',
    timeoutSeconds: FIFTEEN_MINUTES,
    onFailure: { next: CLEAR_STATE, resultPath: '$.compaction' },
    failsRunOn: ['IndexDamagedError'],
  },
  clear: {
    state: CLEAR_STATE,
    comment:
      'Clears the pending flag only on items whose indexed version is still current, then releases the writer lease.',
    stage: 'indexer/clear.ts',
    input: { run: '$.run', merge: '$.merge' },
    resultPath: '$.clear',
    timeoutSeconds: FIFTEEN_MINUTES,
  },
  release: {
    state: RECORD_FAILURE,
    comment:
      'Ends a run that found the index damaged, which a redrive cannot mend: gives the writer lease back, so a ' +
      'backfill (which heals the index) may start at once.',
    stage: 'indexer/lease.ts',
    input: { run: '$.run' },
    resultPath: null,
    timeoutSeconds: 120,
    onFailure: { next: RUN_FAILED, resultPath: null },
  },
} as const satisfies Record<string, TaskSpec>;

/**
 * A task's input as ASL renders it: `{ "run.$": "$.run", ... }` (the Task state's `Parameters`, or
 * the Map's `ItemSelector`).
 */
export function parametersOf(spec: Pick<TaskSpec, 'input'>): Record<string, string> {
  return Object.fromEntries(Object.entries(spec.input).map(([field, path]) => [`${field}.$`, path]));
}

/** A task's name: `lease`, `bootstrap`, `plan`, `embed`, `merge`, `compact`, `clear` or `release`. */
export type IndexerTask = keyof typeof INDEXER_TASKS;

/** Every task's name, in definition order. */
export const INDEXER_TASK_NAMES = Object.keys(INDEXER_TASKS) as IndexerTask[];

/** The errors a Task retries, with backoff: transient failures only, never a permanent one. */
export const TRANSIENT_ERRORS = [
  'TransientError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'States.Timeout',
] as const;

/** The one retry policy of every Task. */
export const RETRY_POLICY = {
  ErrorEquals: [...TRANSIENT_ERRORS],
  IntervalSeconds: 2,
  BackoffRate: 2,
  MaxAttempts: 4,
  JitterStrategy: 'FULL',
} as const;

/**
 * Every Lambda function: one per task, plus the search API's and the capture step's (stream mode,
 * behind the event source mapping on the table's stream).
 */
export type FunctionName = IndexerTask | 'search' | 'capture';

/** The ASL placeholder a task's function ARN replaces: `merge` -> `MergeFunctionArn`. */
export function placeholderOf(task: IndexerTask): string {
  return `${task[0]!.toUpperCase()}${task.slice(1)}FunctionArn`;
}

/** A task's Lambda function name under a prefix (`ddb-faiss` locally, the stack name on AWS). */
export function functionNameOf(prefix: string, task: FunctionName): string {
  return `${prefix}-${task}`;
}

/** The prefix of the local stack's function names. */
export const LOCAL_FUNCTION_PREFIX = 'ddb-faiss';
