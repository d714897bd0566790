// `npm run bench [-- --quick]`: measures ddb-faiss and writes bench/results.json plus a table.
// Fields not measured yet are null, so runs can be compared over time as stages are added.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { stsDir } from '../embedding/sts.ts';
import { benchEmbedding } from './embedding.ts';

const quick = process.argv.includes('--quick');
const ARTICLE_SECONDS_PER_ITEM = 0.75;

const embedding = await benchEmbedding(stsDir(), quick);

const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine: { cores: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}` },
  embed_items_per_s: Math.round(embedding.bestItemsPerSecond),
  embed_by_batch_size: embedding.byBatchSize.map((row) => ({ batch_size: row.batchSize, items_per_s: Math.round(row.itemsPerSecond) })),
  sts_dev_spearman_x100: Number(embedding.stsDevSpearman.toFixed(2)),
  article_items_per_s: 1 / ARTICLE_SECONDS_PER_ITEM,
  e2e_items: null,
  e2e_items_per_s: null,
  e2e_to_embed_ratio: null,
  merge_1k_into_10k_s: null,
  merge_1k_into_100k_s: null,
  search_p50_ms_10k: null,
  search_p99_ms_10k: null,
  search_p50_ms_100k: null,
  search_p99_ms_100k: null,
  peak_rss_mb: Math.round(embedding.peakRssMb),
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

const rows: [string, string][] = [
  ['article (one Python Lambda, 2020)', `${results.article_items_per_s.toFixed(2)} items/s`],
  ...embedding.byBatchSize.map((row): [string, string] => [`embed, default model, batch ${row.batchSize}`, `${Math.round(row.itemsPerSecond)} items/s`]),
  ['embed speed-up over the article', `${Math.round(embedding.bestItemsPerSecond * ARTICLE_SECONDS_PER_ITEM)}x`],
  ['STS dev Spearman x100', embedding.stsDevSpearman.toFixed(2)],
  ['peak RSS', `${results.peak_rss_mb} MB`],
];
console.log(`ddb-faiss bench (${results.mode}, ${results.machine.cores} cores, Node ${process.version}, ${embedding.sentences} STS sentences)`);
for (const [name, value] of rows) console.log(`  ${name.padEnd(40)}${value}`);
console.log('written to bench/results.json');
