import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactionFolds, foldSegments } from '../../index-store/compaction.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

const ids = (n: number): string[] =>
  sentences(n)
    .map((item) => item.id)
    .sort();

describe('segmented index in the workflow (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });
  const store = () => new GenerationStore(h.config.efsRoot);
  const meta = () => store().meta(store().current()!);

  it('each run adds a segment and tombstones; the Compact index step folds them past the threshold', async () => {
    // Prepare: a base run, then runs that each edit two items
    await h.put(sentences(40));
    const base = await h.run();
    const counts: number[] = [];
    for (let run = 0; run < 5; run++) {
      await h.edit(`item-${String(run * 2).padStart(4, '0')}`, `run ${run} rewrote this sentence about harbours`);
      await h.edit(`item-${String(run * 2 + 1).padStart(4, '0')}`, `run ${run} rewrote this one about mountains`);
      // Act
      const outcome = await h.run();
      assert.equal(outcome.status, 'SUCCEEDED', outcome.cause);
      counts.push(meta().segments.length);
      if (run === 3) {
        // Assess: the fifth small segment passes the threshold of four
        assert.equal(outcome.output['compaction'].compacted, 1);
        assert.equal(outcome.output['compaction'].deadDropped, 8);
      } else assert.equal(outcome.output['compaction'].compacted, 0);
    }
    // Assess
    assert.equal(base.status, 'SUCCEEDED');
    assert.deepEqual(counts, [2, 3, 4, 1, 2]);
    assert.equal(meta().segments[0]!.dead, 2, 'the compacted segment, with the two rows the last run replaced');
    assert.deepEqual(h.indexedIds(), ids(40), 'every item once');
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('a compaction that fails leaves the index as it was, clears the flags, and the next run compacts', async () => {
    // Prepare: two more small segments (four in all), so the next run's compaction has work;
    // it crashes after writing its segment
    for (let run = 0; run < 2; run++) {
      await h.edit(`item-002${run}`, `edit ${run} of a sentence about rivers`);
      await h.run();
    }
    let orphan = '';
    h.overrides = () => ({
      compact: async (event) => {
        const current = meta();
        const { folded } = await foldSegments(
          store(),
          current.segments,
          compactionFolds(current.segments)[0]!,
          event.model.dimensions,
        );
        orphan = folded.id;
        throw new Error('injected crash after writing the compacted segment, before publishing it');
      },
    });
    await h.edit('item-0024', 'a sentence about lakes');
    const generation = meta().generation;
    // Act
    const crashed = await h.run();
    h.overrides = () => ({});
    await h.edit('item-0025', 'a sentence about forests');
    const healed = await h.run();
    // Assess: the crashed run still succeeded and cleared its flags; the failure is in its output
    assert.equal(crashed.status, 'SUCCEEDED', crashed.cause);
    assert.match(crashed.output['compaction'].Cause, /injected crash/);
    assert.ok(meta().generation > generation);
    assert.equal(healed.status, 'SUCCEEDED', healed.cause);
    assert.equal(healed.output['compaction'].compacted, 1);
    assert.equal(meta().segments.length, 1);
    assert.deepEqual(h.indexedIds(), ids(40));
    assert.deepEqual(await h.pendingIds(), []);
    assert.notEqual(orphan, '', 'the crashed compaction had written a segment');
    assert.ok(!existsSync(path.join(store().dir, 'segments', orphan)), 'which the next publication removed');
  });

  it("tells a user with ddb-faiss 0.1's index to backfill, and the backfill rewrites it as segments", async () => {
    // Prepare: the index as 0.1 left it: one folder per generation, with entries.json
    const dirOf = store().dir;
    rmSync(dirOf, { recursive: true, force: true });
    mkdirSync(path.join(dirOf, 'gen-000007'), { recursive: true });
    writeFileSync(
      path.join(dirOf, 'gen-000007', 'entries.json'),
      JSON.stringify([{ group: 'g', id: 'item-0001', version: 1 }]),
    );
    writeFileSync(path.join(dirOf, 'CURRENT.json'), JSON.stringify({ generation: 7, folder: 'gen-000007' }));
    await h.edit('item-0002', 'a sentence about deserts');
    // Act
    const searched = await h.search('q=deserts&k=3');
    const incremental = await h.run();
    const backfill = await h.run('backfill');
    // Assess
    assert.equal(searched.status, 503);
    assert.match(searched.body.message, /written by ddb-faiss 0\.1.*start a backfill/);
    assert.equal(incremental.status, 'FAILED');
    assert.match(incremental.cause ?? '', /start a backfill \(`ddb-faiss backfill --wait`\)/);
    assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
    assert.equal(backfill.output['merge'].replaced, 1, 'the one item 0.1 held');
    assert.equal(meta().generation, 8);
    assert.ok(!existsSync(path.join(dirOf, 'gen-000007')), 'the old folder is removed');
    assert.deepEqual(h.indexedIds(), ids(40));
    assert.deepEqual(await h.pendingIds(), []);
  });
});
