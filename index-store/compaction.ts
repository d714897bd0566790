/**
 * Compaction: folding segments together and dropping their dead rows. Runs add small segments
 * and tombstones; left alone, searches would visit ever more segments and carry ever more dead
 * vectors. The policy is size-tiered and every step is bounded:
 *
 * - a segment whose dead rows pass {@link CompactionPolicy.deadRatio} is rewritten without them;
 * - the flat segments are folded together once there are more than `maxPerTier` of them or they
 *   hold more than {@link FLAT_MAX_ROWS} live rows together (a query scans them all);
 * - IVF segments are grouped in tiers by live rows (each tier `tierGrowth` times the last), and a
 *   tier with more than `maxPerTier` segments has its smallest folded together: a row is
 *   rewritten about once a tier, so the work per row grows with the log of the index's size;
 * - no fold writes more than `stepRows` rows, and one compaction step (one run's compact stage)
 *   writes at most `stepRows` in all: the rest waits for the next run. A segment of `stepRows`
 *   rows or more is never folded with others (only rewritten alone, to drop its dead rows).
 *
 * So a step's time and memory are bounded whatever the index's size (docs/architecture.md,
 * "Compaction in bounded steps"), and each fold is published on its own: a step that fails or
 * times out leaves the folds before it published and the index as it was otherwise.
 *
 * Folding streams the inputs group by group (each input is sorted by group, so is the output)
 * and reuses the training of an IVF segment of the same lists: an index is trained once a size.
 */
import { type GenerationMeta, type GenerationStore, newSegmentRef, type SegmentRef } from './generations.ts';
import type { ItemRows } from './index-entry.ts';
import { trainedIndexOf } from './index-writer.ts';
import { FLAT_MAX_ROWS, SCAN_CHUNK_ROWS, type VectorFile } from './segment.ts';
import type { AttributeColumns } from './attribute-columns.ts';
import type { LexicalIndex } from './lexical-index.ts';
import type { SegmentKeys } from './segment-keys.ts';

/** When compaction folds segments, and how much one step may write. */
export interface CompactionPolicy {
  /** A segment with more dead rows than this share is rewritten. */
  readonly deadRatio: number;
  /** A tier (the flat segments, or IVF segments of similar size) is folded once it has more segments than this. */
  readonly maxPerTier: number;
  /** Each IVF tier holds segments this many times larger than the last. */
  readonly tierGrowth: number;
  /**
   * Rows one compaction step writes at most, and the size at which a segment stops being folded
   * with others. Sized so that a step stays within about 5 minutes and its function's memory.
   */
  readonly stepRows: number;
}

/** The policy runs use: a step of 2,000,000 rows takes about 3 minutes here (docs/benchmarks.md). */
export const COMPACTION_POLICY: CompactionPolicy = {
  deadRatio: 0.2,
  maxPerTier: 4,
  tierGrowth: 4,
  stepRows: 2_000_000,
};

const live = (segment: SegmentRef): number => segment.rows - segment.dead;
const liveOf = (segments: readonly SegmentRef[]): number => segments.reduce((sum, segment) => sum + live(segment), 0);

/** A segment's size tier: 0 for flat ones, then 1, 2, ... by live rows. */
const tierOf = (segment: SegmentRef, policy: CompactionPolicy): number =>
  segment.kind === 'flat'
    ? 0
    : 1 + Math.max(0, Math.floor(Math.log(live(segment) / FLAT_MAX_ROWS) / Math.log(policy.tierGrowth)));

/**
 * The folds one compaction step makes, smallest first: each a set of segments to write as one,
 * together at most `policy.stepRows` rows. Empty when nothing needs folding. With `everything`,
 * every segment is folded into as few as the step allows (in several steps when they hold more).
 *
 * @example
 * ```ts
 * for (const inputs of compactionFolds(meta.segments)) {
 *   const { segments } = await foldSegments(store, meta.segments, inputs, dimensions);
 *   meta = store.publish(segments, meta.model, execution);
 * }
 * ```
 */
