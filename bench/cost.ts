/**
 * `npm run bench:cost`: what ddb-faiss's runs and searches use, counted on the local stack in the
 * default change capture mode (stream), from the requests they really send: every AWS request by
 * service and operation (the request meter on the SDK clients, `aws/request-meter.ts`), DynamoDB's
 * consumed capacity, S3 bytes, EFS bytes read and written (`bench/efs-io.ts`), Step Functions
 * state transitions (each run's history and each Map Run child's), and each Lambda handler's
 * invocations and time. Scenarios:
 * - `stream_1kb` / `stream_30kb`: 10,000 items of about 1 KB / 30 KB written through the
 *   SDK by the user (not counted), captured from the table's stream and indexed by the runs the
 *   capture starts, until nothing is pending and no run is left;
 * - `backfill_1kb` / `backfill_30kb`: `ddb-faiss backfill` over the same table;
 * - `small_run`: one item written, its captured run (what a run costs whatever it carries);
 * - `idle_run`: a scheduled run with nothing pending (what the schedule costs when nothing changed);
 * - `queries`: 10,000 searches through `/search` (vector ranking, k = 10) on the 1 KB index.
 * Then the index at rest: its bytes on EFS, ddb-faiss's objects in S3, its own items in DynamoDB.
 * `-- --quick` measures a tenth of each, to try the bench out (its figures are not the ones kept).
 * The usage goes to `bench/results.json` (`cost.measured`), with the dollar figures derived from it
 * and the price table (`cost/prices.ts`, `cost/estimate.ts`).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  QueryCommand,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type ExecutionListItem, ListExecutionsCommand, ListMapRunsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { requestMeter } from '../aws/request-meter.ts';
import { itemSizeBytes } from '../aws/item-size.ts';
import { LOCAL_FUNCTION_PREFIX, type FunctionName } from '../asl/tasks.ts';
import { stsDir } from '../models/sts.ts';
import type { TaskHandler } from '../tasks/handler.ts';
import { keyAttributes } from '../table/items.ts';
import { RESERVED_GROUP } from '../table/reserved-items.ts';
import { IndexReader } from '../search/index-reader.ts';
import { readHistory } from '../workflow/indexer-client.ts';
import {
  type AtRest,
  costDollars,
  type IndexAtScale,
  type ItemSize,
  MEASURED_ITEM_BYTES,
  type MeasuredUsage,
  type ScenarioUsage,
} from '../cost/estimate.ts';
import { DEFAULT_SCHEDULE_MINUTES } from '../infra/sizing.ts';
import { startWorkflowBench } from './bench-stack.ts';
import { corpus } from './e2e.ts';
import { countEfsBytes } from './efs-io.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Invocations and seconds of each function, as the local engine calls the handlers. */
class LambdaTimes {
  private readonly rows = new Map<FunctionName, { invocations: number; seconds: number }>();
  add(name: FunctionName, seconds: number): void {
    const row = this.rows.get(name) ?? { invocations: 0, seconds: 0 };
    row.invocations += 1;
    row.seconds += seconds;
    this.rows.set(name, row);
  }
  timed<E, R>(name: FunctionName, handler: TaskHandler<E, R>): TaskHandler<E, R> {
    return async (event, context) => {
      const started = performance.now();
      try {
        return await handler(event, context);
      } finally {
        this.add(name, (performance.now() - started) / 1000);
      }
    };
  }
  take(): Partial<Record<FunctionName, { invocations: number; seconds: number }>> {
    const taken = Object.fromEntries(
      [...this.rows].map(([name, row]) => [
        name,
        { invocations: row.invocations, seconds: Number(row.seconds.toFixed(3)) },
      ]),
    );
    this.rows.clear();
    return taken;
  }
}

/** Texts of about `bytes` bytes, from STS sentences. */
function texts(count: number, bytes: number): string[] {
  const sentences = corpus(stsDir(), Math.max(count, 2_000));
  return Array.from({ length: count }, (_, i) => {
    let text = sentences[i]!;
    for (let j = 1; text.length < bytes; j++) text += ` ${sentences[(i * 7 + j) % sentences.length]}`;
    return text.slice(0, bytes);
  });
}

