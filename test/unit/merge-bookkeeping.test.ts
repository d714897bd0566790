import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entryKey } from '../../index-store/index-entry.ts';
import { countChange, latestPerItem, shardWindows } from '../../indexer/merge.ts';
import type { ShardEntry } from '../../indexer/run-files.ts';

const vector = (id: string, version = 1): ShardEntry => ({
  group: 'g',
  id,
  version,
  kind: 'vector',
  row: 0,
  passages: [[0, 1]],
});
const del = (id: string): ShardEntry => ({ group: 'g', id, version: 1, kind: 'delete' });
const gone = (id: string): ShardEntry => ({ group: 'g', id, version: 1, kind: 'gone' });
const poison = (id: string): ShardEntry => ({ group: 'g', id, version: 1, kind: 'poison', reason: 'empty' });
const held = (...ids: string[]): Set<string> => new Set(ids.map((id) => entryKey({ group: 'g', id })));

describe('merge bookkeeping', () => {
  it('counts an incremental merge apart: new vectors added, held ones replaced, held non-vectors removed', () => {
    // Prepare: the index holds a, b, c, d
    const before = held('a', 'b', 'c', 'd');
    const entries = [
      vector('a'),
      vector('new1'),
      vector('new2'),
      del('b'),
      poison('c'),
      gone('e'),
      del('never-indexed'),
    ];
    // Act
    const change = countChange(before, entries, false);
    // Assess
    assert.deepEqual(change, { added: 2, replaced: 1, removed: 2 });
  });

  it('counts a rebuild against what the old index held: kept keys replaced, every other old key removed', () => {
    const change = countChange(
      held('a', 'b', 'c', 'vanished'),
      [vector('a'), vector('b'), poison('c'), vector('new')],
      true,
    );
    assert.deepEqual(change, { added: 1, replaced: 2, removed: 2 });
  });

  it('counts nothing for an empty change', () => {
    assert.deepEqual(countChange(held('a'), [], false), { added: 0, replaced: 0, removed: 0 });
  });

  it('keeps one entry per item, its newest version, wherever it was seen first', () => {
    // Prepare: item x seen twice in one run, its newer version in a later batch
    const entries = [vector('x', 5), vector('y', 1), vector('x', 9), del('y')];
    // Act
    const latest = latestPerItem(entries).map((entry) => `${entry.id}@${entry.version}:${entry.kind}`);
    // Assess: y's delete carries version 1 like its vector; the first seen of equal versions stays
    assert.deepEqual(latest, ['x@9:vector', 'y@1:vector']);
  });
});

describe('merge windows', () => {
  it("groups shards in order into windows of at most a segment's rows, leaving out shards without rows", () => {
    // Act
    const windows = shardWindows([400, 300, 0, 500, 1_200, 100, 100], 1_000);
    // Assess: a shard larger than the window is a window of its own
    assert.deepEqual(windows, [[0, 1], [3], [4], [5, 6]]);
    assert.deepEqual(shardWindows([0, 0], 1_000), []);
  });
});
