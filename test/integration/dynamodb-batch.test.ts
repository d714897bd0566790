/** Batch reads and writes against the local DynamoDB, with items near the 400 KB limit. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { batchGetItems, batchWriteItems } from '../../aws/dynamodb-batch.ts';
import type { LocalStack } from '../../local-stack/stack.ts';
import { startTestStack, tempDir } from '../helpers/local-stack.ts';

describe('DynamoDB batches of large items (local stack)', () => {
  const dir = tempDir();
  let stack: LocalStack;
  before(async () => {
    stack = await startTestStack(dir.path);
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it('reads back every one of 40 items of 350 KB, though each response holds only a few', async () => {
    // Prepare: 14 MB of items; a BatchGetItem response holds at most 16 MB on AWS, about 1 MB here
    const { config } = stack;
    const key = (i: number) => ({ [config.groupAttribute]: { S: 'big' }, [config.idAttribute]: { S: `item-${i}` } });
    const written = await batchWriteItems(
      stack.clients.dynamodb,
      config.tableName,
      Array.from({ length: 40 }, (_, i) => ({
        PutRequest: { Item: { ...key(i), [config.contentAttribute]: { S: `${i} ${'x'.repeat(350_000)}` } } },
      })),
    );
    // Act
    const items = await batchGetItems(
      stack.clients.dynamodb,
      config.tableName,
      Array.from({ length: 40 }, (_, i) => key(i)),
      { consistentRead: true },
    );
    // Assess
    assert.deepEqual(written, { written: 40, failed: [] });
    assert.equal(items.length, 40);
    assert.deepEqual(
      items.map((item) => Number(item[config.contentAttribute]!.S!.split(' ')[0])).sort((a, b) => a - b),
      Array.from({ length: 40 }, (_, i) => i),
    );
  });
});
