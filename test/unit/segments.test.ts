import assert from 'node:assert/strict';
import {
  closeSync,
  cpSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import faiss from 'faiss-node';
import { randomUnitVectors } from '../../bench/random.ts';
import { compactionFolds, compactStep, foldSegments } from '../../index-store/compaction.ts';
import { GenerationStore, type SegmentRef } from '../../index-store/generations.ts';
import { applyChange, HeldItems, type ItemVectors, onePassage, writeSegments } from '../../index-store/index-writer.ts';
import { IndexDamagedError } from '../../index-store/integrity.ts';
import { KeyFilter, KeyFilterFormatError } from '../../index-store/key-filter.ts';
import { FLAT_MAX_ROWS, flatIndexOf, OpenSegment, SEGMENT_FILES, SegmentFiles } from '../../index-store/segment.ts';
import { encodeSegmentKeys, SegmentKeys } from '../../index-store/segment-keys.ts';
import {
  EXACT_SCAN_ROWS,
  probesOf,
  rerankDepth,
  rerankedRows,
  SegmentedIndex,
  type SearchTuning,
} from '../../index-store/segmented-index.ts';
import { tempDir } from '../helpers/scratch.ts';

const MODEL = { name: 'test', checksum: 'c'.repeat(64), dimensions: 16 };
const d = MODEL.dimensions;

/** Items `prefix0..` spread over `groups` groups, with their vectors. */
function items(count: number, groups: number, seed: number, prefix = 'i') {
  const vectors = randomUnitVectors(count, d, seed);
  return Array.from({ length: count }, (_, i) =>
    onePassage({ group: `g${i % groups}`, id: `${prefix}${i}`, version: 1 }, vectors.subarray(i * d, (i + 1) * d)),
  );
}

/** The k best of the items by exact inner product, optionally of one group. */
function exact(all: ReturnType<typeof items>, query: Float32Array, k: number, group?: string): string[] {
  return all
    .filter((item) => group === undefined || item.entry.group === group)
    .map((item) => ({ id: item.entry.id, score: scoreOf(item, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((hit) => hit.id);
}

/** Each run's items written as the segments a run writes, in order. */
async function writeRuns(store: GenerationStore, runs: readonly ReturnType<typeof items>[]): Promise<SegmentRef[]> {
  const segments: SegmentRef[] = [];
  for (const run of runs) segments.push(...(await writeSegments(store, run, d)));
  return segments;
}

/** An item's exact inner product with the query. */
const scoreOf = (item: ReturnType<typeof items>[number], query: Float32Array): number =>
  item.vectors.reduce((sum, x, j) => sum + x * query[j]!, 0);

/** What `act` throws, or undefined when it returns. */
function errorOf(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
}

const bytesOf = (files: string[]): number => files.reduce((sum, file) => sum + statSync(file).size, 0);
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));

describe('segment key map', () => {
  it('finds every key, names each row and each group range, and misses absent keys', () => {
    // Prepare
    const entries = ['a', 'a', 'b', 'c', 'c', 'c'].map((group, i) => ({ group, id: `id-${i}é`, version: i + 0.5 }));
    // Act
    const keys = SegmentKeys.decode(encodeSegmentKeys(entries.map((entry) => ({ entry, passages: [[0, 1]] }))));
    // Assess
    entries.forEach((entry, row) => {
      assert.equal(keys.find(entry.group, entry.id), row);
      assert.deepEqual(keys.entry(row), entry);
    });
    assert.deepEqual(keys.groupRange('c'), [3, 6]);
    assert.deepEqual(keys.groupRange('z'), [0, 0]);
    assert.equal(keys.find('a', 'id-2é'), -1, 'the id of another group');
    assert.equal(keys.find('a', 'nope'), -1);
  });

  it('refuses rows out of group order and a key given twice', () => {
    const item = (group: string) => ({ entry: { group, id: 'x', version: 1 }, passages: [[0, 1]] as const });
    assert.throws(() => encodeSegmentKeys(['b', 'a'].map(item)), /not sorted by group at item 1/);
    assert.throws(() => encodeSegmentKeys(['g', 'g'].map(item)), /g\/x appears twice/);
  });
});

describe('segmented index', () => {
  it('searches several segments with tombstones exactly, and a group filter gives k hits of the group', async () => {
    // Prepare: two runs' segments; the second replaces 30 items of the first and removes 10
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const base = items(3_000, 7, 1);
      const replaced = items(30, 7, 2); // same keys i0..i29, new vectors
      const removed = base.slice(100, 110).map((item) => item.entry);
      const held = new HeldItems(store, await writeSegments(store, base, d));
      const keys = [...replaced.map((item) => item.entry), ...removed];
      const meta = store.publish(await applyChange(store, held, keys, replaced, d), MODEL, 'test');
      const live = [...replaced, ...base.slice(30, 100), ...base.slice(110)];
      // Act
      const index = SegmentedIndex.open(store, meta);
      const queries = randomUnitVectors(20, d, 3);
      const query = (q: number) => queries.subarray(q * d, (q + 1) * d);
      // Assess
      assert.equal(index.size, 2_990);
      assert.equal(meta.segments.length, 2);
      assert.equal(meta.segments[0]!.dead, 40);
      assert.equal(index.groups.get('g3'), live.filter((item) => item.entry.group === 'g3').length);
      for (let q = 0; q < 20; q++) {
        assert.deepEqual(
          index.search(query(q), 10).map((hit) => hit.entry.id),
          exact(live, query(q), 10),
        );
        assert.deepEqual(
          index.search(query(q), 10, index.select({ groups: ['g5'] })).map((hit) => hit.entry.id),
          exact(live, query(q), 10, 'g5'),
        );
        // Several groups (a tenant's): the k best of their items, the groups between them left out.
        const tenant = live.filter((item) => ['g1', 'g3', 'g6'].includes(item.entry.group));
        assert.deepEqual(
          index.search(query(q), 10, index.select({ groups: ['g6', 'g1', 'g3', 'absent'] })).map((hit) => hit.entry.id),
          exact(tenant, query(q), 10),
        );
      }
      assert.equal(
        index.select({ groups: ['g1', 'g3', 'g6'] }).items,
        index.size - [0, 2, 4, 5].reduce((sum, g) => sum + index.groups.get(`g${g}`)!, 0),
      );
      assert.equal(index.select({ groups: [] }).items, 0, 'no group: no item');
      assert.deepEqual(index.search(query(0), 10, index.select({ groups: ['absent'] })), []);
      assert.ok(!index.has('g0', 'i105'), 'a removed item');
      assert.ok(index.has('g0', 'i0'), 'a replaced item lives in the new segment');
    } finally {
      dir.remove();
    }
  });

  it(`makes a segment of more than ${FLAT_MAX_ROWS.toLocaleString('en')} rows IVF, re-ranked; small groups stay exact`, async () => {
    // Prepare: one large segment; group "rare" is 200 rows, far below the faiss widening's reach
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const all = items(FLAT_MAX_ROWS, 3, 4);
      const rare = items(200, 1, 5, 'rare-').map((item) => ({ ...item, entry: { ...item.entry, group: 'rare' } }));
      const meta = store.publish(await writeSegments(store, [...all, ...rare], d), MODEL, 'test');
      const index = SegmentedIndex.open(store, meta);
      const queries = randomUnitVectors(50, d, 6);
      // Act
      let found = 0;
      for (let q = 0; q < 50; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        const truth = new Set(exact([...all, ...rare], query, 10));
        found += index.search(query, 10).filter((hit) => truth.has(hit.entry.id)).length;
        assert.deepEqual(
          index.search(query, 10, index.select({ groups: ['rare'] })).map((hit) => hit.entry.id),
          exact(rare, query, 10),
        );
        // A large group and a small one together: k hits, all of them theirs.
        const pair = index.search(query, 10, index.select({ groups: ['rare', 'g2'] }));
        assert.equal(pair.length, 10);
        assert.ok(pair.every((hit) => hit.entry.group === 'rare' || hit.entry.group === 'g2'));
      }
      // Assess: an IVF segment, whose scores are exact inner products after re-ranking
      assert.equal(meta.segments[0]!.kind, 'ivf');
      assert.ok(200 <= EXACT_SCAN_ROWS);
      assert.ok(found / 500 >= 0.9, `recall@10 ${found / 500}`);
    } finally {
      dir.remove();
    }
  });

  it('searches several IVF segments side by side and re-ranks their candidates once, together, with recall', async () => {
    // Prepare: three IVF segments, written by three runs
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const runs = [0, 1, 2].map((run) => items(FLAT_MAX_ROWS + 1_000, 4, 40 + run, `r${run}-`));
      const segments = await writeRuns(store, runs);
      const index = SegmentedIndex.open(store, store.publish(segments, MODEL, 'test'));
      const queries = randomUnitVectors(50, d, 43);
      // Act
      let found = 0;
      for (let q = 0; q < 50; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        const truth = new Set(exact(runs.flat(), query, 10));
        const hits = index.search(query, 10);
        found += hits.filter((hit) => truth.has(hit.entry.id)).length;
        // Assess: each score is the exact inner product (re-ranked), best first
        for (const hit of hits) {
          const score = scoreOf(
            runs.flat().find((one) => one.entry.id === hit.entry.id)!,
            query,
          );
          assert.ok(Math.abs(hit.score - score) < 1e-5, `${hit.entry.id}: ${hit.score} vs ${score}`);
        }
      }
      assert.deepEqual(
        segments.map((segment) => segment.kind),
        ['ivf', 'ivf', 'ivf'],
      );
      assert.ok(found / 500 >= 0.9, `recall@10 ${found / 500}`);
      // Their lists are searched in the mapped files (the contiguous form).
      const indexFiles = segments.map(({ id }) => path.join(store.dir, 'segments', id, SEGMENT_FILES.index));
      assert.deepEqual(
        faiss.readEach(indexFiles).map(({ contiguous }) => contiguous),
        [true, true, true],
      );
    } finally {
      dir.remove();
    }
  });

  it("opens IVF segments' indexes side by side, and names an unreadable one even without its checksum", async () => {
    // Prepare: two IVF segments; the second's index.faiss garbage, its checksums not recorded (as before checksums)
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const refs = await writeRuns(
        store,
        [0, 1].map((run) => items(FLAT_MAX_ROWS + 10, 2, 50 + run, `o${run}-`)),
      );
      const [good, bad] = refs.map((ref) => store.segmentFiles(ref)) as [SegmentFiles, SegmentFiles];
      const legacy = new SegmentFiles(bad.root, bad.dir);
      writeFileSync(legacy.path('index.faiss'), Buffer.alloc(4_096, 7));
      // Act
      const opened = OpenSegment.openEach([good]);
      const refused = (() => {
        try {
          OpenSegment.openEach([good, legacy]);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      // Assess
      assert.equal(opened[0]!.rows, FLAT_MAX_ROWS + 10);
      assert.ok(refused instanceof IndexDamagedError, String(refused));
      assert.match(refused.message, new RegExp(`${legacy.file('index.faiss')} cannot be read`));
    } finally {
      dir.remove();
    }
  });

  it('re-ranks rows read together: each row scored exactly whatever their order; a changed row, or one the file ends in, is named', async () => {
    // Prepare: one segment; the vectors of some rows read one by one, as before
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const [ref] = await writeRuns(store, [items(300, 3, 60)]);
      const files = store.segmentFiles(ref!);
      const segment = OpenSegment.open(files);
      const query = randomUnitVectors(1, d, 61);
      const rows = [299, 0, 17, 5, 200, 18];
      const dot = (vector: Float32Array) => vector.reduce((sum, x, j) => sum + x * query[j]!, 0);
      const expected = [...rows]
        .sort((a, b) => a - b)
        .map((row) => ({ row, score: dot(segment.vectorsOf(row, row + 1)) }));
      // Act
      segment.willRerank(rows);
      const ranked = segment.rerank(query, rows);
      const refusedRow = errorOf(() => faiss.adviseRows(0, d * 4, Float64Array.of(1, -1)));
      const vectorsFile = files.path(SEGMENT_FILES.vectors);
      const changed = openSync(vectorsFile, 'r+');
      writeSync(changed, Buffer.alloc(8, 0x5a), 0, 8, 17 * d * 4 + 12);
      closeSync(changed);
      const refusedChanged = errorOf(() => segment.rerank(query, [0, 17]));
      truncateSync(vectorsFile, 299 * d * 4 + 10);
      const refusedShort = errorOf(() => segment.rerank(query, [299, 5]));
      segment.close();
      // Assess
      assert.deepEqual(ranked, expected);
      assert.ok(refusedRow instanceof RangeError && /rows\[1\] is not a row number/.test(refusedRow.message));
      assert.ok(refusedChanged instanceof IndexDamagedError, String(refusedChanged));
      assert.match(refusedChanged.problem, /^row 17 does not match its checksum/);
      assert.ok(refusedShort instanceof IndexDamagedError, String(refusedShort));
      assert.match(refusedShort.problem, /^ends before the end of row 299/);
    } finally {
      dir.remove();
    }
  });

  it('re-ranks the best candidates over all segments by their approximate scores, and more while they hold under k items', () => {
    // Prepare: candidates of three segments; segment 2 has the best, segment 0 an item of three passages
    const candidates = [
      { ask: 0, hit: { row: 10, score: 0.5 } },
      { ask: 0, hit: { row: 11, score: 0.49 } },
      { ask: 1, hit: { row: 3, score: 0.7 } },
      { ask: 2, hit: { row: 7, score: 0.9 } },
      { ask: 2, hit: { row: 8, score: 0.8 } },
      { ask: 1, hit: { row: 4, score: 0.1 } },
    ];
    const itemOf = (ask: number, row: number): number => (ask === 0 ? 10 : row); // rows 10, 11 are one item
    // Act
    const three = rerankedRows(candidates, 3, 2, itemOf);
    const fewItems = rerankedRows(
      candidates.filter((candidate) => candidate.ask === 0),
      1,
      2,
      itemOf,
    );
    // Assess: the three best whatever their segment; the rows of one item do not count as two
    assert.deepEqual([...three.entries()].sort(), [
      [1, [3]],
      [2, [7, 8]],
    ]);
    assert.deepEqual([...fewItems.entries()], [[0, [10, 11]]]);
  });

  it('visits fewer lists in a segment searched beside others: by the square root of its share of the IVF rows, at least its shared probes', () => {
    // Prepare: segments of the largest tier (128 probes alone, 64 beside others) and a flat one
    const ivf = (rows: number) => ({ segment: { rows, probes: { probes: 128, sharedProbes: 64 } } });
    const flat = { segment: { rows: 20_000, probes: undefined } };
    // Act
    const alone = probesOf([ivf(2_000_000), flat]);
    const halves = probesOf([ivf(1_000_000), ivf(1_000_000)]);
    const unequal = probesOf([ivf(2_000_000), ivf(1_000_000)]);
    const six = probesOf([...Array.from({ length: 5 }, () => ivf(2_000_000)), ivf(10_000)]);
    // Assess: a flat segment visits no lists and is no part of the share
    assert.deepEqual(alone, [128, undefined]);
    assert.deepEqual(halves, [91, 91]);
    assert.deepEqual(unequal, [105, 74]);
    assert.deepEqual(six, [64, 64, 64, 64, 64, 64]);
  });

  /**
   * Two IVF segments of 64 lists and 30 queries: each query's ten best ids under a tuning, and the
   * recall of such answers against exact search. `remove` deletes the folder.
   */
  async function twoIvfSegments(seed: number) {
    const dir = tempDir();
    const store = new GenerationStore(dir.path);
    const runs = [0, 1].map((run) => items(FLAT_MAX_ROWS + 1_000, 4, seed + run, `r${run}-`));
    const index = SegmentedIndex.open(store, store.publish(await writeRuns(store, runs), MODEL, 'test'));
    const queries = randomUnitVectors(30, d, seed + 3);
    const query = (q: number) => queries.subarray(q * d, (q + 1) * d);
    const truth = Array.from({ length: 30 }, (_, q) => new Set(exact(runs.flat(), query(q), 10)));
    return {
      index,
      search: (tuning: SearchTuning = {}) =>
        Array.from({ length: 30 }, (_, q) =>
          index.search(query(q), 10, index.select(), tuning).map((hit) => hit.entry.id),
        ),
      recall: (found: string[][]) =>
        found.reduce((sum, ids, q) => sum + ids.filter((id) => truth[q]!.has(id)).length, 0) / 300,
      remove: () => dir.remove(),
    };
  }

  it("searches with the lists a query is given, at most a segment's own, and the next search visits its own again", async () => {
    // Prepare: two IVF segments of 64 lists
    const { search, recall, remove } = await twoIvfSegments(50);
    try {
      // Act
      const own = search();
      const oneList = search({ probes: 1 });
      const again = search();
      const everyList = search({ probes: 10_000 });
      // Assess: one list a segment finds less; its own settings come back; more lists than it has visit them all
      assert.ok(recall(oneList) < recall(own) - 0.1, `recall with one list ${recall(oneList)}, own ${recall(own)}`);
      assert.deepEqual(again, own);
      assert.ok(
        recall(everyList) >= recall(own),
        `recall visiting every list ${recall(everyList)}, own ${recall(own)}`,
      );
    } finally {
      remove();
    }
  });

  it('re-ranks as many candidates as a query is given, and its own depth by default', async () => {
    // Prepare: two IVF segments, whose codes alone rank their rows roughly
    const { index, search, recall, remove } = await twoIvfSegments(60);
    try {
      // Act
      const own = search();
      const ten = search({ rerank: 10 });
      const ownAgain = search({ rerank: rerankDepth(index.select().parts) });
      // Assess: the ten best by their codes alone miss more of the exact answer
      assert.ok(recall(ten) < recall(own) - 0.05, `recall re-ranking ten ${recall(ten)}, own ${recall(own)}`);
      assert.deepEqual(ownAgain, own);
    } finally {
      remove();
    }
  });

  it('faiss.searchEach answers each index as its own search does, and names a bad k', () => {
    // Prepare: a flat index and two IVF indexes of different sizes
    const vectors = randomUnitVectors(3_000, d, 44);
    const flat = flatIndexOf(vectors.subarray(0, 500 * d), d);
    const ivfs = [2_000, 3_000].map((rows) => {
      const ivf = faiss.Index.fromFactory(d, 'IVF16,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
      ivf.train(vectors.subarray(0, rows * d));
      ivf.add(vectors.subarray(0, rows * d));
      return ivf;
    });
    const query = randomUnitVectors(1, d, 45);
    // Act
    const answers = faiss.searchEach([flat, ...ivfs], query, [5, 7, 9]);
    // Assess
    [flat, ...ivfs].forEach((index, i) => {
      const own = index.search(Array.from(query), [5, 7, 9][i]!);
      assert.deepEqual(Array.from(answers[i]!.labels), own.labels);
      assert.deepEqual(
        Array.from(answers[i]!.distances, (x) => x.toFixed(5)),
        own.distances.map((x) => x.toFixed(5)),
      );
    });
    assert.throws(() => faiss.searchEach([flat], query, [501]), /k 501 of index 0 is not within 1\.\.500/);
    assert.throws(() => faiss.searchEach([flat], query.subarray(1), [1]), /15 dimensions, index 0 16/);
  });

  it('faiss.readEach reads each file as faiss.Index.read does, with the CRC-32 and size of the whole file', () => {
    // Prepare: two IVF index files, one with bytes after the index (faiss leaves them unread), and
    // a fast-scan one in the contiguous form
    const dir = tempDir();
    try {
      const vectors = randomUnitVectors(2_000, d, 46);
      const files = [1_000, 2_000].map((rows, i) => {
        const ivf = faiss.Index.fromFactory(d, 'IVF8,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
        ivf.train(vectors.subarray(0, rows * d));
        ivf.add(vectors.subarray(0, rows * d));
        const file = path.join(dir.path, `index-${i}.faiss`);
        ivf.write(file);
        return file;
      });
      writeFileSync(files[1]!, Buffer.concat([readFileSync(files[1]!), Buffer.from('trailing bytes')]));
      const fastScan = faiss.Index.fromFactory(d, 'IVF8,PQ8x4fs', faiss.MetricType.METRIC_INNER_PRODUCT);
      fastScan.train(vectors);
      fastScan.add(vectors);
      files.push(path.join(dir.path, 'contiguous.faiss'));
      writeFileSync(files[2]!, faiss.writeMappable(fastScan));
      const query = Array.from(randomUnitVectors(1, d, 47));
      // Act
      const answers = faiss.readEach(files);
      // Assess
      answers.forEach(({ index, crc32: crc, bytes }, i) => {
        const whole = readFileSync(files[i]!);
        assert.equal(crc, crc32(whole));
        assert.equal(bytes, whole.byteLength);
        assert.deepEqual(index!.search(query, 5), faiss.Index.read(files[i]!).search(query, 5));
      });
      assert.deepEqual(
        answers.map(({ contiguous }) => contiguous),
        [false, false, true],
      );
      assert.throws(() => faiss.readEach([path.join(dir.path, 'absent.faiss')]), /absent\.faiss/);
    } finally {
      dir.remove();
    }
  });

  it("faiss.readEach leaves a contiguous file's lists in the mapped pages, and parses no file whose CRC-32 is not the expected one", () => {
    // Prepare: a fast-scan IVF index (4-bit PQ codes, as IVF segments have) in the contiguous form
    const dir = tempDir();
    try {
      const vectors = randomUnitVectors(3_000, d, 48);
      const written = faiss.Index.fromFactory(d, 'IVF16,PQ8x4fs', faiss.MetricType.METRIC_INNER_PRODUCT);
      written.train(vectors);
      written.add(vectors);
      written.setNprobe(4);
      const file = path.join(dir.path, 'index.faiss');
      const bytes = faiss.writeMappable(written);
      writeFileSync(file, bytes);
      const truncated = path.join(dir.path, 'truncated.faiss');
      writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
      const queries = Array.from({ length: 20 }, (_, i) => Array.from(randomUnitVectors(1, d, 60 + i)));
      // Act
      const [read] = faiss.readEach([file], [crc32(bytes)]);
      const [refused] = faiss.readEach([file], [crc32(bytes) ^ 1]);
      // Assess: the same answers as the index written; read-only; the same bytes written again
      assert.equal(read!.contiguous, true);
      read!.index!.setNprobe(4);
      for (const query of queries) assert.deepEqual(read!.index!.search(query, 10), written.search(query, 10));
      assert.throws(() => read!.index!.add(vectors.subarray(0, d)), /only block inverted lists/);
      assert.deepEqual(faiss.writeMappable(read!.index!), bytes);
      assert.equal(refused!.index, undefined);
      assert.equal(refused!.crc32, crc32(bytes));
      assert.throws(() => faiss.readEach([truncated]), /truncated\.faiss: .*ilbm: the file ends within the lists/);
    } finally {
      dir.remove();
    }
  });

  it("stores a flat segment's vectors once: its vectors file is its index, searched as faiss would", async () => {
    // Prepare
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const all = items(300, 2, 21);
      // Act
      const meta = store.publish(await writeSegments(store, all, d), MODEL, 'test');
      const index = SegmentedIndex.open(store, meta);
      // Assess
      const files = readdirSync(path.join(store.dir, 'segments', meta.segments[0]!.id)).sort();
      assert.ok(!files.includes('index.faiss'), files.join(', '));
      const vectors = new Float32Array(all.flatMap((item) => [...item.vectors]));
      const byAdd = new faiss.IndexFlatIP(d);
      byAdd.add(Array.from(vectors));
      const query = randomUnitVectors(1, d, 22);
      assert.deepEqual(flatIndexOf(vectors, d).search(Array.from(query), 10), byAdd.search(Array.from(query), 10));
      assert.deepEqual(
        index.search(query, 10).map((hit) => hit.entry.id),
        exact(all, query, 10),
      );
    } finally {
      dir.remove();
    }
  });

  it("writes what a run changed, not the index: a 10-item change into 3,000 items writes under 5% of the index's bytes", async () => {
    // Prepare
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const base = items(3_000, 4, 7);
      const first = store.publish(await writeSegments(store, base, d), MODEL, 'test');
      const before = new Set(filesUnder(dir.path));
      const indexBytes = bytesOf([...before]);
      // Act: the merge's writes for 10 replaced items
      const change = items(10, 4, 8);
      const held = new HeldItems(store, first.segments);
      const keys = change.map((item) => item.entry);
      store.publish(await applyChange(store, held, keys, change, d), MODEL, 'test');
      // Assess
      const written = filesUnder(dir.path).filter((file) => !before.has(file) || file.endsWith('CURRENT.json'));
      assert.ok(bytesOf(written) < 0.05 * indexBytes, `${bytesOf(written)} of ${indexBytes} bytes`);
    } finally {
      dir.remove();
    }
  });
});

describe('key filters', () => {
  it('say "may hold" of every key a segment holds and "does not" of others but about once in 100,000', () => {
    // Prepare
    const held = Array.from({ length: 20_000 }, (_, i) => ({ group: `g${i % 9}`, id: `item-${i}` }));
    const absent = Array.from({ length: 200_000 }, (_, i) => ({ group: `g${i % 9}`, id: `other-${i}` }));
    // Act
    const filter = KeyFilter.decode(KeyFilter.of(held).encode());
    // Assess
    assert.ok(held.every((key) => filter.mayHold(key.group, key.id)));
    assert.ok(!filter.mayHold('g1', 'item-0'), 'the id of another group');
    const falsePositives = absent.filter((key) => filter.mayHold(key.group, key.id)).length;
    assert.ok(falsePositives <= 10, `${falsePositives} false positives in 200,000`);
    assert.throws(() => KeyFilter.decode(new Uint8Array(64)), KeyFilterFormatError);
  });

  it("are read once a process: a warm function's next run looks keys up without reading the filter again", async () => {
    // Prepare: a segment whose filter a first run read
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const meta = store.publish(await writeSegments(store, items(300, 3, 25), d), MODEL, 'test');
      assert.ok(new HeldItems(store, meta.segments).locate('g0', 'i0'));
      const filterFile = path.join(store.segmentDir(meta.segments[0]!.id), 'keys.filter');
      rmSync(filterFile);
      // Act: the next run's lookups, the filter file gone
      const next = new HeldItems(store, meta.segments);
      // Assess: answered from the filter kept; a segment never read is still read (and found missing)
      assert.ok(next.locate('g0', 'i0'));
      assert.equal(next.locate('g0', 'absent'), undefined);
      const other = store.publish(await writeSegments(store, items(10, 1, 26, 'x'), d), MODEL, 'test');
      rmSync(path.join(store.segmentDir(other.segments.at(-1)!.id), 'keys.filter'));
      assert.throws(() => new HeldItems(store, other.segments), IndexDamagedError);
    } finally {
      dir.remove();
    }
  });

  it('lets a run add items without reading a key map, and read only the key maps of the segments holding what it replaces', async () => {
    // Prepare: three segments; the first's key map damaged (same size, other bytes)
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const runs = [items(300, 3, 21, 'a'), items(300, 3, 22, 'b'), items(300, 3, 23, 'c')];
      const segments = await writeRuns(store, runs);
      const meta = store.publish(segments, MODEL, 'test');
      const keysFile = path.join(store.segmentDir(meta.segments[0]!.id), 'keys.bin');
      const bytes = readFileSync(keysFile);
      bytes.fill(7, 64, 128);
      writeFileSync(keysFile, bytes);
      // Act: a run adding 50 items
      const added = items(50, 3, 24, 'new');
      const held = new HeldItems(store, meta.segments);
      const after = store.publish(
        await applyChange(
          store,
          held,
          added.map((item) => item.entry),
          added,
          d,
        ),
        MODEL,
        'test',
      );
      // Assess
      assert.equal(held.keyMapsRead, 0);
      assert.equal(after.segments.length, 4);
      // Act, Assess: replacing an item of the third segment reads its key map only
      const replacing = new HeldItems(store, after.segments);
      assert.equal(replacing.locate('g1', 'c1')?.segment, 2);
      assert.equal(replacing.keyMapsRead, 1);
      // ... and an item of the damaged segment fails naming its key map
      assert.throws(
        () => replacing.locate('g1', 'a1'),
        (error) => error instanceof IndexDamagedError && /keys\.bin/.test(error.file),
      );
    } finally {
      dir.remove();
    }
  });
});

