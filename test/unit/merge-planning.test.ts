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
import { mergedChange, newMergeState, planChanges } from '../../indexer/merge.ts';
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
    const state = newMergeState();
    const planned = planOf(efsRoot, 'incremental', entries, state);

    // Assess
    assert.deepEqual(mergedChange(state, false), { added: 1, replaced: 1, removed: 1 });
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
    const state = newMergeState();
    const scopes = new Map([[undefined, entries]]);
    const planned = planChanges(efsRoot, run('backfill'), MODEL, scopes, shardsOf(entries), 1, state);

    // Assess
    assert.deepEqual(mergedChange(state, true), { added: 1, replaced: 1, removed: 2 });
    assert.deepEqual(planned.work.get(undefined)!.segments, [], 'a backfill starts its index from nothing');
  });

  it('counts a run merged over several windows as one merge would: once an item, whichever windows see it', async () => {
    // Prepare: the index holds a, b and c. Window 0 sees a@2, b deleted, n new; window 1 sees a@1 (older
    // than window 0's), n@3 (newer), c@2, then n deleted in window 2 and b given a vector again.
    const efsRoot = `${dir.path}/windows`;
    await publishedIndex(efsRoot, ['a', 'b', 'c']);
    const state = newMergeState();
    const windows = [
      [vector('a', 2, 0), del('b', 2), vector('n', 2, 1)],
      [vector('a', 1, 0), vector('n', 3, 1), vector('c', 2, 2)],
      [del('n', 4), vector('b', 3, 0)],
    ];

    // Act: each window planned and its vectors written, as the merge stage does between invocations
    const cleared: string[] = [];
    for (const entries of windows) {
      const planned = planOf(efsRoot, 'incremental', entries, state);
      const { store, segments } = planned.work.get(undefined)!;
      const items = planned.toWrite[0]!.map((entry) => ({
        entry: { group: entry.group, id: entry.id, version: entry.version },
        passages: [[0, 1]] as [number, number][],
        vectors: new Float32Array([0, 1]),
      }));
      state.scopes[0]!.segments = [...segments, ...(await writeSegments(store, items, MODEL.dimensions))];
      cleared.push(...planned.clearList.map((entry) => `${entry.id}@${entry.version}:${entry.kind}`));
    }

    // Assess: a replaced (by a@2), b replaced (deleted, then back), c replaced, n never in the index
    assert.deepEqual(mergedChange(state, false), { added: 0, replaced: 3, removed: 0 });
    assert.ok(cleared.includes('a@1:superseded'), 'an older version than an earlier window wrote is superseded');
    const store = new GenerationStore(efsRoot, undefined);
    const published = store.publish(state.scopes[0]!.segments, { ...MODEL }, 'windows');
    const live = new Map<string, number>();
    for (const segment of published.segments) {
      const keys = store.keys(segment);
      const dead = new Set(store.deadRows(segment));
      for (let row = 0; row < segment.rows; row++)
        if (!dead.has(row)) live.set(keys.entry(row).id, keys.entry(row).version);
    }
    assert.deepEqual(Object.fromEntries([...live].sort()), { a: 2, b: 3, c: 2 }, 'each item once, its newest version');
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
        newMergeState(),
      );

    // Assess
    assert.throws(plan, { name: 'ModelMismatchError' });
  });
});

/** `planChanges` of one scope's entries, all in shard 0. */
const planOf = (
  efsRoot: string,
  mode: RunInfo['mode'],
  entries: readonly ShardEntry[],
  state = newMergeState(),
  model = MODEL,
) => planChanges(efsRoot, run(mode), model, new Map([[undefined, entries]]), shardsOf(entries), 1, state);

/** Every vector entry held by shard 0. */
const shardsOf = (entries: readonly ShardEntry[]): Map<ShardEntry, number> =>
  new Map(entries.filter((entry) => entry.kind === 'vector').map((entry) => [entry, 0]));
