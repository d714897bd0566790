/**
 * Compact stage: after merge, while the run still holds the writer lease, fold segments by the
 * compaction policy (`index-store/compaction.ts`) in the global index or in each group's index,
 * and publish the result as a new generation. What the index holds does not change, only how:
 * fewer segments, no dead vectors. When nothing passes a threshold the stage only says so.
 */
import { GenerationStore, indexedGroups, type GenerationMeta } from '../index-store/generations.ts';
import {
  type CompactionPolicy,
  compactionFolds,
  COMPACTION_POLICY,
  compactStep,
  pendingCompactionRows,
} from '../index-store/compaction.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import { renewLease } from './lease.ts';
import { indexStatusOf, type MergeResult, recordIndexStatus } from './merge.ts';
import { reportStageProgress } from './stage-progress.ts';

export interface CompactionResult {
  /** Indexes (the global one, or groups' own) that were compacted. */
  readonly compacted: number;
  /** Folds made (each published as it finished), segments folded, and the vectors the new segments hold. */
  readonly folds: number;
  readonly segmentsFolded: number;
  readonly vectorsWritten: number;
  /** Dead vectors dropped. */
  readonly deadDropped: number;
  /** Segments over every index, after. */
  readonly segments: number;
  /** Whether the policy still asks for folds: the next run's compact stage makes them. */
  readonly morePending: boolean;
  /** The newest generation, after. */
  readonly generation: number;
}

export interface CompactOptions {
  /** Fold every segment of every index into as few as the step allows, whatever the policy says. @default false */
  readonly everything?: boolean;
  /** When to fold, and the rows one step writes at most. @default COMPACTION_POLICY */
  readonly policy?: CompactionPolicy;
}

/**
 * Makes one bounded step of compaction (what the policy asks for, or everything), publishing
 * each fold as it finishes; what the step's budget leaves is made by the next run's.
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
  const policy = options.policy ?? COMPACTION_POLICY;
  await renewLease(context, run);
  const perGroup = config.indexLayout === 'per-group';
  const stores = (perGroup ? indexedGroups(config.efsRoot) : [undefined]).map(
    (group) => new GenerationStore(config.efsRoot, group),
  );
  const segmentsOf = (store: GenerationStore) => {
    const pointer = store.current();
    return pointer ? store.meta(pointer).segments : [];
  };
  const step = { everything: options.everything, policy };
  const total = Math.min(
    policy.stepRows,
    stores.reduce((sum, store) => sum + pendingCompactionRows(segmentsOf(store), step), 0),
  );
  const progress = reportStageProgress(context, run, 'compact', total, 'vectors compacted');
  // One budget over every index (the global one, or each group's): the step is bounded as a whole.
  let done = 0;
  let compacted = 0;
  let folds = 0;
  let segmentsFolded = 0;
  let deadDropped = 0;
  let latest: GenerationMeta | undefined;
  for (const store of stores) {
    const budget = policy.stepRows - done;
    if (budget <= 0) break;
    const base = done;
    const result = await compactStep(store, {
      ...step,
      execution: run.execution,
      budget,
      onRows: (rows) => progress.update((done = base + rows)),
      onPublished: () => renewLease(context, run),
    });
    done = base + result.rowsWritten;
    if (result.published) {
      latest = result.published;
      compacted += 1;
    }
    folds += result.folds;
    segmentsFolded += result.segmentsFolded;
    deadDropped += result.deadDropped;
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
  if (compacted > 0 && latest) {
    const status = indexStatusOf(config.efsRoot, perGroup, latest);
    await recordIndexStatus(context, { ...status, change: { ...pickChange(merge), execution: run.execution } });
  }
  return {
    compacted,
    folds,
    segmentsFolded,
    vectorsWritten: done,
    deadDropped,
    segments: after.reduce((sum, meta) => sum + meta.segments.length, 0),
    morePending: stores.some((store) => compactionFolds(segmentsOf(store), step).length > 0),
    generation: latest?.generation ?? 0,
  };
}

const pickChange = ({ added, replaced, removed }: Pick<MergeResult, 'added' | 'replaced' | 'removed'>) => ({
  added,
  replaced,
  removed,
});
