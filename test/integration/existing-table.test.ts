/**
 * An existing table's stream, as `ddb-faiss deploy` prepares it for stream mode, against AWS's
 * DynamoDB Local: turned on when off, kept when it has both images, refused with what to do
 * when it has fewer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ensureTableStream, TableSetupError } from '../../table/existing-table.ts';
import { useTestStack } from '../helpers/local-stack.ts';

describe("an existing table's stream", () => {
  const test = useTestStack();
  const create = async (name: string, viewType?: 'KEYS_ONLY') =>
    test.stack.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        ...(viewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: viewType } } : {}),
      }),
    );

  it('is turned on with new and old images when off, and kept as it is once on', async () => {
    // Prepare
    await create('orders');
    // Act
    const first = await ensureTableStream(test.stack.clients.dynamodb, 'orders');
    const again = await ensureTableStream(test.stack.clients.dynamodb, 'orders');
    // Assess
    const { Table } = await test.stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: 'orders' }));
    assert.equal(first.enabled, true);
    assert.equal(again.enabled, false);
    assert.equal(again.streamArn, first.streamArn);
    assert.equal(Table?.StreamSpecification?.StreamViewType, 'NEW_AND_OLD_IMAGES');
    assert.equal(Table?.LatestStreamArn, first.streamArn);
  });

  it('is refused, naming the commands that change it, when it carries keys only', async () => {
    // Prepare
    await create('invoices', 'KEYS_ONLY');
    // Act and assess
    await assert.rejects(
      ensureTableStream(test.stack.clients.dynamodb, 'invoices'),
      (error: Error) =>
        error instanceof TableSetupError &&
        /KEYS_ONLY: stream mode needs NEW_AND_OLD_IMAGES/.test(error.message) &&
        /update-table --table-name invoices --stream-specification StreamEnabled=false/.test(error.message),
    );
  });
});
