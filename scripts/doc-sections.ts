/**
 * The parts of `docs/` generated from a single definition, so a page cannot drift from what it
 * describes: the settings table (from `config/settings.ts`), the workflow's diagram and its states
 * (from the rendered ASL and `asl/tasks.ts`), and the benchmark tables (from `bench/*.json`, the one
 * place measured figures live). `npm run generate` writes each between its markers; a unit test
 * checks every page holds what these render.
 *
 * @example
 * ```ts
 * const page = readFileSync('docs/configuration.md', 'utf8');
 * writeFileSync('docs/configuration.md', withGeneratedSections('docs/configuration.md', page));
 * ```
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type AslGraph, type AslStateShape, indexerDefinitionText } from '../asl/indexer.ts';
import type { ProbeResult } from '../bench/cold-start-probe.ts';
import type { ScaleResult } from '../bench/scale.ts';
import type { BackfillResults } from '../bench/backfill-windows.ts';
import { INDEXER_TASKS, type IndexerTask } from '../asl/tasks.ts';
import { PROJECT_ROOT } from '../config/project.ts';
import type { MeasuredUsage } from '../cost/estimate.ts';
import { readMeasuredUsage } from '../cost/measured.ts';
import { measuredCostTable, pricesTable, runSpacingTable, workloadsSummary, workloadsTable } from '../cost/tables.ts';
import { defaultOf, DEPLOYED_SETTINGS, type Setting, SETTING_NAMES, SETTINGS } from '../config/settings.ts';

const code = (text: string): string => `\`${text}\``;
const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
/** A number as people read it: thousands separated, at most `digits` decimals. */
const num = (value: number, digits = 2): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const json = <T>(file: string): T => JSON.parse(readFileSync(path.join(PROJECT_ROOT, file), 'utf8')) as T;
const day = (iso: string): string => iso.slice(0, 10);

/** The configuration table: one row per setting. */
export function settingsTable(): string {
  const rows = SETTING_NAMES.map((name) => {
    const row = SETTINGS[name] as Setting<unknown>;
    const fallback = defaultOf(name);
    const shown = row.defaultDoc ?? (typeof fallback === 'string' ? code(fallback) : String(fallback));
    const deployed = (DEPLOYED_SETTINGS as readonly string[]).includes(name) ? code(`-c ${name}=…`) : '';
    const flag = row.flag === undefined ? '(environment only)' : code(`--${row.flag}`);
    return [name, flag, code(row.env), shown, deployed, row.doc];
  });
  return table(['setting', 'flag', 'env', 'default', 'CDK context', 'what it is'], rows);
}

const indexerStates = (): [string, AslStateShape][] =>
  Object.entries((JSON.parse(indexerDefinitionText()) as AslGraph).States);

/** The task whose Task (or Map) state this is. */
function taskOf(state: string): IndexerTask | undefined {
  const byState = Object.entries(INDEXER_TASKS).find(([, spec]) => spec.state === state)?.[0] as
    IndexerTask | undefined;
  return byState ?? (state === 'Embed batches' ? 'embed' : undefined);
}

/** The workflow as a Mermaid flowchart, drawn from the ASL: every state and every way out of it. */
export function workflowDiagram(): string {
  const states = indexerStates();
  const id = new Map(states.map(([name], index) => [name, `s${index}`]));
  const shape = (name: string, state: AslStateShape): string => {
    const label = `"${name}"`;
    if (state.Type === 'Choice') return `{${label}}`;
    if (state.Type === 'Succeed' || state.Type === 'Fail') return `([${label}])`;
    return `[${label}]`;
  };
  const lines = ['```mermaid', 'flowchart TD'];
  for (const [name, state] of states) lines.push(`  ${id.get(name)}${shape(name, state)}`);
  for (const [name, state] of states) {
    const from = id.get(name)!;
    if (state.Next) lines.push(`  ${from} --> ${id.get(state.Next)}`);
    for (const choice of state.Choices ?? []) lines.push(`  ${from} --> ${id.get(choice.Next)}`);
    if (state.Default) lines.push(`  ${from} -->|otherwise| ${id.get(state.Default)}`);
    for (const target of new Set((state.Catch ?? []).map((entry) => entry.Next)))
      lines.push(`  ${from} -.->|fails| ${id.get(target)}`);
  }
  return [...lines, '```'].join('\n');
}

