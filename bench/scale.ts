/**
 * `npm run bench -- --scale [--scale-vectors=N]`: ddb-faiss at 1,000,000 items (the default) or
 * more (10,000,000: about an hour here). The index is built through the real merge stage in
 * several runs (the base in runs of at most a million, then 1,000 new items and five more runs of
 * 1,000 in the same process, as a warm container, then three runs each replacing 1,000), and
 * compacted in bounded steps until every segment is folded as far as a step allows (`compactIndex`
 * with `everything`); each merge and compaction step runs in a fresh process (bench/scale-step.ts),
 * as a Lambda invocation would, for its own time and peak memory.
 * Vectors are written as shard files directly (embedding is measured by the main bench) and kept
 * on disk, not in memory. Then search in a fresh process (bench/scale-probe.ts: load time, each
 * query's embedding, index search and read-back timed, peak RSS) and recall@10 against exact
 * search of the live vectors, streamed a chunk at a time, for 200 STS dev sentences (not in the
 * index). The table holds the first 1,000,000 items (all of them below that; `--scale-table-items`
 * sets it): the read-back of a larger index is measured against it (see the probe). DynamoDB
 * Local keeps that table's SQLite file on tmpfs (`/dev/shm`) where there is one: filling a million
 * items on this machine's disk took most of an hour (about 300 writes a second by the end), on
 * tmpfs minutes; reads come from the page cache either way. Results go to
 * `bench/results-scale.json` by size, beside the other sizes measured.
 */
import { startBenchStack } from './bench-stack.ts';
import { type BenchProvenance, benchProvenance } from './provenance.ts';
import { execFile } from 'node:child_process';
import { closeSync, openSync, readdirSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { batchWriteItems } from '../aws/dynamodb-batch.ts';
import { COMPACTION_POLICY } from '../index-store/compaction.ts';
import { GenerationStore, type SegmentRef } from '../index-store/generations.ts';
import { MAX_SEGMENT_ROWS } from '../index-store/index-writer.ts';
import { FLAT_MAX_ROWS, IVF_TIERS, SEGMENT_FILES } from '../index-store/segment.ts';
import type { RunInfo } from '../indexer/context.ts';
import { type ShardDescriptor, writeShard } from '../indexer/run-files.ts';
import { readSts } from '../models/sts.ts';
import { SEARCH_PROCESS_ENV } from '../search/process-env.ts';
import { embedTexts } from './embed-texts.ts';
import { seededRandom } from './random.ts';
import type { ScaleProbeResult, SweepSetting } from './scale-probe.ts';
import type { ScaleStep, ScaleStepResult } from './scale-step.ts';
import type { TruthPart } from './scale-truth.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const INCREMENT = 1_000;
const REPLACING_RUNS = 3;
/** Runs of +1,000 new items merged after the first in the same process: a warm container's merges. */
const WARM_RUNS = 5;
const QUERIES = 200;
const SHARD_ROWS = 10_000;
/** Items in the table that search reads back from, by default (all of them in a smaller index). */
export const TABLE_ITEMS = 1_000_000;
/** Rows of the live vectors compared with a query at once when finding the exact answers. */
const TRUTH_CHUNK_ROWS = 500_000;

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const bytesUnder = (dir: string, match: (file: string) => boolean): number =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && match(entry.name))
    .reduce((sum, entry) => sum + statSync(path.join(entry.parentPath, entry.name)).size, 0);

/**
 * Runs a bench script of this folder in a fresh process (asynchronously: the local stack it talks
 * to runs in this one) and parses the JSON line it prints last.
 */
