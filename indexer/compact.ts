/**
 * Compact stage: after merge, while the run still holds the writer lease, fold segments by the
 * compaction policy (`index-store/compaction.ts`) in the global index or in each group's index,
 * and publish the result as a new generation. What the index holds does not change, only how:
 * fewer segments, no dead vectors. When nothing passes a threshold the stage only says so.
 */
import { GenerationStore, indexedGroups, type GenerationMeta } from '../index-store/generations.ts';
import { compactionInputs, foldSegments } from '../index-store/compaction.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import { renewLease } from './lease.ts';
import { indexStatusOf, type MergeResult, recordIndexStatus } from './merge.ts';
import { reportStageProgress } from './stage-progress.ts';

export interface CompactionResult {
  /** Indexes (the global one, or groups' own) that were compacted. */
  readonly compacted: number;
  /** Segments folded, and the vectors the new segments hold. */
  readonly segmentsFolded: number;
  readonly vectorsWritten: number;
  /** Dead vectors dropped. */
  readonly deadDropped: number;
  /** Segments over every index, after. */
  readonly segments: number;
  /** The newest generation, after. */
  readonly generation: number;
}

export interface CompactOptions {
  /** Fold every segment of every index into one, whatever the policy says. @default false */
  readonly everything?: boolean;
}

/**
 * Compacts what the policy asks for (or everything) and publishes each compacted index.
 * @example
 * ```ts
 * const result = await compactIndex(context, run, model, merge);
 * if (result.compacted > 0) console.log(`${result.segmentsFolded} segments folded`);
 * ```
 */
export async function compactIndex(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  merge: Pick<MergeResult, 'added' | 'replaced' | 'removed'>,
  options: CompactOptions = {},
): Promise<CompactionResult> {
  const { config } = context;
  await renewLease(context, run);
  const perGroup = config.indexLayout === 'per-group';
  const stores = (perGroup ? indexedGroups(config.efsRoot) : [undefined]).map(
    (group) => new GenerationStore(config.efsRoot, group),
  );
  const plans = stores.flatMap((store) => {
    const pointer = store.current();
    if (!pointer) return [];
    const meta = store.meta(pointer);
    const inputs = compactionInputs(meta.segments, options.everything);
    return inputs.length > 0 ? [{ store, meta, inputs }] : [];
  });
  const total = plans.reduce((sum, plan) => sum + plan.inputs.reduce((n, ref) => n + ref.rows - ref.dead, 0), 0);
  const progress = reportStageProgress(context, run, 'compact', total, 'vectors compacted');
  let done = 0;
  let segmentsFolded = 0;
  let deadDropped = 0;
  let latest: GenerationMeta | undefined;
  for (const { store, meta, inputs } of plans) {
    const base = done;
    const { segments } = await foldSegments(store, meta.segments, inputs, model.dimensions, (rows) =>
      progress.update((done = base + rows)),
    );
    await renewLease(context, run);
    latest = store.publish(segments, meta.model, run.execution);
    segmentsFolded += inputs.length;
    deadDropped += inputs.reduce((sum, ref) => sum + ref.dead, 0);
  }
  await progress.finish(total);
  const after = stores.flatMap((store) => {
    const pointer = store.current();
    return pointer ? [store.meta(pointer)] : [];
  });
  latest ??= after.reduce<GenerationMeta | undefined>(
    (newest, meta) => (!newest || meta.generation > newest.generation ? meta : newest),
    undefined,
  );
  if (plans.length > 0 && latest) {
    const status = indexStatusOf(config.efsRoot, perGroup, latest);
    await recordIndexStatus(context, { ...status, change: { ...pickChange(merge), execution: run.execution } });
  }
  return {
    compacted: plans.length,
    segmentsFolded,
    vectorsWritten: done,
    deadDropped,
    segments: after.reduce((sum, meta) => sum + meta.segments.length, 0),
    generation: latest?.generation ?? 0,
  };
}

const pickChange = ({ added, replaced, removed }: Pick<MergeResult, 'added' | 'replaced' | 'removed'>) => ({
  added,
  replaced,
  removed,
});