/** Seconds a run spent in Wait states (the debounce, the run spacing, waiting for the lease). */
function waitSecondsOf(history: readonly { type?: string; timestamp?: Date }[]): number {
  let seconds = 0;
  let entered: Date | undefined;
  for (const event of history) {
    if (event.type === 'WaitStateEntered') entered = event.timestamp;
    if (event.type === 'WaitStateExited' && entered && event.timestamp)
      seconds += (event.timestamp.getTime() - entered.getTime()) / 1000;
  }
  return seconds;
}

/** Step Functions state transitions: states entered, plus retries (a Task scheduled again). */
function transitionsOf(history: readonly { type?: string }[]): number {
  let entered = 0;
  let scheduled = 0;
  let taskStates = 0;
  for (const event of history) {
    if (event.type?.endsWith('StateEntered')) entered += 1;
    if (event.type === 'TaskStateEntered') taskStates += 1;
    if (event.type === 'LambdaFunctionScheduled' || event.type === 'TaskScheduled') scheduled += 1;
  }
  return entered + Math.max(0, scheduled - taskStates);
}

async function stepFunctionsUsage(sfn: SFNClient, stateMachineArn: string, since: Date) {
  let transitions = 0;
  let runSeconds = 0;
  let executions = 0;
  let childExecutions = 0;
  const runs: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken }));
    runs.push(...(page.executions ?? []).filter((run) => run.startDate && run.startDate >= since));
    nextToken = page.nextToken;
  } while (nextToken);
  for (const run of runs) {
    executions += 1;
    const history = await readHistory(sfn, run.executionArn!);
    runSeconds += ((run.stopDate ?? new Date()).getTime() - run.startDate!.getTime()) / 1000 - waitSecondsOf(history);
    transitions += transitionsOf(history);
    for (const mapRun of (await sfn.send(new ListMapRunsCommand({ executionArn: run.executionArn! }))).mapRuns ?? []) {
      let childToken: string | undefined;
      do {
        const page = await sfn.send(new ListExecutionsCommand({ mapRunArn: mapRun.mapRunArn!, nextToken: childToken }));
        for (const child of page.executions ?? []) {
          childExecutions += 1;
          transitions += transitionsOf(await readHistory(sfn, child.executionArn!));
        }
        childToken = page.nextToken;
      } while (childToken);
    }
  }
  return { transitions, runSeconds, executions, childExecutions, statuses: runs.map((run) => run.status) };
}

function folderBytes(dir: string, skip: (name: string) => boolean = () => false): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
  }
  return total;
}

/** The index at a million vectors, as `npm run bench -- --scale` measured it. */
function indexAtScale(): IndexAtScale {
  const { sizes } = JSON.parse(readFileSync(new URL('./results-scale.json', import.meta.url), 'utf8')) as {
    sizes: { date: string; vectors: number; index_bytes_per_vector: number; disk_bytes_per_vector: number }[];
  };
  // The million the cost model interpolates to, else the nearest size measured.
  const distance = (vectors: number) => Math.abs(Math.log(vectors / 1_000_000));
  const scale = [...sizes].sort((a, b) => distance(a.vectors) - distance(b.vectors))[0];
  if (!scale) throw new Error('bench/results-scale.json holds no size: run npm run bench -- --scale');
  return {
    vectors: scale.vectors,
    diskBytesPerVector: scale.disk_bytes_per_vector,
    searchBytesPerVector: scale.index_bytes_per_vector,
    date: scale.date,
  };
}

