// `npm run bench [-- --quick]`: measures ddb-faiss and writes bench/results.json plus a table.
// Fields not measured yet are null, so runs can be compared over time as stages are added.
// bench/results.json is committed: docs/benchmarks.md's tables are generated from it (npm run generate).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { stsDir } from '../models/sts.ts';
import { benchEndToEnd } from './e2e.ts';
import { withPeakRss } from './rss.ts';
import { benchEmbedding } from './embedding.ts';
import { benchSearch, type SearchBench } from './search.ts';
import { benchLongContent } from './long-content.ts';
import { SEARCH_MODES } from '../search/results.ts';
import type { ScaleResult } from './scale.ts';
import type { BackfillResults } from './backfill-windows.ts';

const quick = process.argv.includes('--quick');
if (process.argv.includes('--scale')) {
  const { benchScale } = await import('./scale.ts');
  const flag = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
  const [vectors, tableItems] = [flag('scale-vectors'), flag('scale-table-items')];
  const results = await benchScale(
    stsDir(),
    vectors ? Number(vectors) : undefined,
    tableItems ? Number(tableItems) : undefined,
  );
  // By size: a run of one size keeps the figures of the others.
  const file = new URL('./results-scale.json', import.meta.url);
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { sizes?: ScaleResult[] }) : {};
  const sizes = [...(before.sizes ?? []).filter((size) => size.vectors !== results.vectors), results];
  writeFileSync(file, `${JSON.stringify({ sizes: sizes.sort((a, b) => a.vectors - b.vectors) }, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  process.exit(0);
}
if (process.argv.some((arg) => arg.startsWith('--backfill-windows'))) {
  const { benchBackfillWindows } = await import('./backfill-windows.ts');
  const items = process.argv.find((arg) => arg.startsWith('--backfill-windows='))?.split('=')[1];
  const results = await benchBackfillWindows(items ? Number(items) : undefined);
  // By size, as the scale bench's: a run of one size keeps the figures of the others.
  const file = new URL('./results-backfill.json', import.meta.url);
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BackfillResults) : { sizes: [] };
  const sizes = [...before.sizes.filter((size) => size.items !== results.items), results];
  writeFileSync(file, `${JSON.stringify({ sizes: sizes.sort((a, b) => a.items - b.items) }, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  process.exit(0);
}
const ARTICLE_SECONDS_PER_ITEM = 0.75;

// Phases run one after another; each reports the peak RSS sampled while it ran.
const rss: Record<string, number> = {};
const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
  global.gc?.();
  const { result, peakRssMb } = await withPeakRss(run);
  rss[name] = peakRssMb;
  return result;
};
const embedding = await phase('embedding', () => benchEmbedding(stsDir(), quick));
const e2e = await phase('end_to_end_10k', () => benchEndToEnd(stsDir(), 10_000));
const e2e100k = quick ? null : await phase('end_to_end_100k', () => benchEndToEnd(stsDir(), 100_000));
const search10k = await phase('search_and_merge_10k', () => benchSearch(stsDir(), 10_000));
const search100k: SearchBench | null = quick
  ? null
  : await phase('search_and_merge_100k', () => benchSearch(stsDir(), 100_000));
const longContent = await phase('long_content', () =>
  quick ? benchLongContent(stsDir(), 40, [20, 40]) : benchLongContent(stsDir(), 250, [100, 250]),
);

const round = (value: number): number => Number(value.toFixed(2));
const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine: {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  },
  embed_items_per_s: Math.round(embedding.bestItemsPerSecond),
  embed_by_batch_size: embedding.byBatchSize.map((row) => ({
    batch_size: row.batchSize,
    items_per_s: Math.round(row.itemsPerSecond),
  })),
  sts_dev_spearman_x100: Number(embedding.stsDevSpearman.toFixed(2)),
  sts_train_cv_spearman_x100: {
    mean: Number(embedding.stsTrainCrossValidation.mean.toFixed(2)),
    spread: Number(embedding.stsTrainCrossValidation.spread.toFixed(2)),
    folds: embedding.stsTrainCrossValidation.folds.map((fold) => Number(fold.toFixed(2))),
  },
  sts_train_cv_pair_recall_at_10: Number(embedding.stsTrainCrossValidation.pairRecallAt10.toFixed(4)),
  article_items_per_s: 1 / ARTICLE_SECONDS_PER_ITEM,
  e2e_items: e2e.items,
  e2e_items_per_s: Math.round(e2e.itemsPerSecond),
  e2e_to_embed_ratio: Number((e2e.itemsPerSecond / embedding.bestItemsPerSecond).toFixed(4)),
  e2e_import_s: Number(e2e.importSeconds.toFixed(2)),
  e2e_run_s: Number(e2e.runSeconds.toFixed(2)),
  e2e_stage_s: Object.fromEntries(Object.entries(e2e.stageSeconds).map(([stage, s]) => [stage, Number(s.toFixed(2))])),
  e2e_clear_requests_per_1000_items: e2e.clearRequestsPer1000,
  e2e_self_match_first: e2e.selfMatchFirst,
  e2e_self_match_tied: e2e.selfMatchTied,
  e2e_self_match_not_indexed: e2e.selfMatchNotIndexed,
  e2e_self_match_missed: e2e.selfMatchMissed,
  pair_recall_pairs: e2e.pairRecall.vector.pairs,
  pair_recall_at_10_vector: Number(e2e.pairRecall.vector.recallAt10.toFixed(4)),
  pair_recall_at_10_lexical: Number(e2e.pairRecall.lexical.recallAt10.toFixed(4)),
  pair_recall_at_10_hybrid: Number(e2e.pairRecall.hybrid.recallAt10.toFixed(4)),
  merge_1k_into_10k_s: round(search10k.merge1kSeconds),
  merge_1k_into_100k_s: search100k ? round(search100k.merge1kSeconds) : null,
  search_p50_ms_10k: round(search10k.p50Ms),
  search_p99_ms_10k: round(search10k.p99Ms),
  search_p50_ms_100k: search100k ? round(search100k.p50Ms) : null,
  search_p99_ms_100k: search100k ? round(search100k.p99Ms) : null,
  search_detail: [search10k, search100k]
    .filter((row): row is SearchBench => row !== null)
    .map((row) => ({
      vectors: row.vectors,
      faiss_p50_ms: round(row.faissP50Ms),
      faiss_p99_ms: round(row.faissP99Ms),
      embed_p50_ms: round(row.embedP50Ms),
      hydrate_p50_ms: round(row.hydrateP50Ms),
      queries_per_s: Math.round(row.queriesPerSecond),
      load_s: round(row.loadSeconds),
      filter_1pct_p50_ms: round(row.otherP50Ms.filter1Percent),
      filter_50pct_p50_ms: round(row.otherP50Ms.filter50Percent),
      lexical_p50_ms: round(row.otherP50Ms.lexical),
      hybrid_p50_ms: round(row.otherP50Ms.hybrid),
    })),
  e2e_100k_items_per_s: e2e100k ? Math.round(e2e100k.itemsPerSecond) : null,
  e2e_100k_clear_requests_per_1000_items: e2e100k ? e2e100k.clearRequestsPer1000 : null,
  e2e_100k_stage_s: e2e100k
    ? Object.fromEntries(Object.entries(e2e100k.stageSeconds).map(([stage, s]) => [stage, Number(s.toFixed(2))]))
    : null,
  e2e_100k_self_match_sample: e2e100k
    ? {
        checked: e2e100k.selfMatchChecked,
        first: e2e100k.selfMatchFirst,
        tied: e2e100k.selfMatchTied,
        poison: e2e100k.selfMatchNotIndexed,
        missed: e2e100k.selfMatchMissed,
      }
    : null,
  long_content: {
    items: longContent.items,
    content_mb: longContent.contentMb,
    passages: longContent.passages,
    run_s: round(longContent.runSeconds),
    passages_per_s: Math.round(longContent.passagesPerSecond),
    embed_batch: longContent.embed.map((probe) => ({
      items: probe.items,
      passages: probe.passages,
      seconds: round(probe.seconds),
      peak_rss_mb: probe.peakRssMb,
      retained_heap_mb: probe.retainedHeapMb,
    })),
  },
  e2e_100k_pair_recall_at_10_vector: e2e100k ? Number(e2e100k.pairRecall.vector.recallAt10.toFixed(4)) : null,
  peak_rss_mb: Math.max(...Object.values(rss)),
  peak_rss_mb_by_phase: rss,
};
// The figures other benches merge in (stream mode's, the cost's) are kept until they run again.
const resultsFile = new URL('./results.json', import.meta.url);
const kept = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
writeFileSync(resultsFile, `${JSON.stringify({ ...kept, ...results }, null, 2)}\n`);

