/**
 * Adopting a table that already holds items (issue 32): `up` pointed at it in stream mode (its
 * key names, its text attribute) adds the sparse index and the stream where missing, and indexes
 * what the table holds with a backfill while the changes made meanwhile are captured too: nothing
 * missed, nothing deleted brought back. A table keyed otherwise than the settings say is refused,
 * naming its keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AttributeValue, CreateTableCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { batchWriteItems } from '../../aws/dynamodb-batch.ts';
import { createAwsClients, destroyAwsClients } from '../../aws/clients.ts';
import { loadConfig } from '../../config/config.ts';
import { readStackInfo } from '../../local-stack/stack-info.ts';
import { settle, watchedUp } from '../helpers/capture.ts';
import { sentences } from '../helpers/indexer.ts';
import { FREE_PORTS, tempDir } from '../helpers/local-stack.ts';
import { up } from '../helpers/up.ts';

const ADOPT = {
  table: 'orders',
  'group-attribute': 'tenant',
  'id-attribute': 'order_id',
  'content-attribute': 'body',
  'change-capture': 'stream',
} as const;
const asFlags = (flags: Readonly<Record<string, string>>): string[] =>
  Object.entries(flags).flatMap(([name, value]) => [`--${name}`, value]);

describe('adopting a table that already holds items', () => {
  it('indexes what it holds and every change made meanwhile, with nothing deleted brought back', async () => {
    // Prepare: the user's table, made before ddb-faiss looks at it (keys of its own, no stream, no index)
    const dir = tempDir();
    const before = await up(dir.path);
    const plain = loadConfig({ flags: { ...FREE_PORTS, 'data-dir': dir.path }, env: {} });
    let clients = createAwsClients(plain, readStackInfo(plain)!.endpoints);
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: 'orders',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'tenant', AttributeType: 'S' },
          { AttributeName: 'order_id', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'tenant', KeyType: 'HASH' },
          { AttributeName: 'order_id', KeyType: 'RANGE' },
        ],
      }),
    );
    const texts = sentences(400, 'order');
    const item = (i: number, rev: number): Record<string, AttributeValue> => ({
      tenant: { S: `t${i % 4}` },
      order_id: { S: texts[i]!.id },
      body: { S: rev === 1 ? texts[i]!.text! : `${texts[i]!.text!}, amended` },
      rev: { N: String(rev) },
    });
    const write = (requests: WriteRequest[]) => batchWriteItems(clients.dynamodb, 'orders', requests);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    await write(range(0, 300).map((i) => ({ PutRequest: { Item: item(i, 1) } })));
    destroyAwsClients(clients);
    await before.kill('SIGINT');

    // Act: ddb-faiss pointed at it, and changes made while its backfill runs
    const adopted = await up(dir.path, asFlags(ADOPT));
    const config = loadConfig({ flags: { ...FREE_PORTS, 'data-dir': dir.path, ...ADOPT }, env: {} });
    clients = createAwsClients(config, readStackInfo(config)!.endpoints);
    try {
      const changedAt = new Date();
      await write([
        ...range(0, 50).map((i) => ({
          DeleteRequest: { Key: { tenant: { S: `t${i % 4}` }, order_id: { S: texts[i]!.id } } },
        })),
        ...range(50, 100).map((i) => ({ PutRequest: { Item: item(i, 2) } })),
        ...range(300, 400).map((i) => ({ PutRequest: { Item: item(i, 1) } })),
      ]);
      const expected = new Map([
        ...range(50, 100).map((i): [string, number] => [texts[i]!.id, 2]),
        ...range(100, 400).map((i): [string, number] => [texts[i]!.id, 1]),
      ]);
      const indexed = await settle(watchedUp(config, clients), expected, 180_000);
      const { executions = [] } = await clients.stepFunctions.send(
        new ListExecutionsCommand({ stateMachineArn: readStackInfo(config)!.stateMachineArn }),
      );
      const backfill = executions.find((execution) => execution.name?.startsWith('backfill-'));
      // Assess
      assert.deepEqual(indexed, expected);
      assert.ok(backfill?.stopDate && backfill.stopDate > changedAt, 'the changes were made while the backfill ran');
      assert.match(adopted.output(), /table orders: created the sparse index faiss_pending-index/);
      assert.match(adopted.output(), /table orders: enabled the stream \(new and old images\)/);
      assert.match(adopted.output(), /capture: nothing is indexed yet: backfill-\S+ indexes what the table holds/);
    } finally {
      destroyAwsClients(clients);
      await adopted.kill('SIGINT');
    }

    // And a table keyed otherwise than the settings say is refused, naming its keys
    await assert.rejects(
      up(dir.path, ['--table', 'orders', '--change-capture', 'stream']),
      /table orders is keyed by tenant and order_id, not content_group and content_id: pass --group-attribute tenant --id-attribute order_id/,
    );
    dir.remove();
  });
});