/** Every state, what it does, and (for a task) the handler and the module that does the work. */
export function workflowStates(): string {
  const rows = indexerStates().map(([name, state]) => {
    const task = taskOf(name);
    const spec = task ? INDEXER_TASKS[task] : undefined;
    const comment = (state.Comment ?? (spec && 'comment' in spec ? spec.comment : '') ?? '').replace(/\|/g, '\\|');
    const work = task
      ? `${code(task)} in ${code('tasks/indexer-handlers.ts')} -> ${code(INDEXER_TASKS[task].stage)}`
      : '';
    return [`**${name}**`, state.Type, comment, work];
  });
  return table(['state', 'type', 'what it does', 'handler -> stage'], rows);
}

interface LocalBench {
  date: string;
  mode: string;
  machine: { cores: number; cpu: string; memory_gb: number; node: string };
  embed_items_per_s: number;
  embed_by_batch_size: { batch_size: number; items_per_s: number }[];
  sts_dev_spearman_x100: number;
  sts_train_cv_spearman_x100: { mean: number; spread: number };
  sts_train_cv_pair_recall_at_10: number;
  article_items_per_s: number;
  e2e_items: number;
  e2e_items_per_s: number;
  e2e_import_s: number;
  e2e_stage_s: Record<string, number>;
  e2e_clear_requests_per_1000_items: number;
  e2e_self_match_first: number;
  e2e_self_match_tied: number;
  e2e_self_match_missed: number;
  pair_recall_pairs: number;
  pair_recall_at_10_vector: number;
  pair_recall_at_10_lexical: number;
  pair_recall_at_10_hybrid: number;
  merge_1k_into_10k_s: number;
  merge_1k_into_100k_s?: number;
  search_p50_ms_10k: number;
  search_p99_ms_10k: number;
  search_p50_ms_100k?: number;
  search_p99_ms_100k?: number;
  search_detail: {
    vectors: number;
    faiss_p50_ms: number;
    embed_p50_ms: number;
    hydrate_p50_ms: number;
    filter_1pct_p50_ms: number;
    filter_50pct_p50_ms: number;
    lexical_p50_ms: number;
    hybrid_p50_ms: number;
  }[];
  e2e_100k_items_per_s?: number;
  e2e_100k_stage_s?: Record<string, number>;
  e2e_100k_pair_recall_at_10_vector?: number;
  long_content?: {
    items: number;
    content_mb: number;
    passages: number;
    run_s: number;
    passages_per_s: number;
    embed_batch: { items: number; passages: number; peak_rss_mb: number; retained_heap_mb: number }[];
  };
  peak_rss_mb_by_phase: Record<string, number>;
  capture_write_units_per_change?: Record<string, Record<string, number>>;
  freshness_p50_s?: Record<string, number>;
  freshness_p99_s?: Record<string, number>;
  freshness_detail?: { capture_debounce_s: number; burst_items: number; small_run_stage_ms: Record<string, number> };
}

const stages = (seconds: Record<string, number>, unit = 's'): string =>
  Object.entries(seconds)
    .map(([stage, value]) => `${stage.toLowerCase()} ${num(value, 2)} ${unit}`)
    .join(', ');
const percent = (share: number): string => `${num(share * 100, 1)}%`;

