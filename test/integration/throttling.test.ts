/**
 * A throttled table slows a run but never fails it. Every DynamoDB request of the local stack
 * (the tasks, search, the CLI) goes through a proxy, set as the DynamoDB endpoint, that answers a
 * share of them with DynamoDB's throttling errors: runs complete with every item indexed exactly
 * once and nothing left pending, the clear stage resumes where it stopped, `import` lands every
 * line, and search retries its reads and answers 503 with Retry-After only when it cannot.
 */
import {
  BatchExecuteStatementCommand,
  type BatchExecuteStatementInput,
  type DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forEachConcurrently } from '../../aws/concurrency.ts';
import { indexerStages } from '../../tasks/indexer-handlers.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, type TestItem } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { freePort, startThrottlingProxy, type ThrottlingProxy } from '../helpers/throttling-proxy.ts';

const ADJECTIVES = ['red', 'quiet', 'old', 'bright', 'heavy', 'small', 'wooden', 'cold', 'happy', 'tall'];
const NOUNS = ['horse', 'kitchen', 'river', 'guitar', 'teacher', 'bridge', 'garden', 'engine', 'island', 'camera'];
const VERBS = ['sleeps', 'burns', 'sings', 'waits', 'falls', 'shines', 'breaks', 'floats', 'turns', 'grows'];
const PLACES = ['in the city', 'near the sea', 'under the tree', 'at night', 'in winter'];
const MANNERS = ['slowly', 'loudly', 'again', 'alone'];

/**
 * Items whose texts differ in their words (not only in their order), so each is found first by its
 * own text: up to 5,000 per `manner` (one of four sets).
 */
const distinctItems = (count: number, prefix: string, manner = 0): TestItem[] =>
  Array.from({ length: count }, (_, i) => {
    const words = [
      ADJECTIVES[i % 10],
      NOUNS[Math.floor(i / 10) % 10],
      VERBS[Math.floor(i / 100) % 10],
      MANNERS[manner],
      PLACES[Math.floor(i / 1000) % 5],
    ];
    return { id: `${prefix}-${i}`, text: `the ${words.join(' ')}` };
  });

