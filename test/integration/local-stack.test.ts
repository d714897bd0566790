import { BatchWriteItemCommand, QueryCommand, ScanCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAwsClients, destroyAwsClients } from '../../aws/clients.ts';
import { batchWriteItems } from '../../aws/dynamodb-batch.ts';
import type { LocalStack } from '../../local-stack/stack.ts';
import type { TaskHandler } from '../../tasks/handler.ts';
import { FREE_PORT_FLAGS, groupItemCount, startTestStack, tempDir, testConfig } from '../helpers/local-stack.ts';

const tinyMachine = JSON.stringify({
  StartAt: 'Double',
  States: {
    Double: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:double', Next: 'Fanout' },
    Fanout: {
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrency: 2,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'Square',
        States: {
          Square: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:square', End: true },
        },
      },
      ResultPath: '$.squares',
      End: true,
    },
  },
});

const slowMachine = JSON.stringify({
  StartAt: 'Sleep',
  States: { Sleep: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:sleep', End: true } },
});

const handlers = new Map<string, TaskHandler>([
  ['double', async (event) => ({ items: [1, 2, 3].map((n) => n * (event as { n: number }).n) })],
  ['square', async (event) => (event as number) ** 2],
  ['sleep', () => new Promise((resolve) => setTimeout(() => resolve('late'), 3_000))],
]);

async function waitForEnd(stack: LocalStack, executionArn: string): Promise<string> {
  await stack.stepFunctions.settled(executionArn);
  const described = await stack.clients.stepFunctions.send(new DescribeExecutionCommand({ executionArn }));
  return described.status ?? 'UNKNOWN';
}

describe('local stack', () => {
  const dir = tempDir();
  let stack: LocalStack;
  let executionArn = '';

  before(async () => {
    stack = await startTestStack(dir.path, { handlers, stateMachines: { tiny: tinyMachine } });
  });
  after(async () => {
    await stack?.close();
    dir.remove();
  });

  it('creates the table with a sparse GSI that pages through flagged items only', async () => {
    // Prepare: 250 items, every 5th flagged pending
    const { dynamodb } = stack.clients;
    const config = stack.config;
    const requests: WriteRequest[] = Array.from({ length: 250 }, (_, i) => ({
      PutRequest: {
        Item: {
          [config.groupAttribute]: { S: `g${i % 3}` },
          [config.idAttribute]: { S: `item-${i}` },
          [config.contentAttribute]: { S: `text ${i}` },
          ...(i % 5 === 0 ? { [config.pendingAttribute]: { N: '1' } } : {}),
        },
      },
    }));
    for (let i = 0; i < requests.length; i += 25) {
      await dynamodb.send(
        new BatchWriteItemCommand({ RequestItems: { [config.tableName]: requests.slice(i, i + 25) } }),
      );
    }
    // Act: page through the GSI 7 at a time, by Query on the flag value and by Scan
    const queried: string[] = [];
    let startKey: Record<string, never> | undefined;
    let pages = 0;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: config.tableName,
          IndexName: config.pendingIndexName,
          KeyConditionExpression: '#p = :one',
          ExpressionAttributeNames: { '#p': config.pendingAttribute },
          ExpressionAttributeValues: { ':one': { N: '1' } },
          Limit: 7,
          ExclusiveStartKey: startKey,
        }),
      );
      pages += 1;
      for (const item of page.Items ?? []) queried.push(item[config.idAttribute]?.S ?? '');
      startKey = page.LastEvaluatedKey as typeof startKey;
    } while (startKey);
    const scanned = await dynamodb.send(
      new ScanCommand({ TableName: config.tableName, IndexName: config.pendingIndexName }),
    );
    // Assess
    const expected = Array.from({ length: 50 }, (_, i) => `item-${i * 5}`).sort();
    assert.deepEqual([...queried].sort(), expected);
    assert.ok(pages >= 8, `expected several pages, got ${pages}`);
    assert.equal(scanned.Count, 50);
  });

  it('stores and returns a 25 MB object intact and lists keys page by page', async () => {
    // Prepare
    const { s3 } = stack.clients;
    const bucket = stack.config.bucketName;
    const big = randomBytes(25 * 1024 * 1024);
    // Act
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big/blob.bin', Body: big }));
    const fetched = Buffer.from(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/blob.bin' }))).Body!.transformToByteArray(),
    );
    for (let i = 0; i < 12; i++)
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: `many/key-${String(i).padStart(2, '0')}`, Body: `v${i}` }),
      );
    const listed: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'many/', MaxKeys: 5, ContinuationToken: token }),
      );
      pages += 1;
      listed.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);
    // Assess
    assert.equal(fetched.length, big.length);
    assert.equal(createHash('sha256').update(fetched).digest('hex'), createHash('sha256').update(big).digest('hex'));
    assert.equal(pages, 3);
    assert.deepEqual(
      listed,
      Array.from({ length: 12 }, (_, i) => `many/key-${String(i).padStart(2, '0')}`),
    );
  });

  it('runs an execution through @aws-sdk/client-sfn with local Task handlers and records its history', async () => {
    // Prepare
    const sfn = stack.clients.stepFunctions;
    const stateMachineArn = stack.stateMachineArns['tiny']!;
    // Act
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: 'first', input: JSON.stringify({ n: 2 }) }),
    );
    executionArn = started.executionArn!;
    const status = await waitForEnd(stack, executionArn);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    // Assess
    assert.equal(status, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(described.output!), { items: [2, 4, 6], squares: [4, 16, 36] });
    assert.ok(described.startDate instanceof Date && described.stopDate instanceof Date);
    assert.deepEqual(
      listed.executions?.map((execution) => execution.name),
      ['first'],
    );
    const types = history.events!.map((event) => event.type);
    assert.equal(types[0], 'ExecutionStarted');
    assert.equal(types.at(-1), 'ExecutionSucceeded');
    assert.ok(types.includes('TaskStateEntered') && types.includes('TaskStateExited'));
    assert.equal(types.filter((type) => type === 'MapIterationSucceeded').length, 3);
    const entered = history
      .events!.filter((event) => event.type?.endsWith('StateEntered'))
      .map((event) => event.stateEnteredEventDetails?.name);
    assert.deepEqual(entered.slice(0, 2), ['Double', 'Fanout']);
    assert.deepEqual(
      history.events!.map((event) => event.id),
      history.events!.map((_, i) => i + 1),
    );
  });

  it('answers API errors the way the service does', async () => {
    const sfn = stack.clients.stepFunctions;
    await assert.rejects(
      sfn.send(
        new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:tiny:nope' }),
      ),
      (error: unknown) => error instanceof ExecutionDoesNotExist,
    );
    await assert.rejects(
      sfn.send(
        new CreateStateMachineCommand({
          name: 'remote',
          roleArn: 'arn:aws:iam::0:role/x',
          definition: JSON.stringify({
            StartAt: 'A',
            States: { A: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:1:function:elsewhere', End: true } },
          }),
        }),
      ),
      /Task state "A" calls function "elsewhere", which has no local handler/,
    );
  });

  it('stops a running execution and records it as aborted', async () => {
    // Prepare
    const sfn = stack.clients.stepFunctions;
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'slow',
        definition: slowMachine,
        roleArn: 'arn:aws:iam::000000000000:role/x',
      }),
    );
    const { executionArn: slowArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn }));
    // Act
    await sfn.send(new StopExecutionCommand({ executionArn: slowArn, error: 'User.Stop', cause: 'changed my mind' }));
    const status = await waitForEnd(stack, slowArn!);
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: slowArn }));
    // Assess
    assert.equal(status, 'ABORTED');
    assert.equal(history.events!.at(-1)?.type, 'ExecutionAborted');
    const machine = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    assert.equal(machine.name, 'slow');
  });

  it('keeps table rows, objects and execution history across a restart', async () => {
    // Act
    await stack.close();
    stack = await startTestStack(dir.path, { handlers, stateMachines: { tiny: tinyMachine } });
    // Assess
    const scanned = await stack.clients.dynamodb.send(
      new ScanCommand({ TableName: stack.config.tableName, Select: 'COUNT' }),
    );
    assert.equal(scanned.Count, 250);
    const object = await stack.clients.s3.send(
      new GetObjectCommand({ Bucket: stack.config.bucketName, Key: 'many/key-03' }),
    );
    assert.equal(await object.Body!.transformToString(), 'v3');
    const history = await stack.clients.stepFunctions.send(new GetExecutionHistoryCommand({ executionArn }));
    assert.equal(history.events!.at(-1)?.type, 'ExecutionSucceeded');
    const listed = await stack.clients.stepFunctions.send(
      new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArns['tiny'] }),
    );
    assert.deepEqual(
      listed.executions?.map((execution) => execution.status),
      ['SUCCEEDED'],
    );
  });
});