/** `npm run bench`'s figures (`bench/results.json`). */
export function localBenchTable(): string {
  const bench = json<LocalBench>('bench/results.json');
  const [small, large] = bench.search_detail;
  const rows: string[][] = [
    [
      'run',
      `${day(bench.date)}, ${bench.mode} mode, ${bench.machine.cores} cores (${bench.machine.cpu}), ` +
        `Node ${bench.machine.node}`,
    ],
    [
      'embedding, default model',
      `${num(bench.embed_items_per_s)} items/s at the best batch size (${bench.embed_by_batch_size
        .map((entry) => `${entry.batch_size}: ${num(entry.items_per_s)}`)
        .join(', ')})`,
    ],
    [
      'STS quality',
      `dev Spearman x100 ${bench.sts_dev_spearman_x100}; train cross-validation ` +
        `${bench.sts_train_cv_spearman_x100.mean} ± ${bench.sts_train_cv_spearman_x100.spread}; ` +
        `cross-validated pair recall@10 ${percent(bench.sts_train_cv_pair_recall_at_10)}`,
    ],
    [
      `end to end, ${num(bench.e2e_items)} items, import -> searchable`,
      `${num(bench.e2e_items_per_s)} items/s ` +
        `(${num(bench.e2e_items_per_s / bench.article_items_per_s, 0)}x the article's 0.75 s/item): ` +
        `import ${num(bench.e2e_import_s)} s, ${stages(bench.e2e_stage_s)}`,
    ],
    ['clear stage, DynamoDB requests per 1,000 items', String(bench.e2e_clear_requests_per_1000_items)],
  ];
  if (bench.e2e_100k_items_per_s && bench.e2e_100k_stage_s)
    rows.push([
      'end to end, 100,000 items',
      `${num(bench.e2e_100k_items_per_s)} items/s: ${stages(bench.e2e_100k_stage_s)}`,
    ]);
  rows.push(
    [
      `recall@10 of the paired sentence (${bench.pair_recall_pairs} STS dev pairs scored 4+)`,
      `vector ${percent(bench.pair_recall_at_10_vector)}, ` +
        `lexical ${percent(bench.pair_recall_at_10_lexical)}, hybrid ${percent(bench.pair_recall_at_10_hybrid)}` +
        (bench.e2e_100k_pair_recall_at_10_vector
          ? ` (vector among 100,000 items: ${percent(bench.e2e_100k_pair_recall_at_10_vector)})`
          : ''),
    ],
    [
      'self-match check of the label mapping',
      `${num(bench.e2e_self_match_first)} first, ${bench.e2e_self_match_tied} tied with an identical vector, ` +
        `${bench.e2e_self_match_missed} missed`,
    ],
    [
      'merge stage, +1,000 items',
      `into 10,000: ${bench.merge_1k_into_10k_s} s` +
        (bench.merge_1k_into_100k_s === undefined ? '' : `; into 100,000: ${bench.merge_1k_into_100k_s} s`),
    ],
  );
  for (const detail of [small, large]) {
    if (!detail) continue;
    const p50 = detail.vectors === 10_000 ? bench.search_p50_ms_10k : bench.search_p50_ms_100k;
    const p99 = detail.vectors === 10_000 ? bench.search_p99_ms_10k : bench.search_p99_ms_100k;
    rows.push([
      `search, ${num(detail.vectors)} vectors`,
      `p50 ${p50} / p99 ${p99} ms (Faiss ${detail.faiss_p50_ms}, query embedding ${detail.embed_p50_ms}, hydration ` +
        `${detail.hydrate_p50_ms} ms); p50 with a filter admitting 1%: ${detail.filter_1pct_p50_ms} ms, 50%: ` +
        `${detail.filter_50pct_p50_ms} ms; lexical ${detail.lexical_p50_ms} ms, hybrid ${detail.hybrid_p50_ms} ms`,
    ]);
  }
  const long = bench.long_content;
  if (long)
    rows.push(
      [
        `long content, ${long.items} items (${long.content_mb} MB)`,
        `${num(long.passages)} passages in ${num(long.run_s, 0)} s through a run ` +
          `(${num(long.passages_per_s)} passages/s)`,
      ],
      [
        'embed stage alone, one batch of such items',
        long.embed_batch
          .map(
            (batch) =>
              `${batch.items} items: peak RSS ${num(batch.peak_rss_mb)} MB, heap kept ${batch.retained_heap_mb} MB`,
          )
          .join('; '),
      ],
    );
  rows.push([
    'peak RSS per phase (the bench process)',
    Object.entries(bench.peak_rss_mb_by_phase)
      .map(([phase, mb]) => `${phase.replace(/_/g, ' ')} ${num(mb)} MB`)
      .join(', '),
  ]);
  return table(['figure', 'value'], rows);
}

