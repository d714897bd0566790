/**
 * The local stack's DynamoDB is AWS's own DynamoDB Local, and behaves as DynamoDB does where
 * ddb-faiss depends on it: its validation (an item's 400 KB counted as `aws/item-size.ts` counts
 * it, a 1,024-byte sort key, table names of 3 characters or more), Streams (INSERT, MODIFY and
 * REMOVE records, read through @aws-sdk/client-dynamodb-streams), PartiQL batches whose
 * statements succeed or fail one by one. And it is run as a part of the stack should be: on
 * 127.0.0.1 only, answering only requests addressed to it, never left behind after a `kill -9`
 * of `up`, and refusing what it cannot run with one clear line.
 */
import {
  type AttributeValue,
  BatchExecuteStatementCommand,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  DeleteItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../../aws/item-size.ts';
import { clearFlagStatement } from '../../indexer/clear.ts';
import type { LocalStack } from '../../local-stack/stack.ts';
import { runCli } from '../helpers/cli.ts';
import { FREE_PORT_FLAGS, startTestStack, tempDir } from '../helpers/local-stack.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(root, 'bin/ddb-faiss.js');

/** The pids of running processes whose command line holds every one of `parts`. */
function processesWith(...parts: string[]): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        return parts.every((part) => command.includes(part));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("the local DynamoDB: AWS's DynamoDB Local", () => {
  const dir = tempDir();
  let stack: LocalStack;
  let client: DynamoDBClient;
  before(async () => {
    stack = await startTestStack(dir.path);
    client = stack.clients.dynamodb;
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });
  const table = () => stack.config.tableName;
  const key = (id: string): Record<string, AttributeValue> => ({
    [stack.config.groupAttribute]: { S: 'fidelity' },
    [stack.config.idAttribute]: { S: id },
  });

  it('counts an item up to 400 KB as aws/item-size.ts does, for every attribute type', async () => {
    const shapes: Record<string, AttributeValue>[] = [
      { text: { S: 'A man is playing a guitar.' }, accents: { S: 'café, naïve, 日本語' } },
      { n: { N: '0' }, m: { N: '-12.5' }, k: { N: '1200' }, j: { N: '0.00012' }, big: { N: '1.5e30' } },
      { b: { B: new Uint8Array([1, 2, 3]) }, t: { BOOL: true }, z: { NULL: true }, ss: { SS: ['a', 'bc'] } },
      {
        list: { L: [{ S: 'x' }, { N: '5' }] },
        map: { M: { inner: { S: 'yz' }, deeper: { M: { q: { BOOL: false } } } } },
      },
    ];
    for (const [i, shape] of shapes.entries()) {
      // Padded to exactly the limit, then one byte over it.
      const base = { ...key(`size-${i}`), ...shape, pad: { S: '' } };
      const pad = MAX_ITEM_BYTES - itemSizeBytes(base);
      const at = { ...base, pad: { S: 'x'.repeat(pad) } };
      assert.equal(itemSizeBytes(at), MAX_ITEM_BYTES);
      await client.send(new PutItemCommand({ TableName: table(), Item: at }));
      await assert.rejects(
        client.send(new PutItemCommand({ TableName: table(), Item: { ...at, pad: { S: 'x'.repeat(pad + 1) } } })),
        /Item size has exceeded the maximum allowed size/,
        JSON.stringify(shape),
      );
    }
  });

  it('refuses what DynamoDB refuses: a sort key over 1,024 bytes, a table name under 3 characters', async () => {
    const twoByte = 'é';
    await client.send(new PutItemCommand({ TableName: table(), Item: key(twoByte.repeat(512)) }));
    await assert.rejects(client.send(new PutItemCommand({ TableName: table(), Item: key(twoByte.repeat(513)) })), {
      name: 'ValidationException',
    });
    await assert.rejects(
      client.send(
        new CreateTableCommand({
          TableName: 't',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
        }),
      ),
      { name: 'ValidationException' },
    );
  });

  it('gives a table its stream: INSERT, MODIFY and REMOVE records through the Streams API', async () => {
    // Prepare
    const { TableDescription } = await client.send(
      new CreateTableCommand({
        TableName: 'streamed-items',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    // Act
    await client.send(new PutItemCommand({ TableName: 'streamed-items', Item: { k: { S: 'a' }, v: { N: '1' } } }));
    await client.send(
      new UpdateItemCommand({
        TableName: 'streamed-items',
        Key: { k: { S: 'a' } },
        UpdateExpression: 'SET v = :two',
        ExpressionAttributeValues: { ':two': { N: '2' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: 'streamed-items', Key: { k: { S: 'a' } } }));
    const streams = new DynamoDBStreamsClient({
      region: stack.config.region,
      endpoint: stack.info.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const streamArn = TableDescription!.LatestStreamArn!;
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: StreamDescription!.Shards![0]!.ShardId!,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator }));
    streams.destroy();
    // Assess
    assert.deepEqual(
      Records?.map((record) => record.eventName),
      ['INSERT', 'MODIFY', 'REMOVE'],
    );
    assert.equal(Records![1]!.dynamodb!.OldImage!['v']!.N, '1');
    assert.equal(Records![1]!.dynamodb!.NewImage!['v']!.N, '2');
  });

  it('clears flags 25 to a PartiQL request, a stale version failing alone', async () => {
    // Prepare: 25 pending items; the 7th edited since (another version)
    const { config } = stack;
    const items = Array.from({ length: 25 }, (_, i) => ({ group: 'fidelity', id: `flag-${i}`, version: 1_000 + i }));
    for (const item of items)
      await client.send(
        new PutItemCommand({
          TableName: table(),
          Item: {
            ...key(item.id),
            [config.pendingAttribute]: { N: String(item.version === 1_006 ? 9_999 : item.version) },
          },
        }),
      );
    // Act
    const { Responses } = await client.send(
      new BatchExecuteStatementCommand({ Statements: items.map((item) => clearFlagStatement(config, item)) }),
    );
    // Assess
    assert.deepEqual(
      Responses!.flatMap((response, i) => (response.Error ? [[i, response.Error.Code]] : [])),
      [[6, 'ConditionalCheckFailed']],
    );
    const pending = async (id: string) =>
      (await client.send(new GetItemCommand({ TableName: table(), Key: key(id), ConsistentRead: true }))).Item?.[
        config.pendingAttribute
      ]?.N;
    assert.equal(await pending('flag-0'), undefined);
    assert.equal(await pending('flag-6'), '9999');
  });

  it('listens on 127.0.0.1 only, and answers only requests addressed to it', async () => {
    const port = new URL(stack.info.endpoints.dynamodb).port;
    const listening = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).stdout.trim();
    assert.match(listening, /127\.0\.0\.1\]?:\d+ /);
    assert.doesNotMatch(listening, /(\*|0\.0\.0\.0|\[::\]):\d+/);
    // A page on a rebound name (rebound.example resolving to 127.0.0.1) sends its own Host.
    const status = await new Promise<number>((resolve, reject) =>
      httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/', headers: { host: `rebound.example:${port}` } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end('{}'),
    );
    assert.equal(status, 403);
  });
});

describe('DynamoDB Local run by up', () => {
  it('is never left behind: after a kill -9 of up, no java of it runs once the next command has run', async () => {
    // Prepare: up with its DynamoDB Local
    const dir = tempDir();
    const up = spawn(
      process.execPath,
      ['--openssl-legacy-provider', CLI, 'up', '--data-dir', dir.path, ...FREE_PORT_FLAGS],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`up was not ready in 120 s: ${out}`)), 120_000);
      up.stdout.on('data', (chunk) => {
        out += chunk;
        if (/^ready$/m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const dbPath = path.join(dir.path, 'dynamodb');
    assert.equal(processesWith('LoopbackDynamoDbLocal', dbPath).length, 1, 'its java runs');
    // Act: kill -9, then the next command
    up.kill('SIGKILL');
    await new Promise((resolve) => up.once('close', resolve));
    const status = await runCli(['status', '--data-dir', dir.path]);
    // Assess
    assert.equal(status.code, 1);
    assert.match(status.stderr, /is not running: it stopped without cleaning up/);
    assert.deepEqual(processesWith('LoopbackDynamoDbLocal', dbPath), []);
    dir.remove();
  });

  it('refuses a data directory written by dynalite, changing nothing, and says what to do', async () => {
    const dir = tempDir();
    const folder = path.join(dir.path, 'dynamodb');
    mkdirSync(folder, { recursive: true });
    for (const name of ['CURRENT', 'LOCK', 'LOG', 'MANIFEST-000002', '000005.ldb'])
      writeFileSync(path.join(folder, name), name);
    const run = await runCli(['up', '--data-dir', dir.path, ...FREE_PORT_FLAGS]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /holds a dynalite \(LevelDB\) database, written by ddb-faiss 0\.2's local stack/);
    assert.match(run.stderr, /mv .*dynamodb .*dynamodb\.dynalite/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.deepEqual(readdirSync(folder).sort(), ['000005.ldb', 'CURRENT', 'LOCK', 'LOG', 'MANIFEST-000002']);
    dir.remove();
  });

  it('says in one line when its port is taken, or Java is missing or too old', async () => {
    // A port in use
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const dir = tempDir();
    const taken = await runCli(['up', '--data-dir', dir.path, ...FREE_PORT_FLAGS, '--dynamodb-port', String(port)]);
    blocker.close();
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`port ${port} for DynamoDB is already in use on 127\\.0\\.0\\.1`));
    // Java too old, then none: a `java` of our own on the PATH
    const bin = path.join(dir.path, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'java'), '#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n');
    chmodSync(path.join(bin, 'java'), 0o755);
    const saved = process.env['PATH'];
    try {
      process.env['PATH'] = `${bin}:${saved}`;
      const old = await runCli(['up', '--data-dir', dir.path, ...FREE_PORT_FLAGS]);
      assert.equal(old.code, 1);
      assert.match(
        old.stderr,
        /needs Java 17 or later, and `java` is Java 11: install Debian's openjdk-17-jre-headless/,
      );
      process.env['PATH'] = bin.replace(/bin$/, 'nowhere');
      const none = await runCli(['up', '--data-dir', dir.path, ...FREE_PORT_FLAGS]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /needs Java 17 or later: install Debian's openjdk-17-jre-headless/);
      for (const answer of [old, none]) assert.equal(answer.stderr.trim().split('\n').length, 1, answer.stderr);
    } finally {
      process.env['PATH'] = saved;
    }
    assert.ok(!existsSync(path.join(dir.path, 'stack.json')), 'nothing left claiming a stack runs');
    dir.remove();
  });
});
