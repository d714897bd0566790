/**
 * A Distributed Map's `ItemReader` and `ResultWriter`, which aws-local-stepfunctions does not
 * run, built around it: before a definition runs, each Map that has them is rewritten into
 *   `<Map> ⟨read items⟩` (a Task that reads the items from S3: a JSON array, or JSON Lines)
 *   -> the Map over those items (inline, `MaxConcurrency` honoured)
 *   -> `<Map> ⟨write results⟩` (a Task that writes the iterations' results to S3 in AWS's layout,
 *      `<Prefix>/<map run id>/manifest.json` and `SUCCEEDED_0.json`, and puts AWS's output,
 *      `{MapRunArn, ResultWriterDetails: {Bucket, Key}}`, at the Map's `ResultPath`).
 * The helper states are local plumbing: their history events are hidden, and the items and
 * results they carry in the state data (which on AWS never enter it) are left out of the
 * 256 KiB check.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TaskHandler } from '../../tasks/handler.ts';

type Json = { [key: string]: unknown };

/** Where the rewritten definition keeps the items read and the results gathered. */
export const ITEMS_KEY = '__distributedMapItems';
export const RESULTS_KEY = '__distributedMapResults';

const READER_FUNCTION = '__local-item-reader';
const WRITER_FUNCTION = '__local-result-writer';
const functionArn = (name: string) => `arn:aws:lambda:local:000000000000:function:${name}`;
const READ_SUFFIX = ' ⟨read items⟩';
const WRITE_SUFFIX = ' ⟨write results⟩';

/** Whether a state is one of the helpers this rewrite adds. */
export const isHelperState = (name: string): boolean => name.endsWith(READ_SUFFIX) || name.endsWith(WRITE_SUFFIX);

/** The state data without what only the local rewrite puts there. */
export function withoutHelperData(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  if (!(ITEMS_KEY in value) && !(RESULTS_KEY in value)) return value;
  const { [ITEMS_KEY]: _items, [RESULTS_KEY]: _results, ...rest } = value as Json;
  return rest;
}

/** Points every transition to `from` at `to` instead. */
function retarget(states: Record<string, Json>, from: string, to: string): void {
  for (const state of Object.values(states)) {
    if (state['Next'] === from) state['Next'] = to;
    if (state['Default'] === from) state['Default'] = to;
    for (const choice of (state['Choices'] ?? []) as Json[]) if (choice['Next'] === from) choice['Next'] = to;
    for (const handler of (state['Catch'] ?? []) as Json[]) if (handler['Next'] === from) handler['Next'] = to;
  }
}

/** The definition with every top-level Map's ItemReader and ResultWriter made into helper Tasks. */
export function rewriteDistributedMaps(definition: Json): Json {
  const rewritten = structuredClone(definition);
  const states = rewritten['States'] as Record<string, Json>;
  for (const [name, map] of Object.entries(states)) {
    if (map['Type'] !== 'Map') continue;
    const reader = map['ItemReader'] as Json | undefined;
    const writer = map['ResultWriter'] as Json | undefined;
    const onError = map['Catch'] ? { Catch: map['Catch'] } : {};
    if (reader) {
      const readName = name + READ_SUFFIX;
      retarget(states, name, readName);
      if (rewritten['StartAt'] === name) rewritten['StartAt'] = readName;
      const readerConfig = (reader['ReaderConfig'] ?? {}) as Json;
      states[readName] = {
        Type: 'Task',
        Resource: functionArn(READER_FUNCTION),
        Parameters: { ...((reader['Parameters'] ?? {}) as Json), InputType: readerConfig['InputType'] ?? 'JSON' },
        ResultPath: `$.${ITEMS_KEY}`,
        Next: name,
        ...onError,
      };
      delete map['ItemReader'];
      map['ItemsPath'] = `$.${ITEMS_KEY}`;
    }
    if (writer) {
      const writeName = name + WRITE_SUFFIX;
      const next = map['End'] ? { End: true } : { Next: map['Next'] };
      states[writeName] = {
        Type: 'Task',
        Resource: functionArn(WRITER_FUNCTION),
        Parameters: {
          ...((writer['Parameters'] ?? {}) as Json),
          'state.$': '$',
          'executionArn.$': '$$.Execution.Id',
          map: name,
          resultPath: 'ResultPath' in map ? map['ResultPath'] : '$',
        },
        // No ResultPath: the result (the whole state, rebuilt) replaces the state data.
        ...next,
        ...onError,
      };
      delete map['ResultWriter'];
      delete map['End'];
      map['ResultPath'] = `$.${RESULTS_KEY}`;
      map['Next'] = writeName;
    }
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
export function distributedMapHandlers(s3: () => S3Client, region: string): Map<string, TaskHandler> {
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
    const { state, executionArn, map, resultPath, Bucket, Prefix } = event as {
      state: Json;
      executionArn: string;
      map: string;
      resultPath: string | null;
      Bucket: string;
      Prefix?: string;
    };
    const results = (state[RESULTS_KEY] ?? []) as unknown[];
    const runId = randomUUID();
    const [, , , , account, , machine, execution] = executionArn.split(':');
    const mapRunArn = `arn:aws:states:${region}:${account}:mapRun:${machine}/${map}:${runId}`;
    const folder = `${Prefix ? `${Prefix.replace(/\/$/, '')}/` : ''}${runId}`;
    const now = new Date().toISOString();
    // One record per child execution, as AWS writes them (every local iteration that ends is a success:
    // an iteration failure fails the whole Map here).
    const succeeded = results.map((output, index) => ({
      ExecutionArn: `arn:aws:states:${region}:${account}:execution:${machine}/${map}:${execution}-${index}`,
      Input: '',
      InputDetails: { Included: false },
      Name: `${execution}-${index}`,
      Output: JSON.stringify(output),
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      StartDate: now,
      StateMachineArn: `arn:aws:states:${region}:${account}:stateMachine:${machine}/${map}`,
      Status: 'SUCCEEDED',
      StopDate: now,
    }));
    const put = (key: string, body: string) =>
      s3().send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: 'application/json' }));
    const succeededKey = `${folder}/SUCCEEDED_0.json`;
    const succeededBody = JSON.stringify(succeeded);
    await put(succeededKey, succeededBody);
    const manifestKey = `${folder}/manifest.json`;
    await put(
      manifestKey,
      JSON.stringify({
        DestinationBucket: Bucket,
        MapRunArn: mapRunArn,
        ResultFiles: {
          FAILED: [],
          PENDING: [],
          SUCCEEDED: [{ Key: succeededKey, Size: Buffer.byteLength(succeededBody) }],
        },
      }),
    );
    const output = { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifestKey } };
    return setAtPath(withoutHelperData(state) as Json, resultPath, output);
  };
  return new Map([
    [READER_FUNCTION, readItems],
    [WRITER_FUNCTION, writeResults],
  ]);
}
