// `npm run bench:ann`: the measurements behind the choice of a compressed approximate index
// for large segments (the 10-million-item work). At 1,000,000 vectors of the default model
// (texts made of two STS train sentences, drawn with a fixed seed), it builds the exact flat
// index (the truth) and candidate indexes from faiss factory strings, trained on a 100,000-vector
// sample, then reports for each: bytes per vector, build time, and at several nprobe values the
// recall@10 against exact search and the p50 search time over 200 STS dev sentences (not in the
// index), plus the same with the top 100 candidates re-ranked exactly. Writes bench/ann-choice.json.
//
// faiss-node sets no nprobe; an IVF index serializes it, so each setting is written into the
// serialized index and read back (see `withNprobe` in index-store/segment.ts).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import faiss from 'faiss-node';
import { loadEmbedder } from '../embedding/runtime.ts';
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { readSts, stsDir } from '../models/sts.ts';
import { withNprobe } from '../index-store/segment.ts';
import { seededRandom } from './random.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VECTORS = Number(process.argv.find((arg) => arg.startsWith('--vectors='))?.slice(10) ?? 1_000_000);
const SAMPLE = 100_000;
const QUERIES = 200;
const K = 10;
const RERANK = 100;
const NLIST = 1024;
// IVF with SQ codes, and with PQ fast-scan codes (4 bits per sub-quantizer, scanned with AVX2).
// 8-bit PQ (e.g. IVF1024,PQ89: 134 B/vector) is left out: training it took 350 s at 50,000 vectors.
const CANDIDATES = [`IVF${NLIST},SQ8`, `IVF${NLIST},SQ4`, `IVF${NLIST},PQ178x4fs`, `IVF${NLIST},PQ89x4fs`];
const NPROBES = [16, 64, 128, 256];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const started = performance.now();
const log = (message: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
const embedder = await loadEmbedder(await ensureDefaultBundle());
const dimensions = embedder.dimensions;
const train = readSts(path.join(stsDir(), 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
const queries = readSts(path.join(stsDir(), 'sts-dev.csv'))
  .map((pair) => pair.first)
  .slice(0, QUERIES);

async function embedAll(texts: readonly string[]): Promise<Float32Array> {
  const out = new Float32Array(texts.length * dimensions);
  for (let start = 0; start < texts.length; start += 10_000) {
    const results = await embedder.embed(texts.slice(start, start + 10_000));
    results.forEach((result, i) => result.ok && out.set(result.vector, (start + i) * dimensions));
  }
  return out;
}

const draw = seededRandom(2026);
const pick = () => train[Math.floor(draw() * train.length)]!;
const vectors = await embedAll(Array.from({ length: VECTORS }, () => `${pick()} ${pick()}`));
const queryVectors = await embedAll(queries);
log(`embedded ${VECTORS.toLocaleString('en')} texts and ${QUERIES} queries`);
const row = (i: number) => Array.from(queryVectors.subarray(i * dimensions, (i + 1) * dimensions));

function addAll(index: faiss.Index): void {
  for (let start = 0; start < VECTORS; start += 50_000)
    index.add(Array.from(vectors.subarray(start * dimensions, Math.min(VECTORS, start + 50_000) * dimensions)));
}

const flat = new faiss.IndexFlatIP(dimensions);
addAll(flat);
const truth = Array.from({ length: QUERIES }, (_, i) => new Set(flat.search(row(i), K).labels));
log('exact truth ready');

/** The exact inner product of a query with a stored vector. */
const exactScore = (query: number[], label: number) => {
  let sum = 0;
  for (let j = 0; j < dimensions; j++) sum += query[j]! * vectors[label * dimensions + j]!;
  return sum;
};

function measure(index: faiss.Index, rerank: boolean) {
  const times: number[] = [];
  let found = 0;
  for (let i = 0; i < QUERIES; i++) {
    const query = row(i);
    const t0 = performance.now();
    let labels = index.search(query, rerank ? RERANK : K).labels.filter((label) => label >= 0);
    if (rerank)
      labels = labels
        .map((label) => ({ label, score: exactScore(query, label) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, K)
        .map((hit) => hit.label);
    times.push(performance.now() - t0);
    found += labels.filter((label) => truth[i]!.has(label)).length;
  }
  return { recall_at_10: Number((found / (QUERIES * K)).toFixed(4)), p50_ms: Number(median(times).toFixed(2)) };
}

const flatResult = measure(flat, false);
const results: Record<string, unknown>[] = [
  { factory: 'Flat', bytes_per_vector: Math.round(flat.toBuffer().length / VECTORS), ...flatResult },
];
const sample = Array.from(vectors.subarray(0, SAMPLE * dimensions));
for (const factory of CANDIDATES) {
  const t0 = performance.now();
  const index = faiss.Index.fromFactory(dimensions, factory, faiss.MetricType.METRIC_INNER_PRODUCT);
  index.train(sample);
  const trainS = (performance.now() - t0) / 1000;
  addAll(index);
  const buildS = (performance.now() - t0) / 1000;
  const bytesPerVector = Math.round(index.toBuffer().length / VECTORS);
  const settings = NPROBES.map((nprobe) => {
    const tuned = withNprobe(index, NLIST, nprobe);
    return { nprobe, ...measure(tuned, false), reranked: measure(tuned, true) };
  });
  results.push({
    factory,
    train_s: Number(trainS.toFixed(1)),
    build_s: Number(buildS.toFixed(1)),
    bytes_per_vector: bytesPerVector,
    settings,
  });
  log(`${factory}: ${bytesPerVector} B/vector, built in ${buildS.toFixed(0)} s; ${JSON.stringify(settings)}`);
}
const report = { date: new Date().toISOString(), vectors: VECTORS, dimensions, queries: QUERIES, results };
writeFileSync(path.join(HERE, 'ann-choice.json'), `${JSON.stringify(report, null, 2)}\n`);
log('written to bench/ann-choice.json');
