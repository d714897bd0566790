/**
 * The indexer state machine, built from the one task definition (`asl/tasks.ts`).
 * `asl/indexer.asl.json` is this definition written out (`npm run generate`) so console users can
 * read it; a test keeps the file equal to what {@link indexerDefinition} builds. The local
 * stack and the CDK app both deploy {@link renderIndexerDefinition}'s output.
 *
 * @example
 * ```ts
 * import { localFunctionArns, renderIndexerDefinition } from './asl/indexer.ts';
 * const asl = renderIndexerDefinition({ functionArns: localFunctionArns('us-east-1'), maxConcurrency: 4 });
 * ```
 */
import { readFileSync } from 'node:fs';
import {
  BATCH_FAILED,
  INDEXER_TASK_NAMES,
  INDEXER_TASKS,
  type IndexerTask,
  LOCAL_FUNCTION_PREFIX,
  RECORD_FAILURE,
  RETRY_POLICY,
  RUN_FAILED,
  functionNameOf,
  parametersOf,
  placeholderOf,
  type TaskSpec,
} from './tasks.ts';

export const INDEXER_ASL_FILE = new URL('./indexer.asl.json', import.meta.url);

/** A state of the definition, as JSON. */
export type AslState = Readonly<Record<string, unknown>>;

/**
 * The fields of a state that tools read to draw or describe the workflow (the docs' diagram, the
 * monitor's graph); a state as JSON may hold more.
 */
export interface AslStateShape {
  readonly Type: string;
  readonly Comment?: string;
  readonly Next?: string;
  readonly Default?: string;
  readonly End?: boolean;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly Catch?: readonly { readonly Next: string }[];
  readonly ItemProcessor?: AslGraph;
  readonly Iterator?: AslGraph;
}

/** A state machine, or a Map's item processor, as those tools read it. */
export interface AslGraph {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslStateShape>>;
}

/** The state machine definition, as JSON. */
export interface AslDefinition {
  readonly Comment: string;
  readonly StartAt: string;
  readonly TimeoutSeconds: number;
  readonly States: Readonly<Record<string, AslState>>;
}

/** The Map state that embeds the batches. */
export const EMBED_MAP = 'Embed batches';
/** Where the Embed Map's ResultWriter puts the iterations' results in the assets bucket. */
export const EMBED_RESULTS_PREFIX = 'embed-results';
const REJECT_INPUT = 'Reject input';
const INDEX_HELD = 'Index held by another run';
const NOTHING_TO_INDEX = 'Nothing to index';
const WAIT_FOR_CHANGES = 'Wait for more changes';
const WAIT_FOR_LEASE = 'Wait for the writer lease';
/** The Choice after each merge invocation: a run larger than one window is merged a window at a time. */
export const MORE_TO_MERGE = 'More to merge?';
/** The Choice after each clear invocation: a clear longer than one invocation's budget goes on in the next. */
export const MORE_TO_CLEAR = 'More to clear?';
/** How often a run that waits for the lease (see the lease stage) asks for it while another run holds it. */
const LEASE_WAIT_SECONDS = 2;

/** The stages a user thinks in, in order: what `run --wait` and the monitor track. */
export const INDEXER_STAGES = [
  INDEXER_TASKS.lease.state,
  INDEXER_TASKS.bootstrap.state,
  INDEXER_TASKS.plan.state,
  EMBED_MAP,
  INDEXER_TASKS.merge.state,
  INDEXER_TASKS.compact.state,
  INDEXER_TASKS.clear.state,
] as const;

/** The states off the main path: where a run ends early or fails. */
export const SIDE_STATES = [
  REJECT_INPUT,
  WAIT_FOR_CHANGES,
  WAIT_FOR_LEASE,
  INDEX_HELD,
  NOTHING_TO_INDEX,
  RECORD_FAILURE,
  RUN_FAILED,
] as const;

type Transition = { readonly Next: string } | { readonly End: true };

/**
 * A Task state of one task: its resource placeholder, input (`Parameters`), result path, timeout,
 * retry and catch, all from the task's definition.
 */
function taskState(task: IndexerTask, transition: Transition): AslState {
  const spec: TaskSpec = INDEXER_TASKS[task];
  return {
    Type: 'Task',
    ...(spec.comment ? { Comment: spec.comment } : {}),
    Resource: `\${${placeholderOf(task)}}`,
    // The Map's task takes the iteration's input as the Map's ItemSelector shapes it.
    ...(spec.mapItem ? {} : { Parameters: parametersOf(spec) }),
    ...(spec.resultPath === undefined ? {} : { ResultPath: spec.resultPath }),
    TimeoutSeconds: spec.timeoutSeconds,
    Retry: [RETRY_POLICY],
    // No Catch: a failure ends the run at this state, from which a redrive continues.
    ...(spec.onFailure
      ? {
          Catch: [
            ...(spec.failsRunOn
              ? [{ ErrorEquals: [...spec.failsRunOn], ResultPath: '$.error', Next: RECORD_FAILURE }]
              : []),
            { ErrorEquals: ['States.ALL'], ResultPath: spec.onFailure.resultPath, Next: spec.onFailure.next },
          ],
        }
      : {}),
    ...transition,
  };
}

