/**
 * An indexer on a local stack for integration tests: the real handlers, with optional stage
 * wrappers to inject faults, plus helpers to write items and inspect the index and the table.
 */
import { type AttributeValue, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { batchWriteItems } from '../../aws/dynamodb-batch.ts';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { localFunctionArns, renderIndexerDefinition } from '../../asl/indexer.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import type { IndexEntry } from '../../index-store/index-entry.ts';
import type { IndexerContext } from '../../indexer/context.ts';
import { DELETE_MARKER_ATTRIBUTE, newVersionToken, readVersion } from '../../table/items.ts';
import { RESERVED_GROUP } from '../../table/reserved-items.ts';
import type { LocalStack } from '../../local-stack/stack.ts';
import { createIndexerHandlers, indexerStages } from '../../tasks/indexer-handlers.ts';
import { ensureModelPublished } from '../../workflow/local-stack-props.ts';
import { readHistory } from '../../workflow/indexer-client.ts';
import { apiGateway, withLocalJwtAuthorizer } from '../../local-stack/api-gateway.ts';
import { createSearchHandler } from '../../tasks/search-handler.ts';
import { createCaptureHandler } from '../../tasks/capture-handler.ts';
import type { StreamEvent } from '../../indexer/capture.ts';
import { requestRunForPending } from '../../tasks/capture-run.ts';
import { searchRoutes } from '../../tasks/search-routes.ts';
import { localObservability } from '../../lambda-host/observability.ts';
import type { Observability } from '../../tasks/observability.ts';
import { startTestStack, tempDir, useForDescribe } from './local-stack.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localMetricsFile } from '../../lambda-host/observability.ts';
import { monitorApi, type MonitorProps } from '../../workflow/monitor/api.ts';
import { localMetricsSource } from '../../workflow/monitor/metrics-source.ts';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { writeBatchList } from '../../indexer/batch-list.ts';
import { type BatchDescriptor, writeBatch } from '../../indexer/run-files.ts';
import { loadEmbedder } from '../../embedding/runtime.ts';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'node:test';

export type Stages = ReturnType<typeof indexerStages>;
/** Replaces some stages; each gets the real stages to call through. */
export type StageOverrides = (real: Stages, context: IndexerContext) => Partial<Stages>;

export interface TestItem {
  readonly group?: string;
  readonly id: string;
  readonly content?: AttributeValue;
  readonly text?: string;
  readonly pending?: boolean;
}

export interface RunOutcome {
  readonly executionArn: string;
  readonly status: string;
  readonly output: Record<string, any>;
  readonly error?: string;
  readonly cause?: string;
}

/** The local observability with silent logs: metrics still go to the data folder's file. */
export const testObservability = (dataDir: string) => localObservability({ dataDir, logLevel: 'SILENT' });

export class IndexerHarness {
  overrides: StageOverrides = () => ({});
  /** Called before each capture call (stream mode): a test makes it throw to fail the call. */
  captureFault: (event: StreamEvent) => void = () => {};
  private constructor(readonly stack: LocalStack) {}

  /** @param observability the handlers' logs and metrics; silent logs and file metrics by default */
  static async start(
    dataDir: string,
    flags: Record<string, string> = {},
    observability: Observability = testObservability(dataDir),
  ): Promise<IndexerHarness> {
    let harness: IndexerHarness | undefined;
    const stack = await startTestStack(dataDir, {
      flags: { 'batch-size': '50', ...flags },
      createHandlers: (context) => {
        const real = indexerStages(context);
        // Resolved per call, so a test can change the overrides between runs.
        const stages = Object.fromEntries(
          (Object.keys(real) as (keyof Stages)[]).map((task) => [
            task,
            (event: never) => ({ ...real, ...harness!.overrides(real, context) })[task](event),
          ]),
        ) as unknown as Stages;
        return createIndexerHandlers(context, observability, stages);
      },
      createCapture: ({ config, clients, stateMachineArns }) => {
        const context = { config, clients, stateMachineArn: () => stateMachineArns['indexer'] ?? '' };
        const real = createCaptureHandler(context, observability);
        return {
          // Resolved per call, so a test can make the capture step fail and heal.
          handler: async (event, lambdaContext) => {
            harness!.captureFault(event);
            return real(event, lambdaContext);
          },
          resume: () => requestRunForPending(context),
        };
      },
      httpApp: ({ config, clients }) =>
        apiGateway(
          searchRoutes(createSearchHandler({ config, clients }, observability)),
          withLocalJwtAuthorizer(config), // as `up` serves it
        ),
      stateMachines: {},
    });
    const definition = renderIndexerDefinition({
      functionArns: localFunctionArns(stack.config.region),
      maxConcurrency: stack.config.maxConcurrency,
    });
    (stack.stateMachineArns as Record<string, string>)['indexer'] = stack.stepFunctions.createOrUpdateStateMachine(
      'indexer',
      definition,
    ).stateMachineArn;
    await ensureModelPublished(stack.clients.s3, stack.config);
    harness = new IndexerHarness(stack);
    await stack.resumeCapture();
    return harness;
  }

  get config() {
    return this.stack.config;
  }

  /** Calls the search service over HTTP. */
  async search(
    query: string | Record<string, unknown>,
    init: RequestInit = {},
  ): Promise<{ status: number; body: any; text: string }> {
    const base = `${this.stack.info.endpoints.http}/search`;
    const response =
      typeof query === 'string'
        ? await fetch(`${base}?${query}`, init)
        : await fetch(base, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(query),
            ...init,
          });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  }

  async close(): Promise<void> {
    await this.stack.close();
  }

  /**
   * Serves the monitor's API for this stack on a free port, as `up` does (local metrics file);
   * `props` replaces any part (clients, backlog bounds).
   */
  async serveMonitor(props: Partial<MonitorProps> = {}): Promise<{ base: string; close: () => Promise<void> }> {
    const server = createServer(
      monitorApi({
        config: this.config,
        clients: this.stack.clients,
        stateMachineArn: () => this.stack.stateMachineArns['indexer']!,
        metrics: localMetricsSource(localMetricsFile(this.config.dataDir)),
        ...props,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  /** Writes items (pending by default) with fresh version tokens. */
  async put(items: readonly TestItem[]): Promise<void> {
    const { config } = this;
    const result = await batchWriteItems(
      this.stack.clients.dynamodb,
      config.tableName,
      items.map((item) => ({
        PutRequest: {
          Item: {
            [config.groupAttribute]: { S: item.group ?? 'g' },
            [config.idAttribute]: { S: item.id },
            ...(item.content
              ? { [config.contentAttribute]: item.content }
              : item.text !== undefined
                ? { [config.contentAttribute]: { S: item.text } }
                : {}),
            ...(item.pending === false ? {} : { [config.pendingAttribute]: { N: String(newVersionToken()) } }),
          },
        },
      })),
    );
    if (result.failed.length > 0) throw new Error(`DynamoDB refused test items: ${JSON.stringify(result.failed)}`);
  }

  /** Edits an item's content the way a writer must: with a fresh version token. */
  async edit(id: string, text: string, group = 'g'): Promise<void> {
    const { config } = this;
    await this.stack.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.tableName,
        Key: { [config.groupAttribute]: { S: group }, [config.idAttribute]: { S: id } },
        UpdateExpression: 'SET #c = :c, #p = :p',
        ExpressionAttributeNames: { '#c': config.contentAttribute, '#p': config.pendingAttribute },
        ExpressionAttributeValues: { ':c': { S: text }, ':p': { N: String(newVersionToken()) } },
      }),
    );
  }

  /** Soft-deletes an item (the documented protocol). */
  async softDelete(id: string, group = 'g'): Promise<void> {
    const { config } = this;
    await this.stack.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.tableName,
        Key: { [config.groupAttribute]: { S: group }, [config.idAttribute]: { S: id } },
        UpdateExpression: 'SET #d = :true, #p = :p',
        ExpressionAttributeNames: { '#d': DELETE_MARKER_ATTRIBUTE, '#p': config.pendingAttribute },
        ExpressionAttributeValues: { ':true': { BOOL: true }, ':p': { N: String(newVersionToken()) } },
      }),
    );
  }

  /** Starts an indexer run and returns its execution ARN without waiting. */
  async start(mode?: 'incremental' | 'backfill', stateMachine = 'indexer'): Promise<string> {
    const sfn = this.stack.clients.stepFunctions;
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: this.stack.stateMachineArns[stateMachine],
        input: JSON.stringify(mode ? { mode } : {}),
      }),
    );
    return executionArn!;
  }

  /** Waits for an execution to end and returns its outcome. */
  async outcome(executionArn: string): Promise<RunOutcome> {
    await this.stack.stepFunctions.settled(executionArn);
    const described = await this.stack.clients.stepFunctions.send(new DescribeExecutionCommand({ executionArn }));
    return {
      executionArn,
      status: described.status ?? 'UNKNOWN',
      output: described.output ? JSON.parse(described.output) : {},
      ...(described.error ? { error: described.error } : {}),
      ...(described.cause ? { cause: described.cause } : {}),
    };
  }

  /** Runs the indexer to its end. */
  async run(mode?: 'incremental' | 'backfill'): Promise<RunOutcome> {
    return this.outcome(await this.start(mode));
  }

  /** The states an execution entered, in order. */
  async statesEntered(executionArn: string): Promise<string[]> {
    const events = await readHistory(this.stack.clients.stepFunctions, executionArn);
    return events
      .filter((event) => event.type?.endsWith('StateEntered'))
      .map((event) => event.stateEnteredEventDetails?.name ?? '');
  }

  /** The writer lease item, if any. */
  async lease(): Promise<Record<string, AttributeValue> | undefined> {
    return (await this.reservedItems()).find((item) => item[this.config.idAttribute]?.S === 'writer-lease');
  }

  /** The current generation: number and entries (undefined before the first). */
  index(): { generation: number; entries: IndexEntry[] } | undefined {
    const store = new GenerationStore(this.config.efsRoot);
    const current = store.current();
    if (!current) return undefined;
    const meta = store.meta(current);
    return { generation: meta.generation, entries: SegmentedIndex.open(store, meta).entries() };
  }

  /** Ids of the items in the current index, sorted (duplicates kept, so tests see them). */
  indexedIds(): string[] {
    return (this.index()?.entries ?? []).map((entry) => entry.id).sort();
  }

  /** Every item of the table except ddb-faiss's own, by id. */
  async items(): Promise<Map<string, Record<string, AttributeValue>>> {
    const { config } = this;
    const items = new Map<string, Record<string, AttributeValue>>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.stack.clients.dynamodb.send(
        new ScanCommand({ TableName: config.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) {
        if (item[config.groupAttribute]?.S !== RESERVED_GROUP) items.set(item[config.idAttribute]!.S!, item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  async pendingIds(): Promise<string[]> {
    return [...(await this.items()).values()]
      .filter((item) => item[this.config.pendingAttribute])
      .map((item) => item[this.config.idAttribute]!.S!)
      .sort();
  }

  async reservedItems(): Promise<Record<string, AttributeValue>[]> {
    const page = await this.stack.clients.dynamodb.send(
      new ScanCommand({ TableName: this.config.tableName, ConsistentRead: true }),
    );
    return (page.Items ?? []).filter((item) => item[this.config.groupAttribute]?.S === RESERVED_GROUP);
  }
}

export const sentences = (n: number, prefix = 'item'): TestItem[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, '0')}`,
    text: [
      SUBJECTS[i % SUBJECTS.length],
      VERBS[Math.floor(i / SUBJECTS.length) % VERBS.length],
      OBJECTS[Math.floor(i / (SUBJECTS.length * VERBS.length)) % OBJECTS.length],
      `number ${i}`,
    ].join(' '),
  }));

const SUBJECTS = [
  'a man',
  'a woman',
  'the child',
  'a dog',
  'the cat',
  'a farmer',
  'the pilot',
  'a teacher',
  'the doctor',
  'a singer',
];
const VERBS = [
  'is playing',
  'is cooking',
  'is reading',
  'is painting',
  'is riding',
  'is cleaning',
  'is watching',
  'is carrying',
];
const OBJECTS = [
  'a guitar',
  'the dinner',
  'a book',
  'the fence',
  'a horse',
  'the kitchen',
  'a movie',
  'a heavy box',
  'the piano',
  'a bicycle',
];

/**
 * A harness (flags mode unless `flags` say otherwise) for one `describe` block: started before its
 * tests, closed and its folder removed after them.
 */
export function useHarness(flags: Record<string, string> = {}): {
  readonly h: IndexerHarness;
  readonly dataDir: string;
} {
  const used = useForDescribe('harness', (dataDir) => IndexerHarness.start(dataDir, flags));
  return {
    get h(): IndexerHarness {
      return used.get();
    },
    dataDir: used.dataDir,
  };
}

/** The id of the best match for a text in the current index (default model). */
export async function topHit(h: IndexerHarness, text: string): Promise<string | undefined> {
  const store = new GenerationStore(h.config.efsRoot);
  const index = SegmentedIndex.open(store, store.meta(store.current()!));
  const model = path.join(h.config.efsRoot, 'models');
  const bundle = readdirSync(model).find((name) => name.startsWith('default@'))!;
  const embedder = await loadEmbedder(path.join(model, bundle));
  const [query] = await embedder.embed([text]);
  assert.ok(query?.ok);
  return index.search(query.vector, 1)[0]?.entry.id;
}

/** The plan with one more batch listing `id` at its current version: the item seen twice in one run. */
export async function listedAgain(
  h: IndexerHarness,
  event: Parameters<Stages['plan']>[0],
  plan: Awaited<ReturnType<Stages['plan']>>,
  id: string,
): Promise<Awaited<ReturnType<Stages['plan']>>> {
  const version = readVersion(h.config, (await h.items()).get(id)!);
  const again = writeBatch(h.config.efsRoot, event.run.execution, plan.batchCount + 1, [{ group: 'g', id, version }]);
  const listed = await h.stack.clients.s3.send(
    new GetObjectCommand({ Bucket: plan.batchList!.bucket, Key: plan.batchList!.key }),
  );
  const batches = JSON.parse(await listed.Body!.transformToString()) as BatchDescriptor[];
  const context = { config: h.config, clients: h.stack.clients };
  return {
    ...plan,
    batchCount: plan.batchCount + 1,
    itemCount: plan.itemCount + 1,
    batchList: await writeBatchList(context, event.run, [...batches, again]),
  };
}

/** The ids of `sentences(n, prefix)`, sorted: what an index holding them lists. */
export const sortedIds = (n: number, prefix = 'item'): string[] =>
  sentences(n, prefix)
    .map((item) => item.id)
    .sort();

/** A harness on a fresh data folder for each test of the describe it is called in, handed to `use`. */
export function harnessForEachTest(use: (harness: IndexerHarness) => void): void {
  let dir: ReturnType<typeof tempDir>;
  let harness: IndexerHarness;
  beforeEach(async () => {
    dir = tempDir();
    use((harness = await IndexerHarness.start(dir.path)));
  });
  afterEach(async () => {
    await harness.close();
    dir.remove();
  });
}
