/**
 * `npm run bench -- --backfill-windows[=N]`: a backfill of N items (3,000,000 by default) through
 * the merge stage, each invocation in a fresh process as a Lambda would run it (bench/scale-step.ts),
 * for its own time and peak memory. A run that large is merged a window of at most
 * `MERGE_WINDOW_ROWS` rows an invocation: what this shows is that an invocation's time and memory
 * are one window's, whatever the run's size. The vectors are seeded random unit vectors of the
 * default model's dimensions (what is merged, not what it means, is measured); the index starts
 * empty, as a first backfill of a large table does.
 */
import { MERGE_WINDOW_ROWS } from '../indexer/merge.ts';
import type { RunInfo } from '../indexer/context.ts';
import { type ShardDescriptor, writeShard } from '../indexer/run-files.ts';
import { startBenchStack } from './bench-stack.ts';
import { type BenchProvenance, benchProvenance } from './provenance.ts';
import { randomUnitVectors } from './random.ts';
import { lastJsonLineOf } from './scale.ts';
import type { ScaleStep, ScaleStepResult } from './scale-step.ts';

/** Items a shard holds: an embed batch's worth, as the scale bench writes them. */
const SHARD_ROWS = 10_000;

/** One size's backfill through the merge stage. */
export interface BackfillWindowsResult extends BenchProvenance {
  readonly items: number;
  readonly dimensions: number;
  readonly window_rows: number;
  /** Each merge invocation, in order: its time and its process's peak RSS. */
  readonly invocations: readonly { readonly seconds: number; readonly peak_rss_mb: number }[];
  readonly generation: number;
  readonly vectors_published: number;
}

/** `bench/results-backfill.json`: one result a size. */
export interface BackfillResults {
  readonly sizes: readonly BackfillWindowsResult[];
}

export async function benchBackfillWindows(items = 3_000_000): Promise<BackfillWindowsResult> {
  const started = performance.now();
  const log = (message: string) =>
    console.log(`[backfill ${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
  const { dir, config, stack, model, close } = await startBenchStack('ddb-faiss-bench-backfill-');
  try {
    const run: RunInfo = {
      mode: 'backfill',
      execution: 'bench-backfill',
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:bench:bench-backfill',
    };
    const shards: ShardDescriptor[] = [];
    for (let from = 0; from < items; from += SHARD_ROWS) {
      const count = Math.min(SHARD_ROWS, items - from);
      const vectors = randomUnitVectors(count, model.dimensions, from + 1);
      const entries = Array.from({ length: count }, (_, row) => ({
        group: `g${(from + row) % 16}`,
        id: `s${from + row}`,
        version: 1,
        kind: 'vector' as const,
        row,
        passages: [[0, 0]] as const,
      }));
      shards.push(writeShard(config.efsRoot, run.execution, shards.length, model.checksum, entries, vectors));
    }
    log(`${items.toLocaleString('en')} items written as ${shards.length} shards`);
    const endpoints = JSON.stringify(stack.info.endpoints);
    const step: ScaleStep = { kind: 'merge', run, model, shards };
    const invocations: ScaleStepResult[] = [];
    for (;;) {
      const invocation = await lastJsonLineOf<ScaleStepResult>('scale-step.ts', [dir, endpoints, JSON.stringify(step)]);
      invocations.push(invocation);
      log(`merge invocation ${invocations.length}: ${invocation.seconds.toFixed(1)} s, ${invocation.peakRssMb} MB`);
      if (invocation.result['complete'] !== false) break;
    }
    const last = invocations.at(-1)!.result as { generation: number; vectors: number };
    return {
      ...benchProvenance(),
      items,
      dimensions: model.dimensions,
      window_rows: MERGE_WINDOW_ROWS,
      invocations: invocations.map((invocation) => ({
        seconds: Number(invocation.seconds.toFixed(2)),
        peak_rss_mb: invocation.peakRssMb,
      })),
      generation: last.generation,
      vectors_published: last.vectors,
    };
  } finally {
    await close();
  }
}
