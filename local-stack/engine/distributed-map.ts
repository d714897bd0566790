/**
 * What a Distributed Map does that aws-local-stepfunctions does not (`ItemReader`, `ResultWriter`,
 * tolerated failures, Map Runs), built around it: before a definition runs, each Map in DISTRIBUTED
 * mode (or with an ItemReader or ResultWriter) is rewritten into
 *   `<Map> ⟨read items⟩` (a Task that reads the items from S3: a JSON array, or JSON Lines)
 *   -> `<Map> ⟨start⟩` (a Pass that names the Map Run: its id, from which the engine derives the
 *      Map Run's and each child execution's ARN, see `map-runs.ts`)
 *   -> the Map over those items (inline, `MaxConcurrency` honoured), each iteration wrapped so
 *      that its failure is recorded rather than failing the Map at once
 *   -> `<Map> ⟨write results⟩` (a Task that fails the Map with `States.ExceedToleratedFailureThreshold`
 *      when more iterations failed than `ToleratedFailureCount`/`Percentage` allow (none, by
 *      default), and otherwise writes the results to S3 in AWS's layout,
 *      `<Prefix>/<map run id>/manifest.json` with `SUCCEEDED_0.json` and `FAILED_0.json`, and
 *      answers AWS's output, `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`, or the results;
 *      the Map's `ResultSelector` applies to that answer)
 *   -> `<Map> ⟨finish⟩` (a Task that puts the answer at the Map's `ResultPath`, drops the helpers'
 *      keys, and applies the Map's `OutputPath`).
 * The helper states are local plumbing: their history events are hidden, and the items and
 * results they carry in the state data (which on AWS never enter it) are left out of the
 * 256 KiB check.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TaskHandler } from '../../tasks/handler.ts';

type Json = { [key: string]: unknown };

/** Where the rewritten definition keeps the items read and the results gathered. */
export const ITEMS_KEY = '__distributedMapItems';
export const RESULTS_KEY = '__distributedMapResults';
export const RUN_KEY = '__distributedMapRun';
const OUTPUT_KEY = '__distributedMapOutput';
const HELPER_KEYS = [ITEMS_KEY, RESULTS_KEY, RUN_KEY, OUTPUT_KEY];

const READER_FUNCTION = '__local-item-reader';
const WRITER_FUNCTION = '__local-result-writer';
const PLACE_FUNCTION = '__local-map-output';
const functionArn = (name: string) => `arn:aws:lambda:local:000000000000:function:${name}`;
const READ_SUFFIX = ' ⟨read items⟩';
export const START_SUFFIX = ' ⟨start⟩';
export const WRITE_SUFFIX = ' ⟨write results⟩';
export const FINISH_SUFFIX = ' ⟨finish⟩';
/** The state each iteration runs in (its input is `{item}`), and the one a failed iteration ends in. */
export const ITERATION = '⟨iteration⟩';
export const ITERATION_FAILED = '⟨iteration failed⟩';
/** What a failed iteration leaves among the results: its error, and its input (AWS records both). */
export const FAILURE_KEY = '__iterationFailure';
const FAILED_INPUT_KEY = '__iterationInput';

/** Whether a state is one of the helpers this rewrite adds (all carry a ⟨…⟩ mark). */
export const isHelperState = (name: string): boolean => name.includes('⟨');

/** The state data without what only the local rewrite puts there. */
export function withoutHelperData(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  if (!HELPER_KEYS.some((key) => key in value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !HELPER_KEYS.includes(key)));
}

/** An engine event as AWS would record it: a Distributed Map's items and results are not in its state data. */
export function withoutHelperDataIn<E>(event: E): E {
  const state = (event as { state?: { input?: unknown; output?: unknown } }).state;
  if (!state) return event;
  return {
    ...event,
    state: { ...state, input: withoutHelperData(state.input), output: withoutHelperData(state.output) },
  };
}

/** The Map Run's ARN, as AWS forms it: `mapRun:<machine>/<Map state>:<id>`. */
export const mapRunArnOf = (executionArn: string, map: string, runId: string): string => {
  const [, , , region, account, , machine] = executionArn.split(':');
  return `arn:aws:states:${region}:${account}:mapRun:${machine}/${map}:${runId}`;
};