/**
 * The Choice rule that sends a stage's invocation that has more to do (`complete: false` in its
 * result at `resultPath`) back to its state. A result without `complete` (a run started before the
 * stage was bounded) goes on: a Choice on a missing field would fail the run.
 */
const incomplete = (resultPath: string, state: string) => ({
  And: [
    { Variable: `${resultPath}.complete`, IsPresent: true },
    { Variable: `${resultPath}.complete`, BooleanEquals: false },
  ],
  Next: state,
});

const runDescriptor = (mode: 'incremental' | 'backfill'): AslState => ({
  Type: 'Pass',
  Parameters: {
    mode,
    'execution.$': '$$.Execution.Name',
    'startedAt.$': '$$.Execution.StartTime',
    'executionArn.$': '$$.Execution.Id',
  },
  ResultPath: '$.run',
  Next: INDEXER_TASKS.lease.state,
});

/** Builds the definition, with `${<Task>FunctionArn}` placeholders for the functions. */
export function indexerDefinition(): AslDefinition {
  return {
    Comment:
      'ddb-faiss indexer: keeps the Faiss index in step with the DynamoDB table. ' +
      'Input: {} or {"mode": "incremental"} indexes pending items; ' +
      '{"mode": "backfill"} rebuilds the index from the whole table.',
    StartAt: 'Read input',
    TimeoutSeconds: 21600,
    States: {
      'Read input': {
        Type: 'Pass',
        Comment: 'Pairs the input with its defaults: an empty input means an incremental run.',
        Parameters: { defaults: { mode: 'incremental', trigger: 'start', debounceSeconds: 0 }, 'given.$': '$' },
        Next: 'Apply input defaults',
      },
      'Apply input defaults': {
        Type: 'Pass',
        Parameters: { 'input.$': 'States.JsonMerge($.defaults, $.given, false)' },
        OutputPath: '$.input',
        Next: 'Choose run mode',
      },
      'Choose run mode': {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.mode', StringEquals: 'incremental' },
              { Variable: '$.trigger', StringEquals: 'capture' },
              { Variable: '$.debounceSeconds', IsNumeric: true },
              { Variable: '$.debounceSeconds', NumericGreaterThan: 0 },
            ],
            Next: WAIT_FOR_CHANGES,
          },
          { Variable: '$.mode', StringEquals: 'incremental', Next: 'Incremental run' },
          { Variable: '$.mode', StringEquals: 'backfill', Next: 'Backfill run' },
        ],
        Default: REJECT_INPUT,
      },
      [REJECT_INPUT]: {
        Type: 'Fail',
        Error: 'InvalidInput',
        Cause: 'the execution input must be {} or {"mode": "incremental"} or {"mode": "backfill"}',
      },
      [WAIT_FOR_CHANGES]: {
        Type: 'Wait',
        Comment:
          'A run started by captured changes waits the debounce first, so a burst of writes is indexed by one run.',
        SecondsPath: '$.debounceSeconds',
        Next: 'Incremental run',
      },
      'Incremental run': runDescriptor('incremental'),
      'Backfill run': runDescriptor('backfill'),
      [INDEXER_TASKS.lease.state]: taskState('lease', { Next: 'Writer lease taken?' }),
      'Writer lease taken?': {
        Type: 'Choice',
        Choices: [
          { Variable: '$.lease.acquired', BooleanEquals: true, Next: INDEXER_TASKS.bootstrap.state },
          // The lease stage says which runs wait their turn (captured changes; in stream mode a run by hand).
          { Variable: '$.lease.waits', BooleanEquals: true, Next: WAIT_FOR_LEASE },
        ],
        Default: INDEX_HELD,
      },
      [WAIT_FOR_LEASE]: {
        Type: 'Wait',
        Comment:
          'A run for captured changes (and in stream mode a run started by hand) does not end when another run ' +
          'holds the index: that run may have planned before the changes came. It asks again every few seconds.',
        Seconds: LEASE_WAIT_SECONDS,
        Next: INDEXER_TASKS.lease.state,
      },
      [INDEX_HELD]: {
        Type: 'Succeed',
        Comment:
          'Another run holds the index: this one ends at once, without loading the model or the index ' +
          '($.lease.skipped says who holds it and until when).',
      },
      [INDEXER_TASKS.bootstrap.state]: taskState('bootstrap', { Next: INDEXER_TASKS.plan.state }),
      [INDEXER_TASKS.plan.state]: taskState('plan', { Next: 'Anything to index?' }),
      'Anything to index?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.plan.batchCount', NumericGreaterThan: 0, Next: EMBED_MAP }],
        Default: NOTHING_TO_INDEX,
      },
      [NOTHING_TO_INDEX]: { Type: 'Succeed' },
      [EMBED_MAP]: {
        Type: 'Map',
        Comment:
          'One iteration per batch file: items cross the Map as small descriptors, never as texts. ' +
          'The descriptors are read from S3 and the results written there, so the state data stays small ' +
          'whatever the run size.',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.plan.batchList.bucket', 'Key.$': '$.plan.batchList.key' },
        },
        ItemSelector: parametersOf(INDEXER_TASKS.embed),
        MaxConcurrency: 2,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: INDEXER_TASKS.embed.state,
          States: {
            [INDEXER_TASKS.embed.state]: taskState('embed', { End: true }),
            [BATCH_FAILED]: {
              Type: 'Pass',
              Comment: 'A batch that fails for good leaves its items pending; the other batches are still merged.',
              Parameters: {
                'batch.$': '$.batch',
                failed: true,
                'error.$': '$.error.Error',
                'cause.$': '$.error.Cause',
              },
              End: true,
            },
          },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { 'Bucket.$': '$.plan.batchList.bucket', Prefix: EMBED_RESULTS_PREFIX },
        },
        ResultPath: '$.embedResults',
        // No Catch: a Map that fails ends the run here; a redrive runs its Map Run again.
        Next: INDEXER_TASKS.merge.state,
      },
      [INDEXER_TASKS.merge.state]: taskState('merge', { Next: MORE_TO_MERGE }),
      [MORE_TO_MERGE]: {
        Type: 'Choice',
        Comment:
          'A merge invocation folds in at most one window of rows (1M): a larger run (a backfill of a large table) ' +
          'is merged again, a window each time, and published after the last.',
        Choices: [incomplete('$.merge', INDEXER_TASKS.merge.state)],
        Default: INDEXER_TASKS.compact.state,
      },
      [INDEXER_TASKS.compact.state]: taskState('compact', { Next: INDEXER_TASKS.clear.state }),
      [INDEXER_TASKS.clear.state]: taskState('clear', { Next: MORE_TO_CLEAR }),
      [MORE_TO_CLEAR]: {
        Type: 'Choice',
        Comment:
          'A clear invocation works a few minutes, then checkpoints: a large run (a backfill of millions of items) ' +
          'is cleared in several, and the lease is released by the last.',
        Choices: [incomplete('$.clear', INDEXER_TASKS.clear.state)],
        Default: 'Indexed',
      },
      Indexed: { Type: 'Succeed' },
      [RECORD_FAILURE]: taskState('release', { Next: RUN_FAILED }),
      [RUN_FAILED]: {
        Type: 'Fail',
        Comment: 'Ends the run that found the index damaged, with the damage named (a backfill heals it).',
        ErrorPath: '$.error.Error',
        CausePath: '$.error.Cause',
      },
    },
  };
}

