// The search side of `npm run bench -- --scale`, in a fresh process so its load time and memory
// are a search instance's own: opens the published index (timed), then answers each query one at
// a time, timing its three parts as the search service runs them: the query embedded (the default
// model), the index searched (SegmentedIndex, as `search` calls it), and the ten hits read back
// from the table by key (`readItems`, the service's read-back). The table holds the first
// `tableItems` items only (at 10,000,000 items, the first 1,000,000): a hit beyond them is read as
// the item of the same group at its id modulo `tableItems`, which is there, so every read-back
// reads ten items from a table of at least a million. A whole query is the sum of its parts.
// The search is a service's that has answered before: the model has embedded a first query, and
// the table has been read back {@link READ_BACK_WARMUP} times (other items, untimed). The table
// is DynamoDB Local's, a JVM whose read path, like this process's AWS SDK, runs slower for its
// first few hundred reads (ten items: 4.7 ms p50 over the first 200 reads of a 200,000-item table,
// 3.3 over the next 200, a /tmp script); DynamoDB itself has no such warm-up. The index is not
// warmed: its first queries after the load are part of what is measured.
// Prints one JSON line. Arguments: <data dir> <DynamoDB endpoint> <queries file> <table items>
import { readFileSync } from 'node:fs';
import { createAwsClients } from '../aws/clients.ts';
import { loadEmbedder } from '../embedding/runtime.ts';
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { OpenSegment } from '../index-store/segment.ts';
import { SegmentKeys } from '../index-store/segment-keys.ts';
import { IndexReader } from '../search/index-reader.ts';
import { queryEmbedderOptions } from '../search/query.ts';
import { readItems } from '../search/results.ts';
import { freePortConfig } from '../test/helpers/scratch.ts';
import { FLAGS_MODE } from './bench-stack.ts';
import { itemKey } from './scale.ts';

export interface ScaleProbeResult {
  readonly indexLoadS: number;
  readonly vectors: number;
  readonly segments: number;
  readonly embedMs: number[];
  readonly indexMs: number[];
  /** The part of each index search that is faiss's (every segment's candidates), before the re-rank and key reads. */
  readonly candidatesMs: number[];
  /** The part of each index search that is the re-rank: its rows announced, read and scored. */
  readonly rerankMs: number[];
  /** The part of each index search that names the best hits from the key maps (their pages announced and read). */
  readonly keysMs: number[];
  readonly hydrateMs: number[];
  /** Each query's hits, as row numbers of the bench (ids `s<row>`). */
  readonly hitRows: number[][];
  /**
   * The same queries' index search again with every IVF segment visiting another number of
   * lists ({@link SWEEP}), or its own by its share of the rows searched (`'own'`, as the
   * timed queries), and re-ranking another number of candidates where a setting has `rerank`,
   * the settings taking turns query by query: what fewer or more of either would give, from the
   * same process and page cache.
   */
  readonly sweep: (SweepSetting & { readonly indexMs: number[]; readonly hitRows: number[][] })[];
  readonly peakRssMb: number;
}

/** Lists every IVF segment visits in a sweep's setting, or `'own'`: each segment's for its share. */
export type ProbeSetting = number | 'own';

/** One setting of the sweep: the probes, and the candidates re-ranked (the index's own depth when absent). */
export interface SweepSetting {
  readonly probes: ProbeSetting;
  readonly rerank?: number;
}

/** Settings tried after the timed queries (see {@link ScaleProbeResult.sweep}). */
const SWEEP: readonly SweepSetting[] = [
  ...([48, 64, 96, 128, 'own'] as const).map((probes) => ({ probes })),
  { probes: 'own', rerank: 100 },
  { probes: 'own', rerank: 125 },
];

/** Untimed read-backs before the timed queries (see above). */
const READ_BACK_WARMUP = 600;

const [dataDir, dynamodb, queriesFile, tableItemsArg] = process.argv.slice(2) as [string, string, string, string];
const tableItems = Number(tableItemsArg);
const config = freePortConfig(dataDir, FLAGS_MODE);
const clients = createAwsClients(config, { dynamodb, s3: undefined, stepFunctions: undefined, http: undefined });
const context = { config, clients };
const queries = JSON.parse(readFileSync(queriesFile, 'utf8')) as string[];
// Embedded as the search service embeds a query.
const embedder = await loadEmbedder(await ensureDefaultBundle(), queryEmbedderOptions(config));