describe('compaction', () => {
  const ref = (kind: SegmentRef['kind'], rows: number, dead = 0): SegmentRef => ({
    id: `${kind}-${rows}-${dead}`,
    kind,
    rows,
    items: rows,
    dead,
    deadItems: dead,
    tombstones: [],
  });

  it('folds by the policy: dead share, flat segments by count or size, IVF segments by size tier, within a step', () => {
    const big = ref('ivf', 1_000_000);
    assert.deepEqual(compactionFolds([big, ref('flat', 10), ref('flat', 20)]), []);
    assert.deepEqual(compactionFolds([big, ref('flat', 10, 3)]), [[ref('flat', 10, 3)]], 'over 20% dead');
    const five = [1, 2, 3, 4, 5].map((n) => ref('flat', n));
    assert.deepEqual(compactionFolds([big, ...five]), [five], 'more than 4 flat segments');
    const heavy = [ref('flat', 8_001), ref('flat', 12_000)];
    assert.deepEqual(compactionFolds([big, ...heavy]), [heavy], 'flat segments worth an IVF one');
    const tier = [30, 31, 32, 33, 34].map((n) => ref('ivf', n * 1_000));
    assert.deepEqual(compactionFolds([big, ...tier]), [tier], 'more than 4 IVF segments of one size');
    const spread = [30_000, 120_000, 500_000, 1_900_000, 8_000_000].map((rows) => ref('ivf', rows));
    assert.deepEqual(compactionFolds(spread), [], 'IVF segments of different sizes stay');
    const millions = [1, 2, 3, 4, 5].map((n) => ref('ivf', 900_000 + n));
    assert.deepEqual(compactionFolds(millions), [millions.slice(0, 2)], 'a fold within a step');
    const full = [1, 2, 3, 4, 5, 6].map((n) => ref('ivf', 2_000_000 + n));
    assert.deepEqual(compactionFolds(full), [], 'segments of a whole step are not folded together');
    assert.deepEqual(
      compactionFolds([big, ref('flat', 10)], { everything: true }),
      [[ref('flat', 10), big]],
      'everything',
    );
  });

  it('compacts in bounded steps over several runs: each step writes at most its budget, the index searchable and exact after each', async () => {
    // Prepare: eight flat segments of 100 items, a quarter of two of them removed; a step of 300 rows
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const parts = Array.from({ length: 8 }, (_, n) => items(100, 3, 40 + n, `p${n}-`));
      const written = store.publish(
        (await Promise.all(parts.map((part) => writeSegments(store, part, d)))).flat(),
        MODEL,
        'test',
      );
      const removed = [...parts[2]!.slice(0, 25), ...parts[5]!.slice(0, 25)];
      store.publish(
        await applyChange(
          store,
          new HeldItems(store, written.segments),
          removed.map((item) => item.entry),
          [],
          d,
        ),
        MODEL,
        'test',
      );
      const gone = new Set(removed.map((item) => item.entry.id));
      const alive = parts.flat().filter((item) => !gone.has(item.entry.id));
      const policy = { deadRatio: 0.2, maxPerTier: 2, tierGrowth: 4, stepRows: 300 };
      const queries = randomUnitVectors(20, d, 50);
      // Act: one step a run, until the policy asks for nothing
      const steps: number[] = [];
      while (compactionFolds(store.meta(store.current()!).segments, { policy }).length > 0 && steps.length < 20) {
        const step = await compactStep(store, { execution: `run-${steps.length}`, policy });
        steps.push(step.rowsWritten);
        // Assess after each step: every live item held once, search exact (recall 1)
        const index = SegmentedIndex.open(store, store.meta(store.current()!));
        assert.deepEqual(
          index
            .entries()
            .map((entry) => entry.id)
            .sort(),
          alive.map((item) => item.entry.id).sort(),
        );
        let found = 0;
        for (let q = 0; q < 20; q++) {
          const query = queries.subarray(q * d, (q + 1) * d);
          const truth = new Set(exact(alive, query, 10));
          found += index.search(query, 10).filter((hit) => truth.has(hit.entry.id)).length;
        }
        assert.equal(found / 200, 1, `recall@10 after step ${steps.length}`);
      }
      // Assess: several steps, each within its budget, ending with no dead rows and few segments
      const after = store.meta(store.current()!);
      assert.ok(steps.length >= 3, `${steps.length} steps: ${steps.join(', ')}`);
      assert.ok(
        steps.every((rows) => rows > 0 && rows <= 300),
        `rows written by each step: ${steps.join(', ')}`,
      );
      assert.equal(
        after.segments.reduce((sum, segment) => sum + segment.dead, 0),
        0,
      );
      assert.ok(after.segments.length < 8, `${after.segments.length} segments`);
    } finally {
      dir.remove();
    }
  });

  it('folds segments into one holding the same live items, dead rows dropped, sorted by group', async () => {
    // Prepare: three segments, the first with dead rows
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const parts = [items(500, 3, 9, 'a'), items(40, 5, 10, 'b'), items(60, 2, 11, 'c')];
      const held = new HeldItems(store, (await Promise.all(parts.map((part) => writeSegments(store, part, d)))).flat());
      const removed = parts[0]!.slice(0, 150).map((item) => item.entry);
      const meta = store.publish(await applyChange(store, held, removed, [], d), MODEL, 'test');
      const before = SegmentedIndex.open(store, meta);
      // Act
      const { segments: after, folded } = await foldSegments(store, meta.segments, meta.segments, d);
      const compacted = SegmentedIndex.open(store, store.publish(after, MODEL, 'test'));
      // Assess
      assert.equal(after.length, 1);
      assert.equal(folded.rows, 450);
      assert.equal(folded.dead, 0);
      const ids = (index: SegmentedIndex) =>
        index
          .entries()
          .map((entry) => `${entry.group}/${entry.id}`)
          .sort();
      assert.deepEqual(ids(compacted), ids(before));
      const groups = compacted.entries().map((entry) => entry.group);
      assert.deepEqual(groups, [...groups].sort(), 'rows sorted by group');
      const query = randomUnitVectors(1, d, 12);
      assert.deepEqual(compacted.search(query, 10), before.search(query, 10));
      assert.deepEqual(
        readdirSync(path.join(store.dir, 'segments')).sort(),
        [...meta.segments.map((segment) => segment.id), folded.id].sort(),
        'the inputs stay while a kept generation lists them',
      );
    } finally {
      dir.remove();
    }
  });
});