/** Stream mode's figures (`npm run bench:freshness`, `bench:capture-cost`, merged into `bench/results.json`). */
export function captureBenchTable(): string {
  const bench = json<LocalBench>('bench/results.json');
  const rows: string[][] = [];
  if (bench.freshness_p50_s && bench.freshness_p99_s && bench.freshness_detail) {
    const detail = bench.freshness_detail;
    rows.push(
      [
        'write -> searchable, single writes',
        `p50 ${bench.freshness_p50_s['single']} s, p99 ${bench.freshness_p99_s['single']} s`,
      ],
      [
        `write -> searchable, a burst of ${num(detail.burst_items)}`,
        `p50 ${bench.freshness_p50_s['burst_1000']} s, p99 ${bench.freshness_p99_s['burst_1000']} s`,
      ],
      ['capture debounce', `${detail.capture_debounce_s} s`],
      ['a small run, by stage', stages(detail.small_run_stage_ms, 'ms')],
    );
  }
  for (const [size, units] of Object.entries(bench.capture_write_units_per_change ?? {}))
    rows.push([
      `write units ddb-faiss adds per change, ${size} item`,
      `flags mode ${units['flags_mode_added_per_change']}, stream mode ${units['stream_mode_added_per_change']}`,
    ]);
  return table(['figure', 'value'], rows);
}

/** A +1,000 merge in a warm process (the median of the bench's warm runs), or why there is no figure. */
const warmMerge = (f: ScaleResult): string => {
  const warm = [...(f.merge_1k_warm_s ?? [])].sort((a, b) => a - b);
  return warm.length === 0 ? 'not measured' : `${warm[(warm.length - 1) >> 1]} s`;
};

/** Issue 36's targets at 10,000,000 items on this 2-core machine: the figure, the target, whether a size meets it. */
/** The issue's bound on any one step of a run at 10M: five minutes. */
const STEP_TARGET_S = 300;

const SCALE_TARGETS: readonly {
  measure: string;
  value: (f: ScaleResult) => string;
  target: string;
  met: (f: ScaleResult) => boolean;
}[] = [
  {
    measure: 'search p50 / p99, whole query',
    value: (f) => `${f.search_p50_ms} / ${f.search_p99_ms} ms`,
    target: 'p50 at most 10 ms',
    met: (f) => f.search_p50_ms <= 10,
  },
  {
    measure: 'recall@10',
    value: (f) => String(f.recall_at_10),
    target: 'at least 0.95',
    met: (f) => f.recall_at_10 >= 0.95,
  },
  {
    measure: 'merge of +1,000 items: fresh process / warm',
    value: (f) => `${f.merge_1k_s} s / ${warmMerge(f)}`,
    target: 'at most 1 s',
    met: (f) => f.merge_1k_s <= 1,
  },
  {
    measure: 'index load',
    value: (f) => `${f.index_load_s} s`,
    target: 'at most 2 s',
    met: (f) => f.index_load_s <= 2,
  },
  {
    measure: 'search process peak RSS',
    value: (f) => `${num(f.search_rss_mb)} MB`,
    target: 'at most 3 GB',
    met: (f) => f.search_rss_mb <= 3 * 1024,
  },
  {
    measure: 'longest single step',
    value: (f) => `${f.longest_step_s} s`,
    target: 'at most 5 minutes',
    met: (f) => f.longest_step_s <= STEP_TARGET_S,
  },
];

