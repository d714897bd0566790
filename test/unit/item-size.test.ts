import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../../aws/item-size.ts';

// dynalite's own implementation of DynamoDB's size rule (it counts string characters, not UTF-8 bytes).
const dynalite = createRequire(import.meta.url)('dynalite/db/index.js') as {
  itemSize: (item: Record<string, AttributeValue>) => number;
};

describe('DynamoDB item size', () => {
  it('agrees with dynalite on every attribute type (ASCII text)', () => {
    const items: Record<string, AttributeValue>[] = [
      {
        content_group: { S: 'demo' },
        content_id: { S: 'sentence-1' },
        content: { S: 'A man is playing a guitar.' },
        faiss_pending: { N: '1795552230884123' },
      },
      {
        n: { N: '0' },
        m: { N: '-12.5' },
        k: { N: '1200' },
        j: { N: '0.00012' },
        big: { N: '1.5e30' },
        odd: { N: '123' },
      },
      {
        b: { B: new Uint8Array([1, 2, 3]) },
        t: { BOOL: true },
        z: { NULL: true },
        ss: { SS: ['a', 'bc'] },
        ns: { NS: ['1', '22'] },
      },
      {
        list: { L: [{ S: 'x' }, { N: '5' }] },
        map: { M: { inner: { S: 'yz' }, deeper: { M: { q: { BOOL: false } } } } },
      },
    ];
    for (const item of items) {
      const reference = dynalite.itemSize(
        structuredClone({
          ...item,
          ...(item['b'] ? { b: { B: Buffer.from([1, 2, 3]).toString('base64') } } : {}),
        }) as never,
      );
      assert.equal(itemSizeBytes(item), reference, JSON.stringify(item));
    }
  });

  it('counts text in UTF-8 bytes, as DynamoDB documents, and knows the 400 KB limit', () => {
    assert.equal(itemSizeBytes({ t: { S: 'é' } }), 1 + 2);
    assert.equal(itemSizeBytes({ clé: { S: '日本' } }), 4 + 6);
    assert.equal(MAX_ITEM_BYTES, 409_600);
  });
});