describe('items with several passages', () => {
  /** Items of 1 to 4 passages, each passage its own vector. */
  function longItems(count: number, seed: number): ItemVectors[] {
    const passages = (i: number) => 1 + (i % 4);
    const total = Array.from({ length: count }, (_, i) => passages(i)).reduce((a, b) => a + b, 0);
    const vectors = randomUnitVectors(total, d, seed);
    let row = 0;
    return Array.from({ length: count }, (_, i) => {
      const spans = Array.from({ length: passages(i) }, (_, p) => [p * 100, p * 100 + 120] as const);
      const item = {
        entry: { group: `g${i % 3}`, id: `doc${i}`, version: 1 },
        passages: spans,
        vectors: vectors.subarray(row * d, (row + spans.length) * d),
      };
      row += spans.length;
      return item;
    });
  }
  /** Each item's best passage against the query, best items first. */
  function exactByItem(all: readonly ItemVectors[], query: Float32Array, k: number, group?: string) {
    return all
      .filter((item) => group === undefined || item.entry.group === group)
      .map((item) => {
        const scores = item.passages.map((_, p) =>
          item.vectors.subarray(p * d, (p + 1) * d).reduce((sum, x, j) => sum + x * query[j]!, 0),
        );
        const best = scores.indexOf(Math.max(...scores));
        return { id: item.entry.id, passage: best, start: item.passages[best]![0], score: scores[best]! };
      })
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map(({ id, passage, start }) => ({ id, passage, start }));
  }

  it('gives each item once, scored by its best passage, and says which passage matched', async () => {
    // Prepare
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const all = longItems(400, 21);
      const meta = store.publish(await writeSegments(store, all, d), MODEL, 'test');
      const queries = randomUnitVectors(10, d, 22);
      // Act
      const index = SegmentedIndex.open(store, meta);
      // Assess
      assert.equal(index.size, 400, 'items, not passages');
      assert.equal(meta.vectors, 1_000);
      assert.equal(index.groups.get('g1'), all.filter((item) => item.entry.group === 'g1').length);
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        for (const group of [undefined, 'g1']) {
          const hits = index.search(query, 10, index.select(group === undefined ? {} : { groups: [group] }));
          assert.deepEqual(
            hits.map((hit) => ({ id: hit.entry.id, passage: hit.passage.index, start: hit.passage.start })),
            exactByItem(all, query, 10, group),
          );
          assert.ok(hits.every((hit) => hit.passage.count === 1 + (Number(hit.entry.id.slice(3)) % 4)));
        }
      }
    } finally {
      dir.remove();
    }
  });

  it('replacing or removing an item kills every passage of it; compaction keeps the passages of the rest', async () => {
    // Prepare: doc3 (4 passages) becomes one passage; doc7 (4 passages) is removed
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const all = longItems(40, 23);
      const held = new HeldItems(store, await writeSegments(store, all, d));
      const doc3 = onePassage({ group: 'g0', id: 'doc3', version: 2 }, randomUnitVectors(1, d, 24), 50);
      // Act
      const meta = store.publish(await applyChange(store, held, [doc3.entry, all[7]!.entry], [doc3], d), MODEL, 'test');
      const { segments } = await foldSegments(store, meta.segments, meta.segments, d);
      const compacted = store.publish(segments, MODEL, 'test');
      // Assess
      assert.equal(meta.segments[0]!.dead, 8, 'four rows each');
      assert.equal(meta.segments[0]!.deadItems, 2);
      assert.equal(meta.items, 39);
      for (const published of [meta, compacted]) {
        const items = SegmentedIndex.open(store, published).items();
        const byId = new Map(items.map((item) => [item.entry.id, item]));
        assert.equal(items.length, 39);
        assert.equal(byId.has('doc7'), false);
        assert.deepEqual(byId.get('doc3')!.passages, [[0, 50]]);
        assert.deepEqual(byId.get('doc11')!.passages, all[11]!.passages);
      }
      assert.equal(compacted.vectors, 100 - 8 + 1);
    } finally {
      dir.remove();
    }
  });
});