/** Each measure of the scale bench, rendered from one size's figures. */
const SCALE_MEASURES: readonly [string, (f: ScaleResult) => string][] = [
  ['run', (f) => `${day(f.date)}, commit ${code(f.commit)}, ${f.machine.cores} cores, ${f.machine.memory_gb} GB`],
  ['segments searched', (f) => String(f.segments_searched)],
  ['search p50 / p99, whole query', (f) => `${f.search_p50_ms} / ${f.search_p99_ms} ms`],
  ['of which the index: p50 / p99', (f) => `${f.index_search_p50_ms} / ${f.index_search_p99_ms} ms`],
  [
    "the index's parts, p50: faiss / re-rank / key maps",
    (f) =>
      [f.index_candidates_p50_ms, f.index_rerank_p50_ms, f.index_keys_p50_ms]
        .map((ms) => (ms === undefined ? 'not timed apart' : `${ms} ms`))
        .join(' / '),
  ],
  ['of which embedding / read-back: p50', (f) => `${f.embed_p50_ms} / ${f.read_back_p50_ms} ms`],
  ['read-back table', (f) => `${num(f.table_items)} items`],
  [
    'recall@10 against exact search (ties counted)',
    (f) =>
      `${f.recall_at_10} (${f.recall_queries} queries` +
      (f.recall_at_10_by_id === undefined ? ', ties not counted' : `; ${f.recall_at_10_by_id} by row`) +
      ')',
  ],
  ['merge: base runs of up to 1M items', (f) => `${f.merge_base_runs_s.join(', ')} s`],
  ['merge: +1,000 items / runs replacing 1,000', (f) => `${f.merge_1k_s} s / ${f.merge_1k_replacing_s.join(', ')} s`],
  [
    'merge: +1,000 items, each run in a warm process',
    (f) => (f.merge_1k_warm_s ? `${f.merge_1k_warm_s.join(', ')} s` : 'not measured'),
  ],
  ['compaction steps (at most 2M rows each)', (f) => `${f.compaction_steps_s.join(', ')} s`],
  ['longest single step', (f) => `${f.longest_step_s} s`],
  ['index load (search cold start, from the page cache)', (f) => `${f.index_load_s} s`],
  [
    'peak RSS: search / merge (+1,000) / compaction',
    (f) =>
      `${num(f.search_rss_mb)} / ${num(f.merge_peak_rss_mb)} (${num(f.merge_1k_peak_rss_mb)}) / ` +
      `${num(f.compaction_peak_rss_mb)} MB`,
  ],
  [
    'bytes per vector: in memory / on disk',
    (f) => `${num(f.index_bytes_per_vector, 1)} / ${num(f.disk_bytes_per_vector, 1)}`,
  ],
];

/** `npm run bench -- --scale`'s figures by size (`bench/results-scale.json`), a column a size. */
export function scaleBenchTable(): string {
  const { sizes } = json<{ sizes: ScaleResult[] }>('bench/results-scale.json');
  return table(
    ['measure', ...sizes.map((size) => `${num(size.vectors)} items`)],
    SCALE_MEASURES.map(([name, value]) => [name, ...sizes.map(value)]),
  );
}

/** Every size beside the targets, and whether the largest meets each: what the README quotes. */
export function scaleSummary(): string {
  const { sizes } = json<{ sizes: ScaleResult[] }>('bench/results-scale.json');
  const backfills = json<BackfillResults>('bench/results-backfill.json').sizes;
  const largest = sizes.at(-1)!;
  /** A backfill of a size's whole index, through the merge stage: its invocations, each within the step target. */
  const backfillOf = (size: ScaleResult): string => {
    const backfill = backfills.find((measured) => measured.items === size.vectors);
    if (!backfill) return 'not measured';
    const { seconds, peaks } = invocationsOf(backfill);
    return `${seconds.length} of at most ${Math.round(Math.max(...seconds))} s, ${num(Math.max(...peaks))} MB`;
  };
  const backfillMet = backfills.some(
    (measured) =>
      measured.items === largest.vectors && invocationsOf(measured).seconds.every((s) => s <= STEP_TARGET_S),
  );
  return table(
    ['measure', ...sizes.map((size) => `${num(size.vectors)} items`), `target at ${num(largest.vectors)}`, ''],
    [
      ...SCALE_TARGETS.map(({ measure, value, target, met }) => [
        measure,
        ...sizes.map(value),
        target,
        met(largest) ? 'met' : '**missed**',
      ]),
      [
        `[backfill](${BACKFILL_BENCH_LINK}): merge invocations`,
        ...sizes.map(backfillOf),
        'each at most 5 minutes',
        backfillMet ? 'met' : '**missed**',
      ],
    ],
  );
}