describe('a throttled table', () => {
  const dir = tempDir();
  let proxy: ThrottlingProxy;
  let h: IndexerHarness;
  before(async () => {
    const port = await freePort();
    proxy = await startThrottlingProxy(`http://127.0.0.1:${port}`);
    h = await IndexerHarness.start(dir.path, {
      'dynamodb-port': String(port),
      'dynamodb-endpoint': proxy.endpoint,
      'batch-size': '1000',
    });
  });
  after(async () => {
    await h.close();
    await proxy.close();
    dir.remove();
  });

  it('indexes 5,000 items with 20% of DynamoDB requests throttled: every item found by its own text, none pending', async () => {
    // Prepare
    proxy.throttle(0.2);
    const items = distinctItems(5_000, 'load');
    await h.put(items);
    const throttledBefore = proxy.counts.throttled;
    // Act
    const run = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.equal(run.output['merge'].added, 5_000);
    assert.equal(run.output['clear'].cleared, 5_000);
    assert.deepEqual(await h.pendingIds(), []);
    const indexed = h.indexedIds();
    assert.equal(indexed.length, 5_000);
    assert.equal(new Set(indexed).size, 5_000, 'each item exactly once');
    assert.ok(proxy.counts.throttled - throttledBefore > 50, `the run was throttled ${proxy.counts.throttled} times`);
    // Every item, searched for by its own text while reads are throttled, comes first. A client
    // honours a 503's Retry-After (search's own retries make one rare: ten reads in a row throttled).
    const misses: string[] = [];
    let busy = 0;
    await forEachConcurrently(items, 8, async (item) => {
      let answer = await h.search(`q=${encodeURIComponent(item.text!)}&k=1`);
      for (let retry = 0; answer.status === 503 && retry < 3; retry++) {
        busy += 1;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        answer = await h.search(`q=${encodeURIComponent(item.text!)}&k=1`);
      }
      assert.equal(answer.status, 200, answer.text);
      if (answer.body.hits[0]?.id !== item.id) misses.push(item.id);
    });
    assert.deepEqual(misses, []);
    assert.ok(busy < 10, `${busy} searches of 5,000 were told to come back`);
  });

  it('resumes clearing flags where it stopped after a failed attempt, counting each item once', async () => {
    // Prepare: 3,000 items; the clear stage's first attempt fails (throttled past every retry)
    // after 60 requests (1,500 flags, 25 to a request), and Step Functions retries it
    proxy.throttle(0);
    await h.put(distinctItems(3_000, 'resume', 1));
    let attempts = 0;
    h.overrides = (real, context) => ({
      clear: (event) => {
        attempts += 1;
        if (attempts > 1) return real.clear(event);
        const failing = failAfter(context.clients.dynamodb, 60);
        return indexerStages({ ...context, clients: { ...context.clients, dynamodb: failing } }).clear(event);
      },
    });
    const requestsBefore = proxy.counts.byOperation.get('BatchExecuteStatement') ?? 0;
    // Act
    const run = await h.run();
    h.overrides = () => ({});
    // Assess
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.equal(attempts, 2);
    const { requests, complete, ...counts } = run.output['clear'];
    assert.deepEqual(counts, { cleared: 3_000, deleted: 0, keptPending: 0, poisonRecorded: 0 });
    assert.equal(complete, true);
    const sent = (proxy.counts.byOperation.get('BatchExecuteStatement') ?? 0) - requestsBefore;
    assert.ok(sent <= 120 + 8, `${sent} requests for 3,000 flags: the retry did not start the list again`);
    // Both attempts' requests, the failed ones included (up to 8 were in flight when the first failed)
    assert.ok(requests >= 120 && requests <= 120 + 8, `${requests} requests counted`);
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('sends a statement DynamoDB throttled within a batch again, alone, and counts each item once', async () => {
    // Prepare: 30 items; in the first request clearing flags, the 4th statement comes back throttled
    proxy.throttle(0);
    await h.put(distinctItems(30, 'statement', 2));
    const sizes: number[] = [];
    h.overrides = (real, context) => ({
      clear: (event) =>
        indexerStages({
          ...context,
          clients: { ...context.clients, dynamodb: throttleOneStatement(context.clients.dynamodb, 3, sizes) },
        }).clear(event),
    });
    // Act
    const run = await h.run();
    h.overrides = () => ({});
    // Assess
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    const { requests, complete, ...counts } = run.output['clear'];
    assert.deepEqual(counts, { cleared: 30, deleted: 0, keptPending: 0, poisonRecorded: 0 });
    assert.equal(complete, true);
    assert.deepEqual(
      [...sizes].sort((a, b) => a - b),
      [1, 5, 25],
      'the list in two requests (25 and 5), then the throttled statement alone',
    );
    assert.equal(sizes.at(-1), 1, 'the throttled statement last, alone');
    assert.equal(requests, 3);
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('imports every line under 20% throttling, the last line of an id winning', async () => {
    // Prepare: 2,000 lines, each of 100 ids given 20 times, 100 lines apart (in batches written at once)
    proxy.throttle(0.2);
    const file = path.join(dir.path, 'throttled.jsonl');
    const lines = Array.from({ length: 2_000 }, (_, i) =>
      JSON.stringify({
        id: `imp-${i % 100}`,
        group: 'imports',
        content: `version ${Math.floor(i / 100)} of ${i % 100}`,
      }),
    );
    writeFileSync(file, lines.join('\n'));
    // Act: the CLI given the proxy as its DynamoDB endpoint
    const run = await runCli(['import', file, '--json', '--data-dir', dir.path, '--dynamodb-endpoint', proxy.endpoint]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { imported: 2_000, skipped: 0, errors: [] });
    proxy.throttle(0);
    for (let i = 0; i < 100; i++) {
      const { Item } = await h.stack.clients.dynamodb.send(
        new GetItemCommand({
          TableName: h.config.tableName,
          Key: { [h.config.groupAttribute]: { S: 'imports' }, [h.config.idAttribute]: { S: `imp-${i}` } },
          ConsistentRead: true,
        }),
      );
      assert.equal(Item?.[h.config.contentAttribute]?.S, `version 19 of ${i}`);
    }
  });

  it('answers a search 503 with Retry-After when the table throttles every read, and 200 again after', async () => {
    // Prepare
    proxy.throttle(1);
    // Act
    const started = Date.now();
    const response = await fetch(`${h.stack.info.endpoints.http}/search?q=the+red+horse&k=3`);
    const seconds = (Date.now() - started) / 1000;
    const body = (await response.json()) as { message: string };
    proxy.throttle(0);
    // Assess
    assert.equal(response.status, 503, JSON.stringify(body));
    assert.equal(response.headers.get('retry-after'), '1');
    assert.match(body.message, /the table did not answer the search's reads in time/);
    assert.ok(seconds < 20, `answered in ${seconds} s: within API Gateway's 29 s`);
    assert.equal((await h.search('q=the+red+horse&k=3')).status, 200);
  });
});

/**
 * A DynamoDB client whose first flag-clearing request answers statement `index` as throttled
 * (ThrottlingError) without running it, as DynamoDB answers a statement it throttles within a
 * batch; `sizes` collects the statements of every such request.
 */
function throttleOneStatement(client: DynamoDBClient, index: number, sizes: number[]): DynamoDBClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (
        command: { constructor: { name: string }; input: BatchExecuteStatementInput },
        ...rest: unknown[]
      ) => {
        const send = (target.send as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (command.constructor.name !== 'BatchExecuteStatementCommand') return send(command, ...rest);
        const statements = command.input.Statements ?? [];
        sizes.push(statements.length);
        if (sizes.length > 1) return send(command, ...rest);
        const run = statements.filter((_, i) => i !== index);
        const answer = (await send(new BatchExecuteStatementCommand({ Statements: run }))) as {
          Responses: unknown[];
        };
        const throttled = { Error: { Code: 'ThrottlingError', Message: 'throttled (test)' } };
        return {
          ...answer,
          Responses: [...answer.Responses.slice(0, index), throttled, ...answer.Responses.slice(index)],
        };
      };
    },
  });
}

/**
 * A DynamoDB client that sends `requests` flag-clearing requests (BatchExecuteStatement) through
 * `client`, then fails every one as DynamoDB does when it throttles past the SDK's retries.
 */
function failAfter(client: DynamoDBClient, requests: number): DynamoDBClient {
  let sent = 0;
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        if (command.constructor.name === 'BatchExecuteStatementCommand' && ++sent > requests)
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput (test)'), {
            name: 'ThrottlingException',
            $metadata: { httpStatusCode: 400 },
          });
        return (target.send as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
      };
    },
  });
}