/** A stream-mode stack whose handlers are timed, with what a scenario needs to count what it uses. */
async function costStack(prefix: string) {
  const times = new LambdaTimes();
  const bench = await startWorkflowBench(prefix, { 'change-capture': 'stream' }, (props) => ({
    ...props,
    createHandlers: (context) =>
      new Map(
        [...props.createHandlers!(context)].map(([name, handler]) => [
          name,
          times.timed(name.slice(LOCAL_FUNCTION_PREFIX.length + 1) as FunctionName, handler),
        ]),
      ),
    createCapture: (context) => {
      const capture = props.createCapture!(context);
      return { ...capture, handler: times.timed('capture', capture.handler) };
    },
  }));
  const { config, stack } = bench;
  const sfn = stack.clients.stepFunctions;
  const ddb = stack.clients.dynamodb;
  const stateMachineArn = stack.stateMachineArns[config.stateMachineName]!;
  const efs = countEfsBytes(config.efsRoot);
  const unmetered = <T>(work: () => Promise<T>): Promise<T> => requestMeter.unmetered(work);

  /** Items pending: change markers and flags, in the sparse index. */
  const pendingCount = () =>
    unmetered(async () => {
      let found = 0;
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await ddb.send(
          new ScanCommand({
            TableName: config.tableName,
            IndexName: config.pendingIndexName,
            Select: 'COUNT',
            ExclusiveStartKey: startKey,
          }),
        );
        found += page.Count ?? 0;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return found;
    });
  const running = (): Promise<number> =>
    unmetered(
      async () =>
        (await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING' }))).executions?.length ??
        0,
    );
  /** Until the capture has written every marker, its runs have taken them all and none is left. */
  const settle = async (): Promise<void> => {
    for (let quiet = 0; quiet < 3;) {
      await sleep(1_000);
      const idle = (await running()) === 0 && (await pendingCount()) === 0;
      quiet = idle ? quiet + 1 : 0;
    }
  };
  return {
    config,
    stack,
    settle,
    /** The user's writes (not counted): items of the given texts, 25 to a request. */
    writeItems: (prefix: string, contents: readonly string[]): Promise<void> =>
      unmetered(async () => {
        for (let start = 0; start < contents.length; start += 25) {
          let left: WriteRequest[] | undefined = contents.slice(start, start + 25).map((content, j) => ({
            PutRequest: {
              Item: {
                ...keyAttributes(config, { group: `g${(start + j) % 8}`, id: `${prefix}${start + j}` }),
                [config.contentAttribute]: { S: content },
              },
            },
          }));
          while (left && left.length > 0) {
            const response: BatchWriteItemCommandOutput = await ddb.send(
              new BatchWriteItemCommand({ RequestItems: { [config.tableName]: left } }),
            );
            left = response.UnprocessedItems?.[config.tableName];
          }
        }
      }),
    async run(backfill: boolean): Promise<void> {
      const { code, stdout } = await bench.cli([backfill ? 'backfill' : 'run', '--wait', '--json']);
      if (code !== 0) throw new Error(`the run failed: ${stdout}`);
    },
    /** Counts what `work` makes ddb-faiss send and use, from a settled stack. */
    async measure(units: number, work: () => Promise<Partial<ScenarioUsage> | void>): Promise<ScenarioUsage> {
      await settle();
      requestMeter.reset();
      efs.reset();
      times.take();
      const since = new Date(Date.now() - 1);
      const started = performance.now();
      const extra = (await work()) ?? {};
      const seconds = (performance.now() - started) / 1000;
      const usage = {
        units,
        seconds: Number(seconds.toFixed(2)),
        requests: requestMeter.tally(),
        lambda: times.take(),
        efsReadBytes: efs.read,
        efsWrittenBytes: efs.written,
        httpRequests: 0,
      };
      const steps = await unmetered(() => stepFunctionsUsage(sfn, stateMachineArn, since));
      const failed = steps.statuses.filter((status) => status !== 'SUCCEEDED');
      if (failed.length > 0) throw new Error(`runs did not all succeed: ${failed.join(', ')}`);
      return {
        ...usage,
        transitions: steps.transitions,
        runSeconds: Number(steps.runSeconds.toFixed(2)),
        executions: steps.executions,
        childExecutions: steps.childExecutions,
        ...extra,
      };
    },
    /** The index at rest: EFS without the model bundle, ddb-faiss's S3 objects and own items. */
    async atRest(items: number): Promise<AtRest> {
      const s3Bytes = await unmetered(async () => {
        let bytes = 0;
        let token: string | undefined;
        do {
          const page = await stack.clients.s3.send(
            new ListObjectsV2Command({ Bucket: config.bucketName, ContinuationToken: token }),
          );
          for (const object of page.Contents ?? []) bytes += object.Size ?? 0;
          token = page.NextContinuationToken;
        } while (token);
        return bytes;
      });
      // ddb-faiss's own items share one partition: read it alone (a scan would read every item).
      let ownItemBytes = 0;
      let ownItems = 0;
      await unmetered(async () => {
        let startKey: Record<string, AttributeValue> | undefined;
        do {
          const page = await ddb.send(
            new QueryCommand({
              TableName: config.tableName,
              KeyConditionExpression: '#g = :reserved',
              ExpressionAttributeNames: { '#g': config.groupAttribute },
              ExpressionAttributeValues: { ':reserved': { S: RESERVED_GROUP } },
              ExclusiveStartKey: startKey,
            }),
          );
          for (const item of page.Items ?? []) {
            ownItemBytes += itemSizeBytes(item);
            ownItems += 1;
          }
          startKey = page.LastEvaluatedKey;
        } while (startKey);
      });
      // What a new search instance reads to load the index: a reader of its own, opened here.
      efs.reset();
      new IndexReader(config.efsRoot, config.indexLayout).current();
      const searchLoadBytes = efs.read;
      return {
        items,
        searchLoadBytes,
        indexBytes: folderBytes(config.efsRoot, (name) => name === 'models' || name === 'runs'),
        modelBytes: folderBytes(path.join(config.efsRoot, 'models')),
        s3Bytes,
        ownItemBytes,
        ownItems,
      };
    },
    async close(): Promise<void> {
      efs.stop();
      await bench.close();
    },
  };
}

/** `count` items of `bytes` captured, then backfilled, on a stack of their own. */
async function measureItems(size: ItemSize, count: number) {
  const stack = await costStack(`ddb-faiss-bench-cost-${size}-`);
  try {
    const contents = texts(count, MEASURED_ITEM_BYTES[size]);
    // A first run copies the model bundle to EFS, once per deployment: not an item's cost.
    await stack.writeItems('warm-up-', ['the first item, whose run bootstraps the model']);
    const captured = await stack.measure(count, async () => {
      await stack.writeItems('item', contents);
      await stack.settle();
    });
    const atRest = await stack.atRest(count);
    const backfill = await stack.measure(count, () => stack.run(true));
    return { stack, captured, atRest, backfill };
  } catch (error) {
    await stack.close();
    throw error;
  }
}

/** Items (of each size) and queries measured: 10,000; a tenth with `quick`. */
export async function benchCost(quick = false): Promise<MeasuredUsage> {
  const scale = quick ? 0.1 : 1;
  const large = await measureItems('30kb', 10_000 * scale);
  await large.stack.close();
  const small = await measureItems('1kb', 10_000 * scale);
  const { stack } = small;
  try {
    const smallRun = await stack.measure(1, async () => {
      await stack.writeItems('one-more-', ['one more item, written on its own']);
      await stack.settle();
    });
    const idleRun = await stack.measure(1, () => stack.run(false));
    const queryTexts = texts(10_000 * scale, 80);
    const search = `${stack.stack.info.endpoints.http}/search`;
    const ask = async (q: string): Promise<void> => {
      const response = await fetch(search, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ q, k: 10 }),
      });
      if (!response.ok) throw new Error(`search failed (HTTP ${response.status}): ${await response.text()}`);
      await response.arrayBuffer();
    };
    // A warm instance: what loading the index costs is the cold starts' part (`atRest.searchLoadBytes`).
    await ask('warm up');
    const queries = await stack.measure(queryTexts.length, async () => {
      const started = performance.now();
      for (const q of queryTexts) await ask(q);
      // Timed from the client, the local HTTP hop included: an upper bound of the function's time.
      const seconds = (performance.now() - started) / 1000;
      return {
        lambda: { search: { invocations: queryTexts.length, seconds: Number(seconds.toFixed(3)) } },
        httpRequests: queryTexts.length,
      };
    });
    return {
      date: new Date().toISOString(),
      scenarios: {
        stream_1kb: small.captured,
        backfill_1kb: small.backfill,
        stream_30kb: large.captured,
        backfill_30kb: large.backfill,
        small_run: smallRun,
        idle_run: idleRun,
        queries,
      },
      atRest: { '1kb': small.atRest, '30kb': large.atRest },
      atScale: indexAtScale(),
    };
  } finally {
    await stack.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const usage = await benchCost(process.argv.includes('--quick'));
  const cost = { usage, dollars: costDollars(usage, DEFAULT_SCHEDULE_MINUTES) };
  const file = new URL('./results.json', import.meta.url);
  writeFileSync(file, `${JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), cost }, null, 2)}\n`);
  console.log(JSON.stringify(cost.dollars, null, 2));
}
