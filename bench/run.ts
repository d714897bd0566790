// `npm run bench [-- --quick]`: measures ddb-faiss and writes bench/results.json plus a table.
// Fields not measured yet are null, so runs can be compared over time as stages are added.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { stsDir } from '../embedding/sts.ts';
import { benchEndToEnd } from './e2e.ts';
import { benchEmbedding } from './embedding.ts';
import { benchSearch, type SearchBench } from './search.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const quick = process.argv.includes('--quick');
const ARTICLE_SECONDS_PER_ITEM = 0.75;

const embedding = await benchEmbedding(stsDir(), quick);
const e2e = await benchEndToEnd(stsDir(), 10_000);
const search10k = await benchSearch(stsDir(), 10_000);
const search100k: SearchBench | null = quick ? null : await benchSearch(stsDir(), 100_000);

const round = (value: number): number => Number(value.toFixed(2));
const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine: { cores: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}` },
  embed_items_per_s: Math.round(embedding.bestItemsPerSecond),
  embed_by_batch_size: embedding.byBatchSize.map((row) => ({ batch_size: row.batchSize, items_per_s: Math.round(row.itemsPerSecond) })),
  sts_dev_spearman_x100: Number(embedding.stsDevSpearman.toFixed(2)),
  article_items_per_s: 1 / ARTICLE_SECONDS_PER_ITEM,
  e2e_items: e2e.items,
  e2e_items_per_s: Math.round(e2e.itemsPerSecond),
  e2e_to_embed_ratio: Number((e2e.itemsPerSecond / embedding.bestItemsPerSecond).toFixed(4)),
  e2e_import_s: Number(e2e.importSeconds.toFixed(2)),
  e2e_run_s: Number(e2e.runSeconds.toFixed(2)),
  e2e_stage_s: Object.fromEntries(Object.entries(e2e.stageSeconds).map(([stage, s]) => [stage, Number(s.toFixed(2))])),
  e2e_own_text_top_hit: e2e.ownTextTopHit,
  e2e_own_text_tied_top_hit: e2e.ownTextTiedTopHit,
  merge_1k_into_10k_s: round(search10k.merge1kSeconds),
  merge_1k_into_100k_s: search100k ? round(search100k.merge1kSeconds) : null,
  search_p50_ms_10k: round(search10k.p50Ms),
  search_p99_ms_10k: round(search10k.p99Ms),
  search_p50_ms_100k: search100k ? round(search100k.p50Ms) : null,
  search_p99_ms_100k: search100k ? round(search100k.p99Ms) : null,
  search_detail: [search10k, search100k].filter((row): row is SearchBench => row !== null).map((row) => ({
    vectors: row.vectors,
    faiss_p50_ms: round(row.faissP50Ms),
    faiss_p99_ms: round(row.faissP99Ms),
    embed_p50_ms: round(row.embedP50Ms),
    hydrate_p50_ms: round(row.hydrateP50Ms),
    queries_per_s: Math.round(row.queriesPerSecond),
    load_s: round(row.loadSeconds),
  })),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

const rows: [string, string][] = [
  ['article (one Python Lambda, 2020)', `${results.article_items_per_s.toFixed(2)} items/s`],
  ...embedding.byBatchSize.map((row): [string, string] => [`embed, default model, batch ${row.batchSize}`, `${Math.round(row.itemsPerSecond)} items/s`]),
  ['embed speed-up over the article', `${Math.round(embedding.bestItemsPerSecond * ARTICLE_SECONDS_PER_ITEM)}x`],
  ['STS dev Spearman x100', embedding.stsDevSpearman.toFixed(2)],
  [`end to end, ${e2e.items} items (import + run)`, `${Math.round(e2e.itemsPerSecond)} items/s (${(e2e.itemsPerSecond / embedding.bestItemsPerSecond * 100).toFixed(1)}% of raw embedding)`],
  ['  import', `${e2e.importSeconds.toFixed(1)} s`],
  ['  indexer run', `${e2e.runSeconds.toFixed(1)} s`],
  ...Object.entries(e2e.stageSeconds).map(([stage, s]): [string, string] => [`    ${stage}`, `${s.toFixed(1)} s`]),
  ['  items that are their own text\'s top hit', `${e2e.ownTextTopHit} of ${e2e.items} (+${e2e.ownTextTiedTopHit} tied with an identical vector)`],
  ['end-to-end speed-up over the article', `${Math.round(e2e.itemsPerSecond * ARTICLE_SECONDS_PER_ITEM)}x`],
  ...[search10k, search100k].filter((row): row is SearchBench => row !== null).flatMap((row): [string, string][] => [
    [`search, ${row.vectors} vectors (embed + Faiss + hydrate)`, `p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, ${Math.round(row.queriesPerSecond)} queries/s`],
    ['  Faiss alone', `p50 ${row.faissP50Ms.toFixed(1)} ms, p99 ${row.faissP99Ms.toFixed(1)} ms`],
    ['  query embedding / hydration', `p50 ${row.embedP50Ms.toFixed(2)} ms / ${row.hydrateP50Ms.toFixed(2)} ms`],
    ['  index load', `${row.loadSeconds.toFixed(2)} s`],
    [`merge stage: 1,000 new items into ${row.vectors} vectors`, `${row.merge1kSeconds.toFixed(2)} s`],
  ]),
  ['peak RSS (whole process)', `${results.peak_rss_mb} MB`],
];
console.log(`ddb-faiss bench (${results.mode}, ${results.machine.cores} cores, Node ${process.version}, ${embedding.sentences} STS sentences)`);
for (const [name, value] of rows) console.log(`  ${name.padEnd(52)}${value}`);
console.log('written to bench/results.json');
