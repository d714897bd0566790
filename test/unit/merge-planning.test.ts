/**
 * The merge stage's planning step (`planChanges`), fast and without a stack: over an index on a
 * folder of its own, what a run's shard entries change (counts), what the clear stage settles (each
 * entry once, superseded versions apart), and which vectors go into the index. The whole stage,
 * with DynamoDB and the state machine, is tested in `test/integration/indexer-stages.test.ts`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GenerationStore } from '../../index-store/generations.ts';
import { writeSegments } from '../../index-store/index-writer.ts';
import type { ModelDescriptor, RunInfo } from '../../indexer/context.ts';
import { planChanges } from '../../indexer/merge.ts';
import type { ShardEntry } from '../../indexer/run-files.ts';
import { tempDir } from '../helpers/scratch.ts';

const MODEL: ModelDescriptor = { name: 'test', checksum: 'c0ffee', dimensions: 2, dir: 'models/test' };
const run = (mode: RunInfo['mode']): RunInfo => ({ mode, execution: `run-${mode}`, executionArn: `arn:${mode}` });
const vector = (id: string, version: number, row = 0): ShardEntry => ({
  group: 'g',
  id,
  version,
  kind: 'vector',
  row,
  passages: [[0, 1]],
});
const del = (id: string, version: number): ShardEntry => ({ group: 'g', id, version, kind: 'delete' });
const poison = (id: string, version: number): ShardEntry => ({
  group: 'g',
  id,
  version,
  kind: 'poison',
  reason: 'empty',
});

/** An index on `efsRoot` holding items of group g, as a run before this one published it. */
async function publishedIndex(efsRoot: string, ids: readonly string[]): Promise<void> {
  const store = new GenerationStore(efsRoot, undefined);
  const items = ids.map((id) => ({
    entry: { group: 'g', id, version: 1 },
    passages: [[0, 1]] as [number, number][],
    vectors: new Float32Array([1, 0]),
  }));
  const segments = await writeSegments(store, items, MODEL.dimensions, () => undefined, undefined);
  store.publish(segments, { name: MODEL.name, checksum: MODEL.checksum, dimensions: MODEL.dimensions }, 'before');
}

describe("the merge stage's plan", () => {
  const dir = tempDir('ddb-faiss-merge-plan-');
  after(() => dir.remove());

  it('replaces a held item, removes a deleted one, adds a new one, and clears each entry once', async () => {
    // Prepare: the index holds a and b; this run saw a edited twice, b deleted, c new, d poison
    const efsRoot = `${dir.path}/incremental`;
    await publishedIndex(efsRoot, ['a', 'b']);
    const entries = [vector('a', 2, 0), vector('a', 3, 1), del('b', 2), vector('c', 1, 2), poison('d', 1)];

    // Act
    const planned = planChanges(
      efsRoot,
      run('incremental'),
      MODEL,
      new Map([[undefined, entries]]),
      shardsOf(entries),
      1,
    );

    // Assess
    assert.deepEqual(planned.change, { added: 1, replaced: 1, removed: 1 });
    const cleared = planned.clearList.map((entry) => `${entry.id}@${entry.version}:${entry.kind}`).sort();
    assert.deepEqual(cleared, ['a@2:superseded', 'a@3:vector', 'b@2:delete', 'c@1:vector', 'd@1:poison']);
    assert.deepEqual(
      planned.toWrite[0]!.map((entry) => `${entry.id}@${entry.version}`),
      ['a@3', 'c@1'],
      'the newest version of each item, once',
    );
  });

  it('counts a backfill against what the old index held, without reading it for tombstones', async () => {
    // Prepare: the index holds a, b and c; the backfill finds a and d
    const efsRoot = `${dir.path}/backfill`;
    await publishedIndex(efsRoot, ['a', 'b', 'c']);
    const entries = [vector('a', 5, 0), vector('d', 5, 1)];

    // Act
    const planned = planChanges(efsRoot, run('backfill'), MODEL, new Map([[undefined, entries]]), shardsOf(entries), 1);

    // Assess
    assert.deepEqual(planned.change, { added: 1, replaced: 1, removed: 2 });
    assert.deepEqual(planned.work.get(undefined)!.segments, [], 'a backfill starts its index from nothing');
  });

  it('refuses an incremental run of another model than the one that built the index', async () => {
    // Prepare
    const efsRoot = `${dir.path}/model`;
    await publishedIndex(efsRoot, ['a']);
    const entries = [vector('a', 2)];

    // Act
    const plan = () =>
      planChanges(
        efsRoot,
        run('incremental'),
        { ...MODEL, checksum: 'beef' },
        new Map([[undefined, entries]]),
        shardsOf(entries),
        1,
      );

    // Assess
    assert.throws(plan, { name: 'ModelMismatchError' });
  });
});

/** Every vector entry held by shard 0. */
const shardsOf = (entries: readonly ShardEntry[]): Map<ShardEntry, number> =>
  new Map(entries.filter((entry) => entry.kind === 'vector').map((entry) => [entry, 0]));