interface AnnSetting {
  nlist: number;
  nprobe: number;
  rerank: number;
  recall_at_10: number;
  p50_ms: number;
}
interface AnnBench {
  date: string;
  queries: number;
  target_recall_at_10: number;
  sizes: {
    rows: number;
    flat_p50_ms: number;
    chosen?: AnnSetting;
    builds: { nlist: number; training_rows: number; train_s: number; build_s: number; bytes_per_vector: number }[];
    settings: AnnSetting[];
  }[];
}

/** `npm run bench:ann`'s figures (`bench/ann-choice.json`): how each size's index settings were chosen. */
export function annBenchTable(): string {
  const bench = json<AnnBench>('bench/ann-choice.json');
  const rows = bench.sizes.flatMap((size) =>
    size.builds.map((build) => {
      const fastest = (floor: number) =>
        size.settings
          .filter((s) => s.nlist === build.nlist && s.recall_at_10 >= floor)
          .sort((a, b) => a.p50_ms - b.p50_ms)[0];
      const cell = (s: AnnSetting | undefined) =>
        s ? `${s.p50_ms} ms (nprobe ${s.nprobe}, top ${s.rerank} re-ranked; ${s.recall_at_10})` : 'not reached';
      return [
        num(size.rows),
        `${size.flat_p50_ms} ms`,
        `IVF${build.nlist}`,
        `${num(build.training_rows)} rows, ${build.train_s} s`,
        num(build.bytes_per_vector),
        cell(fastest(0.95)),
        cell(fastest(0.96)),
      ];
    }),
  );
  const heading = `${day(bench.date)}, ${bench.queries} queries; IVF with 4-bit PQ fast-scan codes, vectors in memory`;
  return `${heading}:\n\n${table(
    ['rows', 'flat p50', 'lists', 'trained on', 'bytes/vector', 'fastest at recall 0.95', 'fastest at recall 0.96'],
    rows,
  )}`;
}

/** One system at one size in `npm run bench:peers` (bench/peers.ts). */
interface PeerFigures {
  build_s: number;
  load_s: number;
  setting?: Record<string, number>;
  search_p50_ms: number;
  search_p99_ms: number;
  recall_at_10: number;
  search_rss_mb: number;
  disk_mb: number;
  add_1k_written_s: number;
  add_1k_searchable_s: number;
  replace_1k_searchable_s: number;
  search_p50_ms_after_changes: number;
  recall_at_10_after_changes: number;
  search_p50_ms_after_optimize?: number;
  recall_at_10_after_optimize?: number;
}
interface PeersBench {
  date: string;
  machine: { cores: number; cpu: string };
  lancedb: string;
  queries: number;
  sizes: ({ vectors: number } & Record<'ddb-faiss' | 'lancedb-ivf-pq' | 'lancedb-hnsw-sq', PeerFigures>)[];
}