export function compactionFolds(
  segments: readonly SegmentRef[],
  { everything = false, policy = COMPACTION_POLICY }: { everything?: boolean; policy?: CompactionPolicy } = {},
): SegmentRef[][] {
  const candidates: SegmentRef[][] = [];
  const folding = new Set<SegmentRef>();
  const add = (inputs: SegmentRef[]): void => {
    const fresh = inputs.filter((segment) => !folding.has(segment));
    fresh.forEach((segment) => folding.add(segment));
    if (fresh.length > 0) candidates.push(fresh);
  };
  const foldable = [...segments].filter((segment) => live(segment) < policy.stepRows).sort((a, b) => live(a) - live(b));
  if (everything) {
    add(segments.filter((segment) => live(segment) >= policy.stepRows && segment.dead > 0).slice(0, 1));
    for (const inputs of packed(foldable, policy.stepRows)) if (inputs.length > 1 || inputs[0]!.dead > 0) add(inputs);
  } else {
    const flat = foldable.filter((segment) => segment.kind === 'flat');
    if (flat.length > policy.maxPerTier || liveOf(flat) > FLAT_MAX_ROWS) add(packed(flat, policy.stepRows)[0]!);
    const tiers = new Map<number, SegmentRef[]>();
    for (const segment of foldable.filter((segment) => segment.kind === 'ivf'))
      tiers.set(tierOf(segment, policy), [...(tiers.get(tierOf(segment, policy)) ?? []), segment]);
    for (const [, tier] of [...tiers].sort(([a], [b]) => a - b))
      if (tier.length > policy.maxPerTier) add(packed(tier, policy.stepRows)[0]!);
    for (const segment of segments) if (segment.dead > policy.deadRatio * segment.rows) add([segment]);
  }
  return withinBudget(
    candidates.sort((a, b) => liveOf(a) - liveOf(b)),
    policy.stepRows,
  );
}

/** What one compaction step did to an index. */
export interface CompactionStep {
  /** Folds made, each published as it finished. */
  readonly folds: number;
  readonly segmentsFolded: number;
  /** Live rows written into the new segments. */
  readonly rowsWritten: number;
  readonly deadDropped: number;
  /** The generation the last fold published; undefined when there was nothing to fold. */
  readonly published?: GenerationMeta;
}

/**
 * One bounded step of compaction of an index: the folds {@link compactionFolds} asks for, each
 * published as a generation as it finishes, while they fit `budget` rows (the first always).
 * A fold that fails leaves the generations before it as they were published.
 *
 * @example
 * ```ts
 * const step = await compactStep(store, { execution: run.execution });
 * console.log(`${step.folds} folds, ${step.rowsWritten} rows`);
 * ```
 */
export async function compactStep(
  store: GenerationStore,
  options: {
    readonly execution: string;
    readonly everything?: boolean;
    readonly policy?: CompactionPolicy;
    /** Rows this step may write (a share of a run's budget over several indexes). @default policy.stepRows */
    readonly budget?: number;
    /** Called with the rows written so far in this step. */
    readonly onRows?: (rows: number) => void;
    /** Called after each fold is published (to renew a lease). */
    readonly onPublished?: () => Promise<void>;
  },
): Promise<CompactionStep> {
  const { execution, everything, policy = COMPACTION_POLICY, onRows, onPublished } = options;
  const pointer = store.current();
  let meta = pointer && store.meta(pointer);
  if (!meta) return { folds: 0, segmentsFolded: 0, rowsWritten: 0, deadDropped: 0 };
  const planned = withinBudget(
    compactionFolds(meta.segments, { everything, policy }),
    options.budget ?? policy.stepRows,
  );
  let written = 0;
  let segmentsFolded = 0;
  let deadDropped = 0;
  for (const inputs of planned) {
    const base = written;
    const { segments } = await foldSegments(store, meta.segments, inputs, meta.model.dimensions, (rows) => {
      written = base + rows;
      onRows?.(written);
    });
    meta = store.publish(segments, meta.model, execution);
    segmentsFolded += inputs.length;
    deadDropped += inputs.reduce((sum, ref) => sum + ref.dead, 0);
    await onPublished?.();
  }
  return {
    folds: planned.length,
    segmentsFolded,
    rowsWritten: written,
    deadDropped,
    ...(planned.length > 0 ? { published: meta } : {}),
  };
}

/** Whole folds, in order, while they fit `budget` rows (the first always). */
function withinBudget(folds: readonly SegmentRef[][], budget: number): SegmentRef[][] {
  const kept: SegmentRef[][] = [];
  let rows = 0;
  for (const inputs of folds) {
    if (kept.length > 0 && rows + liveOf(inputs) > budget) break;
    kept.push(inputs);
    rows += liveOf(inputs);
  }
  return kept;
}

/**
 * The rows a compaction step of this index would write now (at most `budget`): what a run's
 * progress report counts to.
 */
export const pendingCompactionRows = (
  segments: readonly SegmentRef[],
  options: { everything?: boolean; policy?: CompactionPolicy; budget?: number } = {},
): number =>
  liveOf(
    withinBudget(
      compactionFolds(segments, options),
      options.budget ?? (options.policy ?? COMPACTION_POLICY).stepRows,
    ).flat(),
  );

/** Segments (sorted smallest first) packed in order into sets of at most `limit` live rows (a larger one alone). */
function packed(segments: readonly SegmentRef[], limit: number): SegmentRef[][] {
  const sets: SegmentRef[][] = [];
  let rows = Infinity;
  for (const segment of segments) {
    if (rows + live(segment) > limit) {
      sets.push([]);
      rows = 0;
    }
    sets.at(-1)!.push(segment);
    rows += live(segment);
  }
  return sets;
}

