/**
 * The item size DynamoDB counts, as `aws/item-size.ts` computes it for the checks before a write.
 * Every attribute type is checked against AWS's own DynamoDB Local at the 400 KB limit in
 * `test/integration/dynamodb-local.test.ts`; here, the rules that need no DynamoDB.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../../aws/item-size.ts';

describe('DynamoDB item size', () => {
  it('counts text in UTF-8 bytes, as DynamoDB documents, and knows the 400 KB limit', () => {
    assert.equal(itemSizeBytes({ t: { S: 'é' } }), 1 + 2);
    assert.equal(itemSizeBytes({ clé: { S: '日本' } }), 4 + 6);
    assert.equal(MAX_ITEM_BYTES, 409_600);
  });

  it('counts a number by its significant digits, a list or map with its overhead', () => {
    assert.equal(itemSizeBytes({ n: { N: '0' } }), 1 + 1);
    assert.equal(itemSizeBytes({ n: { N: '1200' } }), 1 + 2);
    assert.equal(itemSizeBytes({ l: { L: [{ S: 'x' }, { BOOL: true }] } }), 1 + 3 + (1 + 1) + (1 + 1));
    assert.equal(itemSizeBytes({ m: { M: { a: { NULL: true } } } }), 1 + 3 + (1 + 1 + 1));
  });
});