/** `npm run bench:peers`'s figures (`bench/results-peers.json`): ddb-faiss beside LanceDB, a row a measure. */
export function peersBenchTable(summary = false): string {
  const bench = json<PeersBench>('bench/results-peers.json');
  const systems = ['ddb-faiss', 'lancedb-ivf-pq', 'lancedb-hnsw-sq'] as const;
  const rows = bench.sizes.flatMap((size) => {
    const at = num(size.vectors);
    const row = (name: string, value: (f: PeerFigures) => string) => [
      `${at}: ${name}`,
      ...systems.map((s) => value(size[s])),
    ];
    const searched = row(
      'search p50 / p99 (recall@10)',
      (f) => `${f.search_p50_ms} / ${f.search_p99_ms} ms (${f.recall_at_10})`,
    );
    const memory = row('search process RSS', (f) => `${num(f.search_rss_mb)} MB`);
    if (summary) return [searched, memory];
    return [
      searched,
      row('setting', (f) =>
        f.setting
          ? Object.entries(f.setting)
              .map(([name, value]) => `${name} ${value}`)
              .join(', ') || 'defaults'
          : 'its own (by segment size)',
      ),
      memory,
      row('+1,000 items: written / searchable', (f) => `${f.add_1k_written_s} / ${f.add_1k_searchable_s} s`),
      row(
        'p50 after +1,000 and 1,000 replaced (recall)',
        (f) => `${f.search_p50_ms_after_changes} ms (${f.recall_at_10_after_changes})`,
      ),
      row('p50 after optimize() (recall)', (f) =>
        f.search_p50_ms_after_optimize === undefined
          ? 'n/a'
          : `${f.search_p50_ms_after_optimize} ms (${f.recall_at_10_after_optimize})`,
      ),
      row('build / load', (f) => `${num(f.build_s)} s / ${f.load_s} s`),
      row('disk', (f) => `${num(f.disk_mb)} MB`),
    ];
  });
  const heading =
    `${day(bench.date)}, ${bench.machine.cores} cores, LanceDB ${bench.lancedb}, ` +
    `${bench.queries} STS dev queries, index layer only`;
  return `${heading}:\n\n${table(['size: measure', 'ddb-faiss', 'LanceDB IVF_PQ', 'LanceDB IVF_HNSW_SQ'], rows)}`;
}

interface ColdStartBench {
  date: string;
  embed: ProbeResult;
  sizes: ({ items: number; generation_mb: number } & Record<
    'search' | 'merge' | 'compact' | 'clear' | 'backfill',
    ProbeResult
  >)[];
}

/** `npm run bench:cold-start`'s figures (`bench/cold-start.json`): what each function needs, by index size. */
export function coldStartTable(): string {
  const bench = json<ColdStartBench>('bench/cold-start.json');
  const header = [
    'stage',
    ...bench.sizes.map((size) => `at ${num(size.items)} items (generation ${num(size.generation_mb, 0)} MB)`),
  ];
  const cell = (run: ProbeResult, search = false) =>
    search
      ? `model ${num(run.modelLoadS)} s + index ${num(run.indexLoadS)} s + first query ` +
        `${num(run.firstQueryMs, 1)} ms; peak ${num(run.peakRssMb)} MB`
      : `${num(run.seconds)} s; peak ${num(run.peakRssMb)} MB`;
  const rows = [
    ['search (cold)', ...bench.sizes.map((size) => cell(size.search, true))],
    ...(['merge', 'compact', 'clear', 'backfill'] as const).map((stage) => [
      stage,
      ...bench.sizes.map((size) => cell(size[stage])),
    ]),
    ['embed (one batch)', ...bench.sizes.map(() => cell(bench.embed))],
  ];
  return `${day(bench.date)}:\n\n${table(header, rows)}`;
}

/** `npm run bench:up`'s figures (`bench/results-up.json`): how soon `up` is ready, and what it holds. */
export function upBenchTable(): string {
  const bench = json<{
    date: string;
    rounds: number;
    fresh: { ready_s: number; up_rss_mb: number; children_rss_mb: number };
    restart: { ready_s: number; up_rss_mb: number; children_rss_mb: number };
  }>('bench/results-up.json');
  const row = (name: string, run: typeof bench.fresh) => [
    name,
    `${run.ready_s} s`,
    `${run.up_rss_mb} MB`,
    `${run.children_rss_mb} MB`,
  ];
  return `${day(bench.date)}, medians of ${bench.rounds}:\n\n${table(
    ['data directory', 'ready after', '`up` RSS', "DynamoDB Local's java RSS"],
    [row('fresh', bench.fresh), row('over the data it left', bench.restart)],
  )}`;
}