export async function lastJsonLineOf<T>(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<T> {
  const { stdout } = await run(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', path.join(HERE, script), ...args],
    // eslint-disable-next-line no-restricted-properties -- passed through to the child, not read
    { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/** One size's figures (`bench/results-scale.json` holds one a size). */
export interface ScaleResult extends BenchProvenance {
  readonly vectors: number;
  readonly dimensions: number;
  readonly table_items: number;
  readonly index_plan: {
    readonly flat_max_rows: number;
    readonly ivf_tiers: readonly {
      /** null: no bound (JSON's Infinity). */
      readonly upToRows: number | null;
      readonly lists: number;
      readonly probes: number;
      /** Absent before segments searched beside others visited fewer lists. */
      readonly sharedProbes?: number;
      readonly rerank: number;
    }[];
    readonly compaction_step_rows: number;
  };
  readonly segments_searched: number;
  readonly search_p50_ms: number;
  readonly search_p99_ms: number;
  readonly index_search_p50_ms: number;
  readonly index_search_p99_ms: number;
  /** faiss's part of the index search (every segment's candidates; absent before it was timed apart). */
  readonly index_candidates_p50_ms?: number;
  /** The re-rank's part: its rows announced, read and scored (absent before it was timed apart). */
  readonly index_rerank_p50_ms?: number;
  /** The key maps' part: the best hits named, their pages announced and read (absent before it was timed apart). */
  readonly index_keys_p50_ms?: number;
  readonly embed_p50_ms: number;
  readonly read_back_p50_ms: number;
  /** Hits whose exact score reaches the exact answer's tenth (ties count), a share of 10 a query. */
  readonly recall_at_10: number;
  /** Hits that are rows of the exact answer (absent before ties were counted). */
  readonly recall_at_10_by_id?: number;
  readonly recall_queries: number;
  /**
   * The same queries searched again after the timed ones, every IVF segment visiting this many
   * lists (or `'own'`: its own for its share of the rows searched) and, where `rerank` is given,
   * re-ranking that many candidates instead of the index's own depth, the settings taking turns
   * query by query (absent before it was measured).
   */
  readonly probe_sweep?: readonly (SweepSetting & {
    readonly index_search_p50_ms: number;
    readonly index_search_p99_ms: number;
    readonly recall_at_10: number;
  })[];
  readonly merge_base_runs_s: readonly number[];
  readonly merge_1k_s: number;
  /**
   * +1,000 new items merged by a process that has merged before (a warm Lambda container), each of
   * {@link WARM_RUNS} runs (absent before it was measured).
   */
  readonly merge_1k_warm_s?: readonly number[];
  readonly merge_1k_replacing_s: readonly number[];
  readonly compaction_steps_s: readonly number[];
  readonly longest_step_s: number;
  readonly index_load_s: number;
  readonly search_rss_mb: number;
  readonly merge_peak_rss_mb: number;
  readonly merge_1k_peak_rss_mb: number;
  readonly compaction_peak_rss_mb: number;
  readonly index_bytes_per_vector: number;
  readonly disk_bytes_per_vector: number;
}

/** The key of the bench's item `i` (row `i` of the index, and of the table when it holds it). */
export const itemKey = (i: number): { group: string; id: string } => ({ group: `g${i % 16}`, id: `s${i}` });

/** Scores this close to the exact answer's tenth are ties (float32 sums over a few hundred dimensions). */
const TIE = 1e-5;

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, j) => sum + x * b[j]!, 0);

/** The live vectors, row by row, in a file: a 10M index's (14 GB) do not fit beside the rest. */
class LiveVectors {
  private readonly fd: number;
  constructor(
    readonly file: string,
    private readonly d: number,
  ) {
    this.fd = openSync(file, 'w+');
  }
  write(row: number, vectors: Float32Array): void {
    const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    for (let done = 0; done < bytes.length;)
      done += writeSync(this.fd, bytes, done, bytes.length - done, row * this.d * 4 + done);
  }
  read(from: number, to: number): Float32Array {
    const bytes = Buffer.alloc((to - from) * this.d * 4);
    for (let done = 0; done < bytes.length;)
      done += readSync(this.fd, bytes, done, bytes.length - done, from * this.d * 4 + done);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/**
 * @param count the index size: 1,000,000 by default, 10,000,000 for the large figures, smaller to try it out
 * @param tableItems items written to the table for the read-back (at most `count`)
 */
export async function benchScale(
  stsDirectory: string,
  count = 1_000_000,
  tableItemsWanted = TABLE_ITEMS,
): Promise<ScaleResult> {
  const started = performance.now();
  const log = (message: string) =>
    console.log(`[scale ${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
  const { dir, config, stack, model, embedder, close } = await startBenchStack('ddb-faiss-bench-scale-', {
    tableOnTmpfs: true,
  });
  const live = new LiveVectors(path.join(dir, 'live.f32'), model.dimensions);
  try {
    const d = model.dimensions;
    const tableItems = Math.min(count, tableItemsWanted);
    const endpoints = JSON.stringify(stack.info.endpoints);

    // Texts: two STS train sentences each, drawn with a fixed seed; the replacing runs draw new ones.
    const train = readSts(path.join(stsDirectory, 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
    const draw = seededRandom(2026);
    const text = () => `${train[Math.floor(draw() * train.length)]!} ${train[Math.floor(draw() * train.length)]!}`;
    const embed = (texts: readonly string[]) => embedTexts(embedder, texts);
    /** Items in the table, for the read-back (only the first `tableItems`). */
    const put = async (rows: readonly number[], texts: readonly string[]) => {
      const requests: WriteRequest[] = rows.flatMap((i, at) =>
        i < tableItems
          ? [
              {
                PutRequest: {
                  Item: {
                    [config.groupAttribute]: { S: itemKey(i).group },
                    [config.idAttribute]: { S: itemKey(i).id },
                    [config.contentAttribute]: { S: texts[at]! },
                  },
                },
              },
            ]
          : [],
      );
      const written = await batchWriteItems(stack.clients.dynamodb, config.tableName, requests, 16);
      if (written.failed.length > 0) throw new Error(`DynamoDB refused ${written.failed.length} bench items`);
    };
    for (let from = 0; from < count; from += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, count - from) }, (_, i) => from + i);
      const texts = rows.map(text);
      live.write(from, await embed(texts));
      await put(rows, texts);
      if ((from / 10_000) % 100 === 99) log(`embedded ${(from + 10_000).toLocaleString('en')} texts`);
    }
    log(`${count.toLocaleString('en')} texts embedded, the first ${tableItems.toLocaleString('en')} in the table`);

    // Each step in a fresh process, as a Lambda invocation.
    let runs = 0;
    const step = (command: ScaleStep) =>
      lastJsonLineOf<ScaleStepResult>('scale-step.ts', [dir, endpoints, JSON.stringify(command)]);
    const newRun = (): RunInfo => {
      const execution = `bench-scale-${++runs}`;
      return {
        mode: 'incremental',
        execution,
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:bench:${execution}`,
      };
    };
    /** A run of the given rows: their live vectors written as its shards. */
    const runOf = (rows: readonly number[]): { run: RunInfo; shards: ShardDescriptor[] } => {
      const info = newRun();
      const shards: ShardDescriptor[] = [];
      for (let start = 0; start < rows.length; start += SHARD_ROWS) {
        const chunk = rows.slice(start, start + SHARD_ROWS);
        const vectors = new Float32Array(chunk.length * d);
        chunk.forEach((i, at) => vectors.set(live.read(i, i + 1), at * d));
        const entries = chunk.map((i, row) => ({
          ...itemKey(i),
          version: runs,
          kind: 'vector' as const,
          row,
          passages: [[0, 0]] as const,
        }));
        shards.push(writeShard(config.efsRoot, info.execution, shards.length, model.checksum, entries, vectors));
      }
      return { run: info, shards };
    };
    /** A run's merge in a fresh process; then `warmRuns` merged in the same process, each timed. */
    const runMerge = (rows: readonly number[], warmRuns: readonly (readonly number[])[] = []) =>
      step({ kind: 'merge', model, ...runOf(rows), warmRuns: warmRuns.map(runOf) });

    // The base, in runs of at most a million items (a run's segment is at most MAX_SEGMENT_ROWS).
    const baseCount = count - INCREMENT * (1 + WARM_RUNS);
    const baseRuns: ScaleStepResult[] = [];
    for (let from = 0; from < baseCount; from += MAX_SEGMENT_ROWS) {
      const rows = Array.from({ length: Math.min(MAX_SEGMENT_ROWS, baseCount - from) }, (_, i) => from + i);
      baseRuns.push(await runMerge(rows));
      log(
        `base run ${baseRuns.length}: ${rows.length.toLocaleString('en')} items ` +
          `in ${baseRuns.at(-1)!.seconds.toFixed(1)} s`,
      );
    }
    const newRows = (run: number) => Array.from({ length: INCREMENT }, (_, i) => baseCount + run * INCREMENT + i);
    const added = await runMerge(
      newRows(0),
      Array.from({ length: WARM_RUNS }, (_, run) => newRows(run + 1)),
    );
    const warm = added.warmSeconds ?? [];
    log(`${INCREMENT} new items merged in ${added.seconds.toFixed(2)} s; then, warm: ${warm.map(String).join(', ')} s`);
    const replacing: ScaleStepResult[] = [];
    for (let r = 0; r < REPLACING_RUNS; r++) {
      const rows = [...new Set(Array.from({ length: INCREMENT }, () => Math.floor(draw() * baseCount)))];
      const texts = rows.map(text);
      const vectors = await embed(texts);
      rows.forEach((i, at) => live.write(i, vectors.subarray(at * d, (at + 1) * d)));
      await put(rows, texts);
      replacing.push(await runMerge(rows));
    }
    log(`three runs replacing ${INCREMENT} items each: ${replacing.map((s) => s.seconds.toFixed(2)).join(', ')} s`);

    // Compaction in bounded steps, one a run, until nothing is left to fold.
    const compactions: ScaleStepResult[] = [];
    for (;;) {
      const compacted = await step({ kind: 'compact', run: newRun(), model, everything: true });
      compactions.push(compacted);
      log(`compaction step ${compactions.length}: ${JSON.stringify(compacted)}`);
      if (compacted.result['morePending'] !== true) break;
    }

    // Search in a fresh process; recall against exact search of the same live vectors.
    const questions = readSts(path.join(stsDirectory, 'sts-dev.csv'))
      .map((pair) => pair.first)
      .slice(0, QUERIES);
    const queriesFile = path.join(dir, 'queries.json');
    writeFileSync(queriesFile, JSON.stringify(questions));
    // Asynchronously: the local DynamoDB the probe reads back from runs in this process.
    // Started as the search function is, with its environment.
    const probe = await lastJsonLineOf<ScaleProbeResult>(
      'scale-probe.ts',
      [dir, stack.info.endpoints.dynamodb!, queriesFile, String(tableItems)],
      SEARCH_PROCESS_ENV,
    );
    const whole = probe.indexMs.map((ms, q) => ms + probe.embedMs[q]! + probe.hydrateMs[q]!);
    log(`search: loaded in ${probe.indexLoadS.toFixed(2)} s, whole query p50 ${percentile(whole, 50).toFixed(2)} ms`);

    // Exact answers, a part of the live vectors at a time, each part in a process of its own.
    const queryVectors = await embed(questions);
    const queryVectorsFile = path.join(dir, 'queries.f32');
    writeFileSync(
      queryVectorsFile,
      new Uint8Array(queryVectors.buffer, queryVectors.byteOffset, queryVectors.byteLength),
    );
    const best = questions.map((): { row: number; score: number }[] => []);
    for (let from = 0; from < count; from += TRUTH_CHUNK_ROWS) {
      const to = Math.min(count, from + TRUTH_CHUNK_ROWS);
      const part = await lastJsonLineOf<TruthPart>('scale-truth.ts', [
        live.file,
        String(d),
        String(from),
        String(to),
        queryVectorsFile,
      ]);
      part.forEach((hits, q) => {
        best[q] = [...best[q]!, ...hits.map(([row, score]) => ({ row, score }))]
          .sort((a, b) => b.score - a.score)
          .slice(0, 10);
      });
    }
    // Many of the texts are the same two sentences (10M draws of two of ~11,500): a hit tied with
    // the exact answer's tenth score is as right as the row exact search happened to list.
    const recallOf = (hitRows: readonly (readonly number[])[]) => {
      let found = 0;
      let foundById = 0;
      hitRows.forEach((rows, q) => {
        const truth = new Set(best[q]!.map((hit) => hit.row));
        const tenth = best[q]!.at(-1)!.score;
        const query = queryVectors.subarray(q * d, (q + 1) * d);
        foundById += rows.filter((row) => truth.has(row)).length;
        found += rows.filter((row) => truth.has(row) || dot(query, live.read(row, row + 1)) >= tenth - TIE).length;
      });
      return { recall: found / (QUERIES * 10), recallById: foundById / (QUERIES * 10) };
    };
    const { recall, recallById } = recallOf(probe.hitRows);
    log(`recall@10 ${recall.toFixed(4)} against exact search (${recallById.toFixed(4)} by row)`);
    const probeSweep = probe.sweep.map(({ probes, rerank, indexMs, hitRows }) => ({
      probes,
      ...(rerank === undefined ? {} : { rerank }),
      index_search_p50_ms: round(percentile(indexMs, 50)),
      index_search_p99_ms: round(percentile(indexMs, 99)),
      recall_at_10: round(recallOf(hitRows).recall, 4),
    }));
    log(`probe sweep: ${JSON.stringify(probeSweep)}`);

    // The current generation's segments: on disk, and what a search holds in memory once open (IVF
    // codes, row checksums, flat segments' vectors, their index; key maps whole where a segment has
    // no page checksums, else those, its pages then read as hits need them).
    const store = new GenerationStore(config.efsRoot);
    const segments = store.meta(store.current()!).segments;
    const fileBytes = (match: (segment: SegmentRef, file: string) => boolean) =>
      segments.reduce(
        (sum, segment) =>
          sum + bytesUnder(path.join(store.dir, 'segments', segment.id), (file) => match(segment, file)),
        0,
      );
    const memoryBytes = fileBytes(
      (segment, file) =>
        ([SEGMENT_FILES.index, SEGMENT_FILES.rowChecksums, SEGMENT_FILES.keyPageChecksums] as string[]).includes(
          file,
        ) ||
        (file === SEGMENT_FILES.keys && segment.checksums?.[SEGMENT_FILES.keyPageChecksums] === undefined) ||
        (segment.kind === 'flat' && file === SEGMENT_FILES.vectors),
    );
    const diskBytes = fileBytes(() => true);
    const merges = [...baseRuns, added, ...replacing];
    const steps = [...merges, ...compactions];
    const seconds = (results: readonly ScaleStepResult[]) => results.map((result) => round(result.seconds));
    const peakOf = (results: readonly ScaleStepResult[]) => Math.max(...results.map((result) => result.peakRssMb));
    return {
      ...benchProvenance(),
      vectors: count,
      dimensions: d,
      table_items: tableItems,
      index_plan: {
        flat_max_rows: FLAT_MAX_ROWS,
        ivf_tiers: IVF_TIERS.map(({ kind: _, ...tier }) => tier),
        compaction_step_rows: COMPACTION_POLICY.stepRows,
      },
      segments_searched: probe.segments,
      search_p50_ms: round(percentile(whole, 50)),
      search_p99_ms: round(percentile(whole, 99)),
      index_search_p50_ms: round(percentile(probe.indexMs, 50)),
      index_search_p99_ms: round(percentile(probe.indexMs, 99)),
      index_candidates_p50_ms: round(percentile(probe.candidatesMs, 50)),
      index_rerank_p50_ms: round(percentile(probe.rerankMs, 50)),
      index_keys_p50_ms: round(percentile(probe.keysMs, 50)),
      embed_p50_ms: round(percentile(probe.embedMs, 50)),
      read_back_p50_ms: round(percentile(probe.hydrateMs, 50)),
      recall_at_10: round(recall, 4),
      recall_at_10_by_id: round(recallById, 4),
      recall_queries: QUERIES,
      probe_sweep: probeSweep,
      merge_base_runs_s: seconds(baseRuns),
      merge_1k_s: round(added.seconds, 3),
      merge_1k_warm_s: warm.map((seconds) => round(seconds, 3)),
      merge_1k_replacing_s: replacing.map((result) => round(result.seconds, 3)),
      compaction_steps_s: seconds(compactions),
      longest_step_s: round(Math.max(...steps.map((result) => result.seconds)), 1),
      index_load_s: round(probe.indexLoadS),
      search_rss_mb: probe.peakRssMb,
      merge_peak_rss_mb: peakOf(merges),
      merge_1k_peak_rss_mb: added.peakRssMb,
      compaction_peak_rss_mb: peakOf(compactions),
      index_bytes_per_vector: round(memoryBytes / count, 1),
      disk_bytes_per_vector: round(diskBytes / count, 1),
    };
  } finally {
    live.close();
    await close();
  }
}