/** The Map Run's child executions' state machine: `stateMachine:<machine>/<Map state>`. */
export const childMachineArnOf = (mapRunArn: string): string =>
  mapRunArn.replace(':mapRun:', ':stateMachine:').replace(/:[^:]*$/, '');

/** A child execution's name: a UUID derived from the Map Run and the item's index, so every part agrees. */
export function childExecutionName(mapRunArn: string, index: number): string {
  const hex = createHash('sha256').update(`${mapRunArn}#${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A child execution's ARN: `execution:<machine>/<Map state>:<name>`. */
export const childExecutionArnOf = (mapRunArn: string, index: number): string =>
  `${childMachineArnOf(mapRunArn).replace(':stateMachine:', ':execution:')}:${childExecutionName(mapRunArn, index)}`;

/** Points every transition to `from` at `to` instead. */
function retarget(states: Record<string, Json>, from: string, to: string): void {
  for (const state of Object.values(states)) {
    if (state['Next'] === from) state['Next'] = to;
    if (state['Default'] === from) state['Default'] = to;
    for (const choice of (state['Choices'] ?? []) as Json[]) if (choice['Next'] === from) choice['Next'] = to;
    for (const handler of (state['Catch'] ?? []) as Json[]) if (handler['Next'] === from) handler['Next'] = to;
  }
}

/**
 * Each iteration's steps inside a Parallel whose Catch turns a failure into a marked result. The
 * iteration's input arrives wrapped as `{item}` (see the Map's ItemSelector below): a Catch's
 * ResultPath needs an object to write into.
 */
function tolerantProcessor(processor: Json): Json {
  return {
    ...(processor['ProcessorConfig'] ? { ProcessorConfig: processor['ProcessorConfig'] } : {}),
    StartAt: ITERATION,
    States: {
      [ITERATION]: {
        Type: 'Parallel',
        InputPath: '$.item',
        Branches: [{ StartAt: processor['StartAt'], States: processor['States'] }],
        OutputPath: '$[0]',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: `$.${FAILURE_KEY}`, Next: ITERATION_FAILED }],
        End: true,
      },
      [ITERATION_FAILED]: {
        Type: 'Pass',
        Parameters: { [`${FAILURE_KEY}.$`]: `$.${FAILURE_KEY}`, [`${FAILED_INPUT_KEY}.$`]: '$.item' },
        End: true,
      },
    },
  };
}

const isDistributed = (map: Json): boolean =>
  ((map['ItemProcessor'] as Json | undefined)?.['ProcessorConfig'] as Json | undefined)?.['Mode'] === 'DISTRIBUTED' ||
  'ItemReader' in map ||
  'ResultWriter' in map;

/** The definition with every top-level Distributed Map built around helper states (see the module's comment). */
export function rewriteDistributedMaps(definition: Json): Json {
  const rewritten = structuredClone(definition);
  const states = rewritten['States'] as Record<string, Json>;
  for (const [name, map] of Object.entries(states)) {
    if (map['Type'] !== 'Map' || !isDistributed(map)) continue;
    const reader = map['ItemReader'] as Json | undefined;
    const writer = map['ResultWriter'] as Json | undefined;
    const onError = map['Catch'] ? { Catch: map['Catch'] } : {};
    const startName = name + START_SUFFIX;
    retarget(states, name, startName);
    if (rewritten['StartAt'] === name) rewritten['StartAt'] = startName;
    states[startName] = {
      Type: 'Pass',
      Parameters: { 'id.$': 'States.UUID()' },
      ResultPath: `$.${RUN_KEY}`,
      Next: name,
    };
    if (reader) {
      const readName = name + READ_SUFFIX;
      retarget(states, startName, readName);
      if (rewritten['StartAt'] === startName) rewritten['StartAt'] = readName;
      const readerConfig = (reader['ReaderConfig'] ?? {}) as Json;
      states[readName] = {
        Type: 'Task',
        Resource: functionArn(READER_FUNCTION),
        Parameters: { ...((reader['Parameters'] ?? {}) as Json), InputType: readerConfig['InputType'] ?? 'JSON' },
        ResultPath: `$.${ITEMS_KEY}`,
        Next: startName,
        ...onError,
      };
      delete map['ItemReader'];
      map['ItemsPath'] = `$.${ITEMS_KEY}`;
    }
    const selector = map['ItemSelector'] ?? map['Parameters'];
    delete map['Parameters'];
    map['ItemSelector'] = selector === undefined ? { 'item.$': '$$.Map.Item.Value' } : { item: selector };
    const processor = (map['ItemProcessor'] ?? map['Iterator']) as Json;
    map[map['ItemProcessor'] ? 'ItemProcessor' : 'Iterator'] = tolerantProcessor(processor);
    const tolerance = Object.fromEntries(
      ['ToleratedFailureCount', 'ToleratedFailurePercentage'].flatMap((field) =>
        field in map ? [[field, map[field]]] : `${field}Path` in map ? [[`${field}.$`, map[`${field}Path`]]] : [],
      ),
    );
    for (const field of ['ToleratedFailureCount', 'ToleratedFailurePercentage']) {
      delete map[field];
      delete map[`${field}Path`];
    }
    const writeName = name + WRITE_SUFFIX;
    const finishName = name + FINISH_SUFFIX;
    const next = map['End'] ? { End: true } : { Next: map['Next'] };
    // The Map's ResultSelector applies to its result (the results, or the ResultWriter's answer).
    const resultSelector = map['ResultSelector'] ? { ResultSelector: map['ResultSelector'] } : {};
    states[writeName] = {
      Type: 'Task',
      Resource: functionArn(WRITER_FUNCTION),
      Parameters: {
        ...((writer?.['Parameters'] ?? {}) as Json),
        ...tolerance,
        'results.$': `$.${RESULTS_KEY}`,
        'executionArn.$': '$$.Execution.Id',
        'mapRun.$': `$.${RUN_KEY}.id`,
        map: name,
        write: writer !== undefined,
      },
      ...resultSelector,
      ResultPath: `$.${OUTPUT_KEY}`,
      Next: finishName,
      ...onError,
    };
    states[finishName] = {
      Type: 'Task',
      Resource: functionArn(PLACE_FUNCTION),
      Parameters: { 'state.$': '$', resultPath: 'ResultPath' in map ? map['ResultPath'] : '$' },
      // No ResultPath: the result (the whole state, rebuilt) replaces the state data.
      ...(map['OutputPath'] !== undefined ? { OutputPath: map['OutputPath'] } : {}),
      ...next,
      ...onError,
    };
    for (const field of ['ResultWriter', 'ResultSelector', 'OutputPath', 'End']) delete map[field];
    map['ResultPath'] = `$.${RESULTS_KEY}`;
    map['Next'] = writeName;
  }
  return rewritten;
}

/** Sets `value` at a simple reference path (`$`, `$.a.b`) of `state`; a null path discards it. */
function setAtPath(state: Json, path: string | null, value: unknown): Json {
  if (path === null) return state;
  if (path === '$') return value as Json;
  const keys = path.replace(/^\$\./, '').split('.');
  const copy: Json = { ...state };
  let cursor = copy;
  for (const key of keys.slice(0, -1)) {
    cursor[key] = { ...((cursor[key] ?? {}) as Json) };
    cursor = cursor[key] as Json;
  }
  cursor[keys.at(-1)!] = value;
  return copy;
}

/** The helper Tasks' handlers, reading and writing through the local S3. */
export function distributedMapHandlers(s3: () => S3Client): Map<string, TaskHandler> {
  const readItems: TaskHandler = async (event) => {
    const { Bucket, Key, InputType } = event as { Bucket: string; Key: string; InputType: string };
    const object = await s3().send(new GetObjectCommand({ Bucket, Key }));
    const text = (await object.Body?.transformToString('utf8')) ?? '';
    if (InputType === 'JSONL')
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as unknown);
    const items = JSON.parse(text) as unknown;
    if (!Array.isArray(items))
      throw Object.assign(new Error(`s3://${Bucket}/${Key} does not hold a JSON array`), {
        name: 'States.ItemReaderFailed',
      });
    return items;
  };
  const writeResults: TaskHandler = async (event) => {
    const {
      results,
      executionArn,
      mapRun,
      map,
      write,
      Bucket,
      Prefix,
      ToleratedFailureCount,
      ToleratedFailurePercentage,
    } = event as {
      results: unknown[];
      executionArn: string;
      mapRun: string;
      map: string;
      write: boolean;
      Bucket: string;
      Prefix?: string;
      ToleratedFailureCount?: number;
      ToleratedFailurePercentage?: number;
    };
    const failureOf = (result: unknown) =>
      typeof result === 'object' && result !== null && FAILURE_KEY in result
        ? {
            ...((result as Json)[FAILURE_KEY] as { Error?: string; Cause?: string }),
            input: (result as Json)[FAILED_INPUT_KEY],
          }
        : undefined;
    const failed = results.filter((result) => failureOf(result) !== undefined).length;
    // As AWS: with no tolerance set, one failed child execution fails the Map.
    const overCount = failed > (ToleratedFailureCount ?? (ToleratedFailurePercentage === undefined ? 0 : Infinity));
    const overPercentage =
      ToleratedFailurePercentage !== undefined &&
      results.length > 0 &&
      (100 * failed) / results.length > ToleratedFailurePercentage;
    if (failed > 0 && (overCount || overPercentage))
      throw Object.assign(
        new Error(
          `The specified tolerated failure threshold was exceeded: ${failed} of ${results.length} items failed`,
        ),
        { name: 'States.ExceedToleratedFailureThreshold' },
      );
    if (!write) return results;

    const mapRunArn = mapRunArnOf(executionArn, map, mapRun);
    const folder = `${Prefix ? `${Prefix.replace(/\/$/, '')}/` : ''}${mapRun}`;
    const now = new Date().toISOString();
    // One record per child execution, as AWS writes them.
    const record = (result: unknown, index: number) => {
      const failure = failureOf(result);
      return {
        ExecutionArn: childExecutionArnOf(mapRunArn, index),
        // A succeeded iteration's input is not kept by the rewrite (merge reads only failed ones').
        ...(failure
          ? { Input: JSON.stringify(failure.input ?? null), InputDetails: { Included: true } }
          : { Input: '', InputDetails: { Included: false } }),
        Name: childExecutionName(mapRunArn, index),
        ...(failure
          ? { Error: failure.Error, Cause: failure.Cause, Status: 'FAILED' }
          : { Output: JSON.stringify(result), OutputDetails: { Included: true }, Status: 'SUCCEEDED' }),
        RedriveCount: 0,
        RedriveStatus: 'NOT_REDRIVABLE',
        StartDate: now,
        StateMachineArn: childMachineArnOf(mapRunArn),
        StopDate: now,
      };
    };
    const records = results.map(record);
    const put = async (key: string, body: string) => {
      await s3().send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: 'application/json' }));
      return { Key: key, Size: Buffer.byteLength(body) };
    };
    const resultFile = async (status: 'SUCCEEDED' | 'FAILED') => {
      const chosen = records.filter((entry) => entry.Status === status);
      return chosen.length ? [await put(`${folder}/${status}_0.json`, JSON.stringify(chosen))] : [];
    };
    const [succeededFiles, failedFiles] = await Promise.all([resultFile('SUCCEEDED'), resultFile('FAILED')]);
    const manifestKey = `${folder}/manifest.json`;
    await put(
      manifestKey,
      JSON.stringify({
        DestinationBucket: Bucket,
        MapRunArn: mapRunArn,
        ResultFiles: { FAILED: failedFiles, PENDING: [], SUCCEEDED: succeededFiles },
      }),
    );
    return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifestKey } };
  };
  /** The Map's output at its ResultPath, in the state data without the helpers' keys. */
  const placeOutput: TaskHandler = async (event) => {
    const { state, resultPath } = event as { state: Json; resultPath: string | null };
    return setAtPath(withoutHelperData(state) as Json, resultPath, state[OUTPUT_KEY]);
  };
  return new Map([
    [READER_FUNCTION, readItems],
    [WRITER_FUNCTION, writeResults],
    [PLACE_FUNCTION, placeOutput],
  ]);
}
