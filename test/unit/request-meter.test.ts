/**
 * The request meter (`aws/request-meter.ts`): what a run costs is counted from the requests its SDK
 * clients send, so every client the code creates must report to the meter, and the meter must count
 * what the SDK sends: each attempt, DynamoDB's consumed capacity (asked for on every operation that
 * can return it), the bytes each way.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DynamoDBClient, PutItemCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import ts from 'typescript';
import { createAwsClients, createSqsClient, createStreamsClient } from '../../aws/clients.ts';
import { isMetered, RequestMeter } from '../../aws/request-meter.ts';
import { loadConfig } from '../../config/config.ts';
import { PROJECT_ROOT } from '../../config/project.ts';

const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'cdk.out', 'test', 'test-artifacts', '.git', '.ddb-faiss']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIPPED_FOLDERS.has(entry.name) ? [] : sourceFiles(path.join(dir, entry.name));
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path.join(dir, entry.name)] : [];
  });
}

/**
 * `new XClient(...)` expressions (an AWS SDK client, imported statically or with `import()`) not
 * passed straight to `sdkClient(...)`.
 */
function unmeteredClients(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && /^[A-Z]\w*Client$/.test(node.expression.text)) {
      const parent = node.parent;
      const wrapped =
        ts.isCallExpression(parent) && ts.isIdentifier(parent.expression) && parent.expression.text === 'sdkClient';
      if (!wrapped) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart());
        found.push(`${path.relative(PROJECT_ROOT, file)}:${line + 1} new ${node.expression.text}(...)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** A DynamoDB client whose "network" answers from `responses` in turn, recording the bodies sent. */
function clientAnswering(responses: { status: number; body: string }[]) {
  const sent: string[] = [];
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://dynamodb.invalid',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 3,
    retryStrategy: undefined,
    requestHandler: {
      handle: async (request: { body?: unknown }) => {
        sent.push(typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString());
        const next = responses.shift()!;
        const { Readable } = await import('node:stream');
        return {
          response: {
            statusCode: next.status,
            headers: {
              'content-type': 'application/x-amz-json-1.0',
              'content-length': String(Buffer.byteLength(next.body)),
            },
            body: Readable.from([Buffer.from(next.body)]),
          },
        };
      },
    },
  });
  return { client, sent };
}

describe('the request meter', () => {
  it('is on every AWS SDK client the code creates (the factories, and no client made without it), and no logger middleware is', () => {
    // Prepare
    const config = loadConfig({ flags: { 'data-dir': '/tmp/ddb-faiss-meter-test' } });
    const endpoints = {
      dynamodb: 'http://127.0.0.1:1',
      s3: 'http://127.0.0.1:1',
      stepFunctions: 'http://127.0.0.1:1',
      http: undefined,
    };
    // Act
    const clients = createAwsClients(config, endpoints);
    const made = [
      clients.dynamodb,
      clients.s3,
      clients.stepFunctions,
      createStreamsClient(config, endpoints.dynamodb),
      createSqsClient(config),
    ];
    const unmetered = sourceFiles(PROJECT_ROOT).flatMap(unmeteredClients);
    // Assess
    assert.deepEqual(made.map(isMetered), [true, true, true, true, true]);
    const logging = made.filter((client) =>
      client.middlewareStack.identify().some((entry) => entry.startsWith('loggerMiddleware ')),
    );
    assert.equal(logging.length, 0, 'no client filters its requests for a logger that discards them');
    assert.deepEqual(unmetered, [], 'every SDK client is made as sdkClient(new XClient(...))');
  });

  it('counts each attempt, asks DynamoDB for its consumed capacity and adds it up', async () => {
    // Prepare: a throttled attempt, then one that consumed 3 write units
    const meter = new RequestMeter();
    const { client, sent } = clientAnswering([
      {
        status: 400,
        body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'slow down' }),
      },
      { status: 200, body: JSON.stringify({ ConsumedCapacity: { TableName: 't', CapacityUnits: 3 } }) },
      { status: 200, body: JSON.stringify({ Table: { TableName: 't' } }) },
    ]);
    meter.attach(client);
    const put = new PutItemCommand({ TableName: 't', Item: { id: { S: 'a'.repeat(100) } } });
    // Act
    await client.send(put);
    await client.send(new DescribeTableCommand({ TableName: 't' }));
    // Assess
    const [describe, putRow] = meter.tally();
    assert.equal(putRow?.operation, 'PutItem');
    assert.equal(putRow.requests, 2, 'the throttled attempt is counted too');
    assert.equal(putRow.failed, 1);
    assert.equal(putRow.writeUnits, 3);
    assert.equal(putRow.readUnits, 0);
    assert.ok(putRow.bytesSent > 100 && putRow.bytesReceived > 0, JSON.stringify(putRow));
    assert.match(sent[0]!, /"ReturnConsumedCapacity":"TOTAL"/);
    assert.equal(put.input.ReturnConsumedCapacity, undefined, "the caller's input is left as it was");
    assert.deepEqual([describe?.operation, describe?.requests], ['DescribeTable', 1]);
    assert.doesNotMatch(sent[2]!, /ReturnConsumedCapacity/, 'only on operations that accept it');
  });

  it("leaves uncounted what runs unmetered (a user's own writes), and forgets on reset", async () => {
    // Prepare
    const meter = new RequestMeter();
    const answer = { status: 200, body: JSON.stringify({ ConsumedCapacity: { TableName: 't', CapacityUnits: 1 } }) };
    const { client } = clientAnswering([answer, answer]);
    meter.attach(client);
    const put = (): Promise<unknown> => client.send(new PutItemCommand({ TableName: 't', Item: { id: { S: 'a' } } }));
    // Act
    await meter.unmetered(put);
    const whileUnmetered = meter.tally().length;
    await put();
    const counted = meter.tally()[0]?.requests;
    meter.reset();
    // Assess
    assert.equal(whileUnmetered, 0);
    assert.equal(counted, 1);
    assert.deepEqual(meter.tally(), []);
  });
});
