/**
 * A damaged index is detected, never read as an answer: every kind of file of a published
 * generation, damaged in the ways a disk or a careless hand damages it (truncated, bytes changed,
 * replaced by garbage), makes opening or searching the index fail with IndexDamagedError naming
 * the file, or gives the exact answer; `verifyIndex` names it; a reader remembers a failed open.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomUnitVectors } from '../../bench/random.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { applyChange, HeldItems, onePassage, writeSegments } from '../../index-store/index-writer.ts';
import { IndexDamagedError, rowChecksum } from '../../index-store/integrity.ts';
import { FLAT_MAX_ROWS } from '../../index-store/segment.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { verifyIndex } from '../../index-store/verify.ts';
import { tempDir } from '../helpers/scratch.ts';
import { change, garbage, truncate } from '../helpers/damage.ts';
import { IndexReader, REOPEN_BACKOFF_MS } from '../../search/index-reader.ts';

const MODEL = { name: 'test', checksum: 'c'.repeat(64), dimensions: 16 };
const d = MODEL.dimensions;
// The first segment is IVF (its index.faiss the codes); searches ask for the first ASKED items.
const COUNT = FLAT_MAX_ROWS + 600;
const ASKED = 600;
const vectors = randomUnitVectors(COUNT, d, 7);
const items = Array.from({ length: COUNT }, (_, i) =>
  onePassage({ group: `g${i % 3}`, id: `i${i}`, version: 1 }, vectors.subarray(i * d, (i + 1) * d)),
);
const vectorOf = (i: number): Float32Array => vectors.subarray(i * d, (i + 1) * d);

/** Every item's own vector finds it first, or the search fails as damaged: never another answer. */
function searchesAnswerRightOrDamaged(efsRoot: string): { damaged: number; right: number } {
  let damaged = 0;
  let right = 0;
  const store = new GenerationStore(efsRoot);
  let index: SegmentedIndex;
  try {
    index = SegmentedIndex.open(store, store.meta(store.current()!));
  } catch (error) {
    assert.ok(error instanceof IndexDamagedError, `opening failed with ${(error as Error).stack}`);
    return { damaged: COUNT, right: 0 };
  }
  for (let i = 0; i < ASKED; i += 7) {
    for (const selection of [index.select(), index.select({ groups: [`g${i % 3}`] })]) {
      try {
        const [hit] = index.search(vectorOf(i), 1, selection);
        assert.equal(hit?.entry.id, `i${i}`, 'a search that answers gives the right item');
        right += 1;
      } catch (error) {
        assert.ok(error instanceof IndexDamagedError, `search failed with ${(error as Error).stack}`);
        damaged += 1;
      }
    }
  }
  return { damaged, right };
}