describe('an index written before passages (key file format 1)', () => {
  /**
   * The fixture's live items: `test/fixtures/index-format-1` was written by the code of bea0656
   * (30 items, item4 replaced, item5 removed).
   */
  function fixtureItems(): ItemVectors[] {
    const vectors = randomUnitVectors(30, d, 7);
    const all = items(30, 3, 7, 'item').map((item, i) => onePassage(item.entry, vectors.subarray(i * d, (i + 1) * d)));
    all[4] = onePassage({ ...all[4]!.entry, version: 2 }, randomUnitVectors(1, d, 8));
    return all.filter((_, i) => i !== 5);
  }

  it('is searched, updated and compacted without a backfill', async () => {
    // Prepare
    const dir = tempDir();
    try {
      cpSync(path.join(import.meta.dirname, '../fixtures/index-format-1'), dir.path, { recursive: true });
      const store = new GenerationStore(dir.path);
      const live = fixtureItems();
      const queries = randomUnitVectors(5, d, 9);
      // Act
      const before = store.meta(store.current()!);
      const index = SegmentedIndex.open(store, before);
      const long = {
        entry: { group: 'g1', id: 'long', version: 3 },
        passages: [
          [0, 10],
          [8, 20],
        ] as const,
        vectors: randomUnitVectors(2, d, 10),
      };
      const held = new HeldItems(store, before.segments);
      const updated = store.publish(
        await applyChange(store, held, [live.find((item) => item.entry.id === 'item6')!.entry, long.entry], [long], d),
        MODEL,
        'test',
      );
      const { segments } = await foldSegments(store, updated.segments, updated.segments, d);
      const compacted = SegmentedIndex.open(store, store.publish(segments, MODEL, 'test'));
      // Assess
      assert.equal(before.items, 29);
      assert.equal(index.size, 29);
      for (let q = 0; q < 5; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        assert.deepEqual(
          index.search(query, 5).map((hit) => hit.entry.id),
          exact(live, query, 5),
        );
        assert.deepEqual(
          index.search(query, 3, index.select({ groups: ['g2'] })).map((hit) => hit.entry.id),
          exact(live, query, 3, 'g2'),
        );
      }
      assert.equal(updated.items, 29, 'item6 removed, long added');
      assert.equal(updated.vectors, 30);
      assert.equal(compacted.size, 29);
      const byId = new Map(compacted.items().map((item) => [item.entry.id, item]));
      assert.equal(byId.has('item6'), false);
      assert.equal(byId.has('item5'), false);
      assert.deepEqual(byId.get('long')!.passages, [
        [0, 10],
        [8, 20],
      ]);
      assert.equal(byId.get('item4')!.entry.version, 2);
    } finally {
      dir.remove();
    }
  });
});