/**
 * Writes the live rows of `inputs` as one new segment, sorted by group.
 * @returns the generation's segments with the inputs replaced by the new one (not yet published)
 */
export async function foldSegments(
  store: GenerationStore,
  segments: readonly SegmentRef[],
  inputs: readonly SegmentRef[],
  dimensions: number,
  onRows: (rows: number) => void = () => undefined,
): Promise<{ segments: SegmentRef[]; folded: SegmentRef }> {
  // Every input is read verified (each vectors row against its checksum): a damaged segment
  // fails the fold with IndexDamagedError, never carries its damage into a new, checksummed one.
  const parts: FoldInput[] = [];
  try {
    for (const ref of inputs) {
      const dead = new Uint8Array(ref.rows);
      for (const row of store.deadRows(ref)) dead[row] = 1;
      const files = store.segmentFiles(ref);
      const keys = files.keys();
      const attributes = files.attributes(keys.items);
      const lexical = files.lexical(keys.rows);
      parts.push({ ref, keys, attributes, lexical, vectors: files.vectors({ rows: ref.rows, dimensions }), dead });
    }
    const rows = inputs.reduce((sum, ref) => sum + live(ref), 0); // every row of a dead item is dead
    const trained = trainedIndexOf(store, segments);
    const writer = store.segmentWriter({
      dimensions,
      rows,
      trainedIndex: trained,
      sample: (rows) => {
        const all = parts.flatMap((part) => liveRows(part, [0, part.ref.rows]));
        const count = Math.min(all.length, rows);
        const sample = new Float32Array(count * dimensions);
        for (let i = 0; i < count; i++) {
          const { part, row } = all[Math.floor((i * all.length) / count)]!;
          sample.set(part.vectors.read(row, row + 1), i * dimensions);
        }
        return sample;
      },
    });
    try {
      const groups = [...new Set(parts.flatMap((part) => part.keys.groupNames))].sort();
      let items: ItemRows[] = [];
      let chunk: Float32Array[] = [];
      let written = 0;
      const flush = async (): Promise<void> => {
        const vectors = new Float32Array(chunk.length * dimensions);
        chunk.forEach((vector, i) => vectors.set(vector, i * dimensions));
        writer.append(items, vectors);
        onRows((written += chunk.length));
        items = [];
        chunk = [];
        await new Promise((resolve) => setImmediate(resolve)); // let progress reports go out
      };
      for (const group of groups) {
        for (const part of parts) {
          const [start, end] = part.keys.groupRange(group);
          for (let from = start; from < end; from += SCAN_CHUNK_ROWS) {
            const to = Math.min(end, from + SCAN_CHUNK_ROWS);
            const vectors = part.vectors.read(from, to);
            for (let row = from; row < to; row++) {
              if (part.dead[row] === 1) continue;
              // An item is appended with its first row; its passages follow it, row by row.
              if (part.keys.firstRow(row) === row) {
                const [, end] = part.keys.itemRows(row);
                const terms = Array.from({ length: end - row }, (_, passage) => part.lexical.termsOf(row + passage));
                const attributes = part.attributes.valuesOf(part.keys.itemOf(row));
                items.push({ ...part.keys.itemAt(row), ...(attributes ? { attributes } : {}), terms });
              }
              chunk.push(vectors.subarray((row - from) * dimensions, (row - from + 1) * dimensions));
            }
            // Only whole items go out: an item's later passages may be in the next read.
            const atItemBoundary = to === end || part.keys.firstRow(to) === to;
            if (chunk.length >= SCAN_CHUNK_ROWS && atItemBoundary) await flush();
          }
        }
      }
      if (chunk.length > 0) await flush();
      const folded = newSegmentRef(writer.finish());
      const replaced = new Set(inputs.map((ref) => ref.id));
      return { segments: [...segments.filter((ref) => !replaced.has(ref.id)), folded], folded };
    } catch (error) {
      writer.abandon();
      throw error;
    }
  } finally {
    for (const part of parts) part.vectors.close();
  }
}

/** An input segment of a fold, open. */
interface FoldInput {
  readonly ref: SegmentRef;
  readonly keys: SegmentKeys;
  readonly attributes: AttributeColumns;
  readonly lexical: LexicalIndex;
  readonly vectors: VectorFile;
  readonly dead: Uint8Array;
}

/** The live rows of a part within a range. */
function liveRows<T extends { readonly dead: Uint8Array }>(part: T, [start, end]: readonly [number, number]) {
  const rows: { part: T; row: number }[] = [];
  for (let row = start; row < end; row++) if (part.dead[row] !== 1) rows.push({ part, row });
  return rows;
}