describe('ddb-faiss up (the command)', () => {
  const cli = new URL('../../bin/ddb-faiss.js', import.meta.url).pathname;

  function startUp(args: string[]): {
    child: ReturnType<typeof spawn>;
    output: () => string;
    ready: Promise<void>;
    exit: Promise<number | null>;
  } {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', cli, 'up', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/^ready$/m.test(output)) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
      void exit.then(() => {
        clearInterval(timer);
        reject(new Error(`up exited early:\n${output}`));
      });
    });
    ready.catch(() => {}); // tests that expect an early exit never await it
    return { child, output: () => output, ready, exit };
  }

  it('prints endpoints and ready, then on SIGINT stops cleanly and leaves intact data', async () => {
    // Prepare: 40 items written to the running stack
    const dir = tempDir();
    const up = startUp(['--data-dir', dir.path, ...FREE_PORT_FLAGS]);
    await up.ready;
    const endpoint = /dynamodb\s+(http:\S+)/.exec(up.output())![1]!;
    const config = testConfig(dir.path);
    const writer = createAwsClients(config, {
      dynamodb: endpoint,
      s3: undefined,
      stepFunctions: undefined,
      http: undefined,
    });
    const written = await batchWriteItems(
      writer.dynamodb,
      config.tableName,
      Array.from({ length: 40 }, (_, i) => ({
        PutRequest: {
          Item: {
            [config.groupAttribute]: { S: 'kept' },
            [config.idAttribute]: { S: `item-${i}` },
            [config.contentAttribute]: { S: `text ${i}` },
          },
        },
      })),
    );
    destroyAwsClients(writer);
    // Act
    up.child.kill('SIGINT');
    const code = await up.exit;
    // Assess
    assert.equal(written.written, 40);
    assert.equal(code, 0);
    assert.match(up.output(), /stopped/);
    assert.equal(existsSync(`${dir.path}/stack.json`), false);
    await assert.rejects(fetch(endpoint), 'the DynamoDB port must be closed');
    // The data is intact: a new stack reads the 40 items back (besides them the table holds
    // ddb-faiss's own items: `up` follows the table's stream by default, and captured the writes).
    const stack = await startTestStack(dir.path);
    const kept = await groupItemCount(stack, 'kept');
    assert.equal(kept, 40);
    await stack.close();
    dir.remove();
  });

  it('names the port and the flag when a port is already in use', async () => {
    // Prepare: hold a port
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = tempDir();
    // Act
    const up = startUp([
      '--data-dir',
      dir.path,
      '--dynamodb-port',
      '0',
      '--s3-port',
      String(port),
      '--sfn-port',
      '0',
      '--http-port',
      '0',
    ]);
    const code = await up.exit;
    // Assess
    assert.equal(code, 1);
    assert.match(up.output(), new RegExp(`port ${port} for S3 is already in use.*--s3-port`));
    assert.doesNotMatch(up.output(), /\n\s+at /, 'no stack trace');
    blocker.close();
    dir.remove();
  });

  it('rejects invalid configuration with a message naming the setting', async () => {
    const up = startUp(['--dynamodb-port', 'eighty']);
    assert.equal(await up.exit, 2);
    assert.match(up.output(), /dynamodbPort \(flag --dynamodb-port\): must be a port/);
  });

  it('refuses a second stack on the same data directory', async () => {
    const dir = tempDir();
    const stack = await startTestStack(dir.path);
    await assert.rejects(startTestStack(dir.path), /already serves/);
    await stack.close();
    // Once the first has stopped, the data directory is free again.
    const next = await startTestStack(dir.path);
    await next.close();
    dir.remove();
  });
});