/** Each merge invocation's seconds and peak RSS of one backfill. */
const invocationsOf = (backfill: BackfillResults['sizes'][number]) => ({
  seconds: backfill.invocations.map((invocation) => invocation.seconds),
  peaks: backfill.invocations.map((invocation) => invocation.peak_rss_mb),
});

/** `npm run bench -- --backfill-windows`'s figures (`bench/results-backfill.json`): a row a size. */
export function backfillBenchTable(): string {
  const { sizes } = json<BackfillResults>('bench/results-backfill.json');
  const rows = sizes.map((size) => {
    const { seconds, peaks } = invocationsOf(size);
    return [
      `${num(size.items)} items`,
      `${day(size.date)}, commit ${code(size.commit)}`,
      String(size.invocations.length),
      `${Math.min(...seconds)} to ${Math.max(...seconds)} s`,
      `${num(Math.min(...peaks))} to ${num(Math.max(...peaks))} MB`,
      `${num(Math.round(seconds.reduce((sum, s) => sum + s, 0)))} s`,
    ];
  });
  return table(['backfill', 'run', 'merge invocations', 'each took', 'each peak RSS', 'merge in all'], rows);
}

/** The benchmarks page's section on backfills, from the README. */
const BACKFILL_BENCH_LINK =
  'docs/benchmarks.md#a-large-backfill-merged-a-window-an-invocation-npm-run-bench----backfill-windows';

/** Every generated section, by page and marker name. */
/** The cost bench's usage, read once for every cost table. */
let measured: MeasuredUsage | undefined;
const measuredUsage = (): MeasuredUsage => (measured ??= readMeasuredUsage());

export const GENERATED_SECTIONS: Readonly<Record<string, Readonly<Record<string, () => string>>>> = {
  'docs/configuration.md': { settings: settingsTable },
  'docs/architecture.md': { 'workflow-diagram': workflowDiagram, 'workflow-states': workflowStates },
  'docs/cost.md': {
    'cost-measured': () => measuredCostTable(measuredUsage()),
    'cost-workloads': () => workloadsTable(measuredUsage()),
    'cost-spacing': () => runSpacingTable(measuredUsage()),
    'cost-prices': pricesTable,
  },
  'README.md': {
    'cost-summary': () => workloadsSummary(measuredUsage()),
    'peers-summary': () => peersBenchTable(true),
    'scale-summary': scaleSummary,
  },
  'docs/benchmarks.md': {
    'bench-local': localBenchTable,
    'bench-capture': captureBenchTable,
    'bench-scale': scaleBenchTable,
    'bench-backfill': backfillBenchTable,
    'bench-peers': peersBenchTable,
    'bench-ann': annBenchTable,
    'bench-cold-start': coldStartTable,
    'bench-up': upBenchTable,
  },
};

const startMarker = (name: string): string => `<!-- generated:${name}:start (by \`npm run generate\`; do not edit) -->`;
const endMarker = (name: string): string => `<!-- generated:${name}:end -->`;

/** Thrown when a page lacks a section's markers. */
export class MissingSectionError extends Error {
  override readonly name = 'MissingSectionError';
}

/** The page with each of its generated sections rendered anew. @throws {MissingSectionError} */
export function withGeneratedSections(page: string, text: string): string {
  let result = text;
  for (const [name, render] of Object.entries(GENERATED_SECTIONS[page] ?? {})) {
    const [start, end] = [startMarker(name), endMarker(name)];
    const from = result.indexOf(start);
    const to = result.indexOf(end);
    if (from < 0 || to < from) throw new MissingSectionError(`${page} lacks the markers ${start} ... ${end}`);
    result = `${result.slice(0, from + start.length)}\n${render()}\n${result.slice(to)}`;
  }
  return result;
}

/** A section's markers with nothing between them, for a page to hold where the section goes. */
export const emptySection = (name: string): string => `${startMarker(name)}\n${endMarker(name)}`;
