/**
 * A run's changes to the index, counted apart (added, replaced, removed) and reported the same
 * way by the run's output, `ddb-faiss run --wait`, and `ddb-faiss status`.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyAttributes } from '../../table/items.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('merge counts (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dir.path, '--state-machine', 'indexer']);
  before(async () => {
    h = await IndexerHarness.start(dir.path);
    await h.put(sentences(60));
    assert.equal((await h.run()).status, 'SUCCEEDED');
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('counts a mixed run apart: new items added, edits replaced, deletes and new poison removed', async () => {
    // Prepare: 10 new items, 5 edits, 3 soft deletes, 2 items edited into poison (empty content)
    await h.put(sentences(10, 'new'));
    for (let i = 0; i < 5; i++)
      await h.edit(`item-000${i}`, `an edited sentence about a lighthouse keeper number ${i}`);
    for (const id of ['item-0010', 'item-0011', 'item-0012']) await h.softDelete(id);
    for (const id of ['item-0020', 'item-0021']) await h.edit(id, '   ');
    // Act
    const run = await cli('run', '--wait');
    const status = JSON.parse((await cli('status', '--json')).stdout);
    const statusText = (await cli('status')).stdout;
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /generation 2: 65 items \(10 added, 5 replaced, 5 removed, 2 poison\)/);
    assert.deepEqual(status.index.change, { added: 10, replaced: 5, removed: 5, execution: status.executions[0].name });
    assert.equal(status.index.vectors, 65);
    assert.match(statusText, /last change +10 added, 5 replaced, 5 removed by manual-/);
  });

  it('counts a backfill against the index it replaces: every kept item replaced, vanished ones removed', async () => {
    // Prepare: one item deleted behind the index's back
    await h.stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: h.config.tableName,
        Key: keyAttributes(h.config, { group: 'g', id: 'item-0030' }),
      }),
    );
    // Act
    const backfill = await h.run('backfill');
    // Assess
    assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
    const { added, replaced, removed, vectors } = backfill.output['merge'];
    assert.deepEqual({ added, replaced, removed, vectors }, { added: 0, replaced: 64, removed: 1, vectors: 64 });
  });
});
