/**
 * The clear stage's statements, fast and without a stack: each clears one flag (or a captured
 * item's change marker) only while its version is the one indexed, with every identifier quoted as
 * PartiQL needs. DynamoDB running them (25 to a request, a stale one coming back alone) is tested
 * in `test/integration/dynamodb-local.test.ts` and the stage in `indexer-stages.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/config.ts';
import { clearFlagStatement } from '../../indexer/clear.ts';
import { changeMarkerKey } from '../../table/reserved-items.ts';

const config = loadConfig({ flags: {}, env: {} });

describe("the clear stage's statements", () => {
  it("removes the item's flag only while its version is the one indexed", () => {
    // Act
    const statement = clearFlagStatement(config, { group: 'news', id: 'a1', version: 1733472000000001 });

    // Assess
    assert.equal(
      statement.Statement,
      `UPDATE "${config.tableName}" REMOVE "faiss_pending" WHERE "content_group" = ? AND "content_id" = ? ` +
        'AND "faiss_pending" = ?',
    );
    assert.deepEqual(statement.Parameters, [{ S: 'news' }, { S: 'a1' }, { N: '1733472000000001' }]);
  });

  it("settles a captured item's change marker, not the item", () => {
    // Act
    const statement = clearFlagStatement(config, { group: 'news', id: 'a1', version: 42, marker: true });

    // Assess
    const marker = changeMarkerKey({ group: 'news', id: 'a1' });
    assert.deepEqual(statement.Parameters, [{ S: marker.group }, { S: marker.id }, { N: '42' }]);
    assert.notEqual(marker.group, 'news');
  });

  it('quotes identifiers, doubling a quote inside one', () => {
    // Act
    const statement = clearFlagStatement(
      { ...config, tableName: 'odd"table', pendingAttribute: 'pending"flag' },
      { group: 'g', id: 'i', version: 1 },
    );

    // Assess
    assert.match(statement.Statement!, /^UPDATE "odd""table" REMOVE "pending""flag" WHERE/);
  });
});
