// One function's cold start, in a process of its own (run by bench/cold-start.ts):
//   search <efsRoot> <modelDir>: load the model and the published index as the search function
//     does on its first query, then answer one query;
//   merge <efsRoot> <modelDir>: what the merge stage does with 1,000 new items: look them up in
//     the segments' key maps, write their segment, publish the next generation;
//   compact <efsRoot> <modelDir>: fold every segment into one, as a full compaction does;
//   embed <efsRoot> <modelDir>: load the model and embed one default batch (500 texts of the
//     model's longest input), as an embed iteration does;
//   backfill <efsRoot> <modelDir> <items>: what merge holds for a backfill of that many items
//     into an empty index: every vector, the new segments, the clear list of every entry, the
//     published generation and clear.json written;
//   clear <efsRoot>: read the run's clear list (clear.json, one entry per item merged), as the
//     clear stage does before it clears the flags.
// Prints one JSON line; peak RSS is the process's own maximum (getrusage).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ShardEntry } from '../indexer/run-files.ts';
import { randomUnitVectors } from './random.ts';
import { loadEmbedder } from '../embedding/runtime.ts';
import { readManifest } from '../embedding/bundle.ts';
import { GenerationStore } from '../index-store/generations.ts';
import { compactionFolds, foldSegments } from '../index-store/compaction.ts';
import { applyChange, HeldItems, onePassage } from '../index-store/index-writer.ts';
import { publishFixture } from './index-fixture.ts';
import { IndexReader } from '../search/index-reader.ts';

export interface ProbeResult {
  readonly stage: Stage;
  /** search: the model's load, the index's load and the first query after them. */
  readonly modelLoadS: number;
  readonly indexLoadS: number;
  readonly firstQueryMs: number;
  /** merge: load, add 1,000 and publish; embed: load the model and embed the batch. */
  readonly seconds: number;
  readonly peakRssMb: number;
}

const seconds = (since: number) => (performance.now() - since) / 1000;
// The peak RSS is sampled, not read from getrusage: Linux keeps ru_maxrss across execve, so a
// child of a bench process holding a 1M-item index would report that process's size.
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
/** Prints the result line, with the process's peak RSS so far. */
const report = (measured: Partial<Omit<ProbeResult, 'stage' | 'peakRssMb'>>) => {
  clearInterval(sampler);
  const peakRssMb = Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20);
  const result: ProbeResult = {
    stage,
    modelLoadS: 0,
    indexLoadS: 0,
    firstQueryMs: 0,
    seconds: 0,
    ...measured,
    peakRssMb,
  };
  console.log(JSON.stringify(result));
};
export type Stage = 'search' | 'merge' | 'compact' | 'embed' | 'clear' | 'backfill';
const [stage, efsRoot, modelDir, items] = process.argv.slice(2) as [Stage, string, string, string?];
const EMBED_BATCH = 500;

if (stage === 'search') {
  let t = performance.now();
  const embedder = await loadEmbedder(modelDir);
  const modelLoadS = seconds(t);
  t = performance.now();
  const loaded = new IndexReader(efsRoot).current();
  const indexLoadS = seconds(t);
  if (!loaded) throw new Error(`no published generation under ${efsRoot}`);
  t = performance.now();
  const [query] = await embedder.embed(['a man is playing a guitar']);
  if (!query?.ok) throw new Error('the query did not embed');
  loaded.search(query.vector, 10);
  const firstQueryMs = performance.now() - t;
  report({ modelLoadS, indexLoadS, firstQueryMs });
} else if (stage === 'backfill') {
  const t = performance.now();
  const dimensions = readManifest(modelDir).dimensions;
  const entries = Array.from({ length: Number(items) }, (_, i) => ({
    group: `g${i % 16}`,
    id: `item-${String(i).padStart(8, '0')}`,
    version: 1_764_028_800_000_000 + i,
  }));
  const clearList: ShardEntry[] = entries.map((entry, row) => ({
    ...entry,
    kind: 'vector' as const,
    row,
    passages: [[0, 0]] as const,
  }));
  const backfillRoot = path.join(efsRoot, 'backfill');
  await publishFixture(
    backfillRoot,
    { name: 'bench', checksum: 'bench', dimensions },
    entries,
    randomUnitVectors(entries.length, dimensions, 1),
  );
  writeFileSync(path.join(backfillRoot, 'clear.json'), JSON.stringify(clearList));
  report({ seconds: seconds(t) });
} else if (stage === 'compact') {
  // A full compaction, as the Compact index step does it: every segment folded into one.
  const t = performance.now();
  const store = new GenerationStore(efsRoot);
  const meta = store.meta(store.current()!);
  const [inputs = []] = compactionFolds(meta.segments, { everything: true });
  const { segments } = await foldSegments(store, meta.segments, inputs, meta.model.dimensions);
  store.publish(segments, meta.model, 'bench');
  report({ seconds: seconds(t) });
} else if (stage === 'clear') {
  const t = performance.now();
  const entries = JSON.parse(readFileSync(path.join(efsRoot, 'clear.json'), 'utf8')) as ShardEntry[];
  if (entries.length === 0) throw new Error('an empty clear list');
  report({ seconds: seconds(t) });
} else if (stage === 'embed') {
  const t = performance.now();
  const embedder = await loadEmbedder(modelDir);
  // About 300 words: past the model's 256 tokens, so every text is cut at its longest input.
  const text = 'The quick brown fox jumps over the lazy dog near the river bank. '.repeat(25);
  const results = await embedder.embed(Array.from({ length: EMBED_BATCH }, (_, i) => `${i} ${text}`));
  if (!results.every((result) => result.ok)) throw new Error('a text did not embed');
  report({ seconds: seconds(t) });
} else {
  const t = performance.now();
  const store = new GenerationStore(efsRoot);
  const pointer = store.current();
  if (!pointer) throw new Error(`no published generation under ${efsRoot}`);
  // What the merge stage does with 1,000 new items (applyChange), then its publication.
  const meta = store.meta(pointer);
  const dimensions = meta.model.dimensions;
  const vectors = randomUnitVectors(1_000, dimensions, 2);
  const entries = Array.from({ length: 1_000 }, (_, i) => ({ group: 'g0', id: `new-${i}`, version: 1 }));
  const items = entries.map((entry, i) => onePassage(entry, vectors.subarray(i * dimensions, (i + 1) * dimensions)));
  const held = new HeldItems(store, meta.segments);
  store.publish(await applyChange(store, held, entries, items, dimensions), meta.model, 'bench');
  report({ seconds: seconds(t) });
}