/** The text of `asl/indexer.asl.json`: the definition with its placeholders. */
export function indexerDefinitionText(): string {
  return `${JSON.stringify(indexerDefinition(), null, 2)}\n`;
}

/** The definition's text as committed in `asl/indexer.asl.json`. */
export function indexerDefinitionTemplate(): string {
  return readFileSync(INDEXER_ASL_FILE, 'utf8');
}

/** The placeholders a definition text uses. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]!))];
}

/** Options of {@link renderIndexerDefinition}. */
export interface IndexerDefinitionProps {
  /** The ARN (or substitution) each task's placeholder becomes. */
  readonly functionArns: Readonly<Record<IndexerTask, string>>;
  /** Most embed batches at once. @default 2 */
  readonly maxConcurrency?: number;
}

/**
 * Renders the definition for a deployment: placeholders become ARNs, the Map's
 * MaxConcurrency is set.
 * @throws when a task has no ARN
 */
export function renderIndexerDefinition(props: IndexerDefinitionProps): string {
  const byPlaceholder = new Map(INDEXER_TASK_NAMES.map((task) => [placeholderOf(task), props.functionArns[task]]));
  const text = indexerDefinitionText().replace(/\$\{(\w+)\}/g, (_match, name: string) => {
    const arn = byPlaceholder.get(name);
    if (!arn) throw new Error(`no value for \${${name}} in the indexer definition`);
    return arn;
  });
  const definition = JSON.parse(text) as { States: Record<string, { MaxConcurrency?: number }> };
  definition.States[EMBED_MAP]!.MaxConcurrency = props.maxConcurrency ?? 2;
  return JSON.stringify(definition, null, 2);
}

/** ARNs for the local stack: function names `ddb-faiss-<task>` in a fake account. */
export function localFunctionArns(region: string): Record<IndexerTask, string> {
  return Object.fromEntries(
    INDEXER_TASK_NAMES.map((task) => [
      task,
      `arn:aws:lambda:${region}:000000000000:function:${functionNameOf(LOCAL_FUNCTION_PREFIX, task)}`,
    ]),
  ) as Record<IndexerTask, string>;
}
