// `npm run bench:ann`: the measurements behind the index parameters by segment size
// (`indexPlanFor` in index-store/segment.ts). At each size (default 100,000, 300,000 and
// 1,000,000 vectors of the default model: texts of two STS train sentences, drawn with a fixed
// seed), it builds the exact flat index (the truth) and IVF indexes with 4-bit PQ fast-scan
// codes at several list counts, each trained on a sample as the index store trains, then reports
// for every list count, probe count and re-rank depth the recall@10 against exact search and
// the p50 time (faiss search plus exact re-rank of the candidates, vectors in memory) over 200
// STS dev sentences, not in the index; and for each size the cheapest setting reaching recall@10
// 0.95. Writes bench/ann-choice.json.
//
//   npm run bench:ann                                   # 100k, 300k, 1M (~25 min here)
//   npm run bench:ann -- --sizes=100000 --lists=128,256 # one size, chosen list counts (kept beside the others)
//
// nprobe is set on the built index (`setNprobe`, added by scripts/faiss-node-binding.js).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import faiss from 'faiss-node';
import { loadEmbedder } from '../embedding/runtime.ts';
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { readSts, stsDir } from '../models/sts.ts';
import { ivfFactory, trainingRowsFor } from '../index-store/segment.ts';
import { embedTexts } from './embed-texts.ts';
import { seededRandom } from './random.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const flag = (name: string): number[] | undefined =>
  process.argv
    .find((arg) => arg.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(',')
    .map(Number);
const SIZES = flag('sizes') ?? [100_000, 300_000, 1_000_000];
const QUERIES = 200;
const K = 10;
const TARGET_RECALL = 0.95;
const RERANKS = [50, 100, 200];
const NPROBES = [4, 8, 16, 32, 64, 128, 256];
/** List counts tried at a size: around 1, 2 and 4 times the square root of the rows, powers of two. */
const listsFor = (rows: number): number[] =>
  flag('lists') ?? [1, 2, 4].map((times) => 2 ** Math.round(Math.log2(times * Math.sqrt(rows))));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

const started = performance.now();
const log = (message: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
const embedder = await loadEmbedder(await ensureDefaultBundle());
const dimensions = embedder.dimensions;
const train = readSts(path.join(stsDir(), 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
const queries = readSts(path.join(stsDir(), 'sts-dev.csv'))
  .map((pair) => pair.first)
  .slice(0, QUERIES);

const embedAll = (texts: readonly string[]) => embedTexts(embedder, texts);

const largest = Math.max(...SIZES);
const draw = seededRandom(2026);
const pick = () => train[Math.floor(draw() * train.length)]!;
const allVectors = await embedAll(Array.from({ length: largest }, () => `${pick()} ${pick()}`));
const queryVectors = await embedAll(queries);
log(`embedded ${largest.toLocaleString('en')} texts and ${QUERIES} queries`);
const queryRow = (i: number) => Array.from(queryVectors.subarray(i * dimensions, (i + 1) * dimensions));

function addAll(index: faiss.Index, vectors: Float32Array, rows: number): void {
  for (let start = 0; start < rows; start += 50_000)
    index.add(Array.from(vectors.subarray(start * dimensions, Math.min(rows, start + 50_000) * dimensions)));
}

interface Setting {
  readonly nlist: number;
  readonly nprobe: number;
  readonly rerank: number;
  readonly recall_at_10: number;
  readonly p50_ms: number;
}

const sizes: ({ rows: number } & Record<string, unknown>)[] = [];
for (const rows of SIZES) {
  const vectors = allVectors.subarray(0, rows * dimensions);
  const flat = new faiss.IndexFlatIP(dimensions);
  addAll(flat, vectors, rows);
  const flatTimes: number[] = [];
  const truth = Array.from({ length: QUERIES }, (_, i) => {
    const t0 = performance.now();
    const labels = flat.search(queryRow(i), K).labels;
    flatTimes.push(performance.now() - t0);
    return new Set(labels);
  });
  log(`${rows.toLocaleString('en')}: exact truth ready, flat p50 ${median(flatTimes).toFixed(2)} ms`);

  /** The exact inner product of a query with a stored vector. */
  const exactScore = (query: number[], label: number) => {
    let sum = 0;
    for (let j = 0; j < dimensions; j++) sum += query[j]! * vectors[label * dimensions + j]!;
    return sum;
  };
  const measure = (index: faiss.Index, rerank: number) => {
    const times: number[] = [];
    let found = 0;
    for (let i = 0; i < QUERIES; i++) {
      const query = queryRow(i);
      const t0 = performance.now();
      const labels = index
        .search(query, rerank)
        .labels.filter((label) => label >= 0)
        .map((label) => ({ label, score: exactScore(query, label) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, K)
        .map((hit) => hit.label);
      times.push(performance.now() - t0);
      found += labels.filter((label) => truth[i]!.has(label)).length;
    }
    return { recall_at_10: round(found / (QUERIES * K), 4), p50_ms: round(median(times)) };
  };

  const builds: Record<string, unknown>[] = [];
  const settings: Setting[] = [];
  for (const nlist of listsFor(rows)) {
    const t0 = performance.now();
    const factory = ivfFactory(dimensions, nlist);
    const index = faiss.Index.fromFactory(dimensions, factory, faiss.MetricType.METRIC_INNER_PRODUCT);
    // Trained as the index store trains: on an evenly spaced sample of the rows.
    const sampleRows = Math.min(rows, trainingRowsFor(nlist));
    const sample = new Float32Array(sampleRows * dimensions);
    for (let i = 0; i < sampleRows; i++) {
      const row = Math.floor((i * rows) / sampleRows);
      sample.set(vectors.subarray(row * dimensions, (row + 1) * dimensions), i * dimensions);
    }
    index.train(Array.from(sample));
    const trainS = (performance.now() - t0) / 1000;
    addAll(index, vectors, rows);
    const buildS = (performance.now() - t0) / 1000;
    builds.push({
      nlist,
      training_rows: sampleRows,
      train_s: round(trainS, 1),
      build_s: round(buildS, 1),
      bytes_per_vector: Math.round(index.toBuffer().length / rows),
    });
    for (const nprobe of NPROBES.filter((probes) => probes <= nlist / 2)) {
      index.setNprobe(nprobe);
      for (const rerank of RERANKS) settings.push({ nlist, nprobe, rerank, ...measure(index, rerank) });
    }
    const reached = settings.filter((s) => s.nlist === nlist && s.recall_at_10 >= TARGET_RECALL);
    log(
      `${rows.toLocaleString('en')}, ${nlist} lists: trained in ${trainS.toFixed(1)} s, ` +
        `built in ${buildS.toFixed(0)} s; fastest at recall ${TARGET_RECALL}: ` +
        JSON.stringify(reached.sort((a, b) => a.p50_ms - b.p50_ms)[0] ?? 'none'),
    );
  }
  const chosen = settings.filter((s) => s.recall_at_10 >= TARGET_RECALL).sort((a, b) => a.p50_ms - b.p50_ms)[0];
  sizes.push({ rows, flat_p50_ms: round(median(flatTimes)), chosen, builds, settings });
}
// Sizes measured before and not now are kept: a run of one size adds to the others.
const file = path.join(HERE, 'ann-choice.json');
const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { sizes?: { rows: number }[] }) : {};
const kept = (before.sizes ?? []).filter((size) => size.rows !== undefined && !SIZES.includes(size.rows));
const report = {
  date: new Date().toISOString(),
  dimensions,
  queries: QUERIES,
  target_recall_at_10: TARGET_RECALL,
  sizes: [...kept, ...sizes].sort((a, b) => a.rows - b.rows),
};
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
log('written to bench/ann-choice.json');