let peak = process.memoryUsage().rss;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const reader = new IndexReader(config.efsRoot, config.indexLayout);
const t0 = performance.now();
const index = reader.current()!;
const indexLoadS = (performance.now() - t0) / 1000;
await embedder.embed(['a first query loads what the model loads lazily']);
for (let read = 0; read < READ_BACK_WARMUP; read++)
  await readItems(
    context,
    Array.from({ length: 10 }, (_, i) => itemKey((read * 7_919 + i * 104_729) % tableItems)),
  );
const row = (id: string) => Number(id.slice(1));
// The parts of each search timed apart (faiss's, the re-rank's, the key maps'): wrapped here, in the bench only.
const parts = { candidates: 0, rerank: 0, keys: 0 };
/** `owner[name]` timed into `parts[part]` on every call. */
const timed = <O extends object, N extends keyof O & string>(owner: O, name: N, part: keyof typeof parts): void => {
  const original = owner[name] as (...args: unknown[]) => unknown;
  Object.assign(owner, {
    [name](this: unknown, ...args: unknown[]) {
      const started = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        parts[part] += performance.now() - started;
      }
    },
  });
};
timed(OpenSegment, 'candidatesOf', 'candidates');
timed(OpenSegment.prototype, 'willRerank', 'rerank');
timed(OpenSegment.prototype, 'rerank', 'rerank');
timed(SegmentKeys, 'willReadEntries', 'keys');
timed(SegmentKeys.prototype, 'entry', 'keys');
timed(SegmentKeys.prototype, 'passage', 'keys');
const result: Omit<ScaleProbeResult, 'indexLoadS' | 'peakRssMb'> = {
  vectors: index.size,
  segments: index.meta.segments.length,
  embedMs: [],
  indexMs: [],
  candidatesMs: [],
  rerankMs: [],
  keysMs: [],
  hydrateMs: [],
  hitRows: [],
  sweep: SWEEP.map((setting) => ({ ...setting, indexMs: [], hitRows: [] })),
};
const queryVectors: Float32Array[] = [];
for (const text of queries) {
  const e0 = performance.now();
  const [query] = await embedder.embed([text]);
  if (!query?.ok) throw new Error(`cannot embed ${text}`);
  Object.assign(parts, { candidates: 0, rerank: 0, keys: 0 });
  queryVectors.push(query.vector);
  const i0 = performance.now();
  const hits = index.search(query.vector, 10);
  const h0 = performance.now();
  const keys = hits.map(({ entry }) => ({ group: entry.group, id: `s${row(entry.id) % tableItems}` }));
  const items = await readItems(context, keys);
  const h1 = performance.now();
  if (items.size !== keys.length) throw new Error(`read back ${items.size} of ${keys.length} items`);
  result.embedMs.push(i0 - e0);
  result.indexMs.push(h0 - i0);
  result.candidatesMs.push(parts.candidates);
  result.rerankMs.push(parts.rerank);
  result.keysMs.push(parts.keys);
  result.hydrateMs.push(h1 - h0);
  result.hitRows.push(hits.map(({ entry }) => row(entry.id)));
}
// The sweep: every IVF segment visiting each setting's lists in turn (a segment of fewer lists visits them all).
for (const vector of queryVectors)
  for (const setting of result.sweep) {
    const tuning = {
      ...(setting.probes === 'own' ? {} : { probes: setting.probes }),
      ...(setting.rerank === undefined ? {} : { rerank: setting.rerank }),
    };
    const started = performance.now();
    const hits = index.search(vector, 10, index.select(), tuning);
    setting.indexMs.push(performance.now() - started);
    setting.hitRows.push(hits.map(({ entry }) => row(entry.id)));
  }
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
const output: ScaleProbeResult = { ...result, indexLoadS, peakRssMb: Math.round(peak / 2 ** 20) };
console.log(JSON.stringify(output));
clients.dynamodb.destroy();