describe('a damaged index', () => {
  const dir = tempDir();
  const pristine = path.join(dir.path, 'pristine');
  const efsRoot = path.join(dir.path, 'efs');
  const indexDir = path.join(efsRoot, 'index');

  before(async () => {
    // Prepare: two segments, the first with tombstones (its items 0..49 replaced by the second)
    const store = new GenerationStore(pristine);
    const first = await writeSegments(store, items, d);
    const held = new HeldItems(store, first);
    const replaced = items.slice(0, 50);
    const segments = await applyChange(
      store,
      held,
      replaced.map((item) => item.entry),
      replaced,
      d,
    );
    store.publish(segments, MODEL, 'test');
  });
  after(() => dir.remove());

  /** The index as published, with one file changed by `damage`. */
  const damaged = (
    file: (names: { segment: string; newest: string; tombstone: string }) => string,
    damage: (file: string) => void,
  ) => {
    rmSync(efsRoot, { recursive: true, force: true });
    cpSync(pristine, efsRoot, { recursive: true });
    const store = new GenerationStore(efsRoot);
    const meta = store.meta(store.current()!);
    const [first, second] = meta.segments;
    const target = path.join(
      indexDir,
      file({
        segment: `segments/${first!.id}`,
        newest: `segments/${second!.id}`,
        tombstone: `tombstones/${first!.tombstones[0]}`,
      }),
    );
    damage(target);
    return target;
  };
  const cases: [string, Parameters<typeof damaged>[0], (file: string) => void][] = [
    ['index.faiss truncated', (f) => `${f.segment}/index.faiss`, truncate],
    ['index.faiss changed', (f) => `${f.segment}/index.faiss`, change(0.5, 64)],
    ['vectors.f32 changed (4 KB)', (f) => `${f.segment}/vectors.f32`, change(0.01)],
    ['vectors.f32 of a flat segment truncated (its index)', (f) => `${f.newest}/vectors.f32`, truncate],
    ['vectors.f32 truncated', (f) => `${f.segment}/vectors.f32`, truncate],
    ['vectors.sum changed', (f) => `${f.segment}/vectors.sum`, change(0.02, 8)],
    ['keys.bin changed (a page every search reads)', (f) => `${f.segment}/keys.bin`, change(0, 64)],
    ['keys.bin truncated', (f) => `${f.segment}/keys.bin`, truncate],
    ["keys.sum changed (the checksums of the key map's pages)", (f) => `${f.segment}/keys.sum`, change(0.5, 8)],
    ['attributes.bin changed', (f) => `${f.segment}/attributes.bin`, change(0, 8)],
    ['lexical.bin truncated', (f) => `${f.newest}/lexical.bin`, truncate],
    ['segment.json garbage', (f) => `${f.segment}/segment.json`, garbage],
    ['a tombstone file changed', (f) => f.tombstone, change(0, 8)],
    ['the generation manifest garbage', () => 'generations/gen-000001.json', garbage],
    ['CURRENT.json garbage', () => 'CURRENT.json', garbage],
  ];

  for (const [name, file, damage] of cases) {
    it(`is detected: ${name}`, () => {
      // Prepare
      const target = damaged(file, damage);
      const relative = path.relative(efsRoot, target);
      // Act
      const answers = searchesAnswerRightOrDamaged(efsRoot);
      const report = verifyIndex(efsRoot, 'global');
      // Assess
      assert.ok(answers.damaged > 0, `some search notices: ${JSON.stringify(answers)}`);
      assert.ok(
        report.problems.some((problem) => problem.file === relative),
        `verify names ${relative}: ${JSON.stringify(report.problems)}`,
      );
    });
  }

  it('verifies clean when nothing is damaged, reading every file', () => {
    rmSync(efsRoot, { recursive: true, force: true });
    cpSync(pristine, efsRoot, { recursive: true });
    const report = verifyIndex(efsRoot, 'global');
    assert.deepEqual(report.problems, []);
    assert.equal(report.indexes[0]!.generation, 1);
    assert.ok(report.bytes >= COUNT * d * 4, 'the vectors are read whole');
    assert.deepEqual(searchesAnswerRightOrDamaged(efsRoot).damaged, 0);
  });

  it('is found by a run without reading it: every file at the size its manifest records', () => {
    damaged((f) => `${f.segment}/index.faiss`, truncate);
    const store = new GenerationStore(efsRoot);
    assert.throws(
      () => store.checkSizes(store.meta(store.current()!)),
      /index\.faiss is \d[\d,]* bytes; its manifest says/,
    );
  });

  it('is remembered by a reader: the same error at once, the open tried again after a backoff', () => {
    // Prepare
    const target = damaged((f) => `${f.segment}/keys.bin`, truncate);
    const pristineBytes = readFileSync(path.join(pristine, path.relative(efsRoot, target)));
    let now = 0;
    const reader = new IndexReader(efsRoot, 'global', () => now);
    // Act, Assess
    assert.throws(() => reader.current(), IndexDamagedError);
    writeFileSync(target, pristineBytes); // healed on disk, but the failure is remembered
    assert.throws(() => reader.current(), IndexDamagedError, 'within the backoff: not read again');
    now += REOPEN_BACKOFF_MS.first;
    assert.equal(reader.current()?.size, COUNT, 'after the backoff it opens');
  });

  it('checks rows by a checksum that any change of a word moves', () => {
    const words = new Uint32Array(Float32Array.from(vectorOf(3)).buffer);
    const before = rowChecksum(words, 0, d);
    for (const change of [
      (w: Uint32Array) => (w[5]! ^= 1),
      (w: Uint32Array) => ([w[1], w[2]] = [w[2]!, w[1]!]),
      (w: Uint32Array) => w.fill(0),
    ]) {
      const copy = words.slice();
      change(copy);
      assert.notEqual(rowChecksum(copy, 0, d), before);
    }
  });
});