const rows: [string, string][] = [
  ['article (one Python Lambda, 2020)', `${results.article_items_per_s.toFixed(2)} items/s`],
  ...embedding.byBatchSize.map((row): [string, string] => [
    `embed, default model, batch ${row.batchSize}`,
    `${Math.round(row.itemsPerSecond)} items/s`,
  ]),
  ['embed speed-up over the article', `${Math.round(embedding.bestItemsPerSecond * ARTICLE_SECONDS_PER_ITEM)}x`],
  ['STS dev Spearman x100', embedding.stsDevSpearman.toFixed(2)],
  [
    'STS train, 5-fold cross-validation, Spearman x100',
    `${embedding.stsTrainCrossValidation.mean.toFixed(2)} ± ` +
      `${embedding.stsTrainCrossValidation.spread.toFixed(2)} (standard deviation over the folds)`,
  ],
  [
    'STS train, 5-fold cross-validation, recall@10 of the paired sentence',
    `${(embedding.stsTrainCrossValidation.pairRecallAt10 * 100).toFixed(1)}% ` +
      '(held-out pairs >= 4, among every train sentence)',
  ],
  [
    `end to end, ${e2e.items} items (import + run)`,
    `${Math.round(e2e.itemsPerSecond)} items/s ` +
      `(${((e2e.itemsPerSecond / embedding.bestItemsPerSecond) * 100).toFixed(1)}% of raw embedding)`,
  ],
  ['  import', `${e2e.importSeconds.toFixed(1)} s`],
  ['  indexer run', `${e2e.runSeconds.toFixed(1)} s`],
  ...Object.entries(e2e.stageSeconds).map(([stage, s]): [string, string] => [`    ${stage}`, `${s.toFixed(1)} s`]),
  ['  clear: DynamoDB requests per 1,000 items', String(e2e.clearRequestsPer1000 ?? 'not reported')],
  [
    '  self-match check (label mapping)',
    `${e2e.selfMatchFirst} of ${e2e.selfMatchChecked} first, ${e2e.selfMatchTied} tied with an identical vector, ` +
      `${e2e.selfMatchNotIndexed} poison, ${e2e.selfMatchMissed} missed`,
  ],
  ...SEARCH_MODES.map((mode): [string, string] => [
    `  recall@10 of the paired sentence (STS dev >= 4), ${mode}`,
    `${(e2e.pairRecall[mode].recallAt10 * 100).toFixed(1)}% of ${e2e.pairRecall[mode].pairs} pairs, via /search`,
  ]),
  ['end-to-end speed-up over the article', `${Math.round(e2e.itemsPerSecond * ARTICLE_SECONDS_PER_ITEM)}x`],
  ...(e2e100k
    ? [
        [`end to end, ${e2e100k.items} items (import + run)`, `${Math.round(e2e100k.itemsPerSecond)} items/s`] as [
          string,
          string,
        ],
        ['  import / indexer run', `${e2e100k.importSeconds.toFixed(1)} s / ${e2e100k.runSeconds.toFixed(1)} s`] as [
          string,
          string,
        ],
        ...Object.entries(e2e100k.stageSeconds).map(([stage, s]): [string, string] => [
          `    ${stage}`,
          `${s.toFixed(1)} s`,
        ]),
        [
          '  self-match check, sample',
          `${e2e100k.selfMatchFirst} of ${e2e100k.selfMatchChecked} first, ${e2e100k.selfMatchTied} tied, ` +
            `${e2e100k.selfMatchNotIndexed} poison, ${e2e100k.selfMatchMissed} missed`,
        ] as [string, string],
        [
          '  recall@10 of the paired sentence (STS dev >= 4), vector',
          `${(e2e100k.pairRecall.vector.recallAt10 * 100).toFixed(1)}% of ${e2e100k.pairRecall.vector.pairs} pairs`,
        ] as [string, string],
      ]
    : []),
  ...[search10k, search100k]
    .filter((row): row is SearchBench => row !== null)
    .flatMap((row): [string, string][] => [
      [
        `search, ${row.vectors} vectors (embed + Faiss + hydrate)`,
        `p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, ${Math.round(row.queriesPerSecond)} queries/s`,
      ],
      ['  Faiss alone', `p50 ${row.faissP50Ms.toFixed(1)} ms, p99 ${row.faissP99Ms.toFixed(1)} ms`],
      ['  query embedding / hydration', `p50 ${row.embedP50Ms.toFixed(2)} ms / ${row.hydrateP50Ms.toFixed(2)} ms`],
      ['  index load', `${row.loadSeconds.toFixed(2)} s`],
      [
        '  p50: filter admitting 1% / 50%',
        `${row.otherP50Ms.filter1Percent.toFixed(1)} ms / ${row.otherP50Ms.filter50Percent.toFixed(1)} ms`,
      ],
      [
        '  p50: lexical / hybrid ranking',
        `${row.otherP50Ms.lexical.toFixed(1)} ms / ${row.otherP50Ms.hybrid.toFixed(1)} ms`,
      ],
      [`merge stage: 1,000 new items into ${row.vectors} vectors`, `${row.merge1kSeconds.toFixed(2)} s`],
    ]),
  [
    `long content: ${longContent.items} items of 390 KB (${longContent.contentMb} MB) in one batch`,
    `${longContent.passages} passages in ${longContent.runSeconds.toFixed(1)} s, ` +
      `${Math.round(longContent.passagesPerSecond)} passages/s`,
  ],
  ...longContent.embed.map((probe): [string, string] => [
    `  embed stage alone (own process), batch of ${probe.items}`,
    `${probe.passages} passages in ${probe.seconds.toFixed(1)} s, peak RSS ${probe.peakRssMb} MB, ` +
      `heap kept between reads ${probe.retainedHeapMb} MB`,
  ]),
  ...Object.entries(rss).map(([name, mb]): [string, string] => [`peak RSS, ${name.replace(/_/g, ' ')}`, `${mb} MB`]),
];
console.log(
  `ddb-faiss bench (${results.mode}, ${results.machine.cores} cores, Node ${process.version}, ` +
    `${embedding.sentences} STS sentences)`,
);
const width = Math.max(...rows.map(([name]) => name.length)) + 2;
for (const [name, value] of rows) console.log(`  ${name.padEnd(width)}${value}`);
console.log('written to bench/results.json');
