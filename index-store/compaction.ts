/**
 * Compaction: folding segments into one and dropping their dead rows. Runs add small segments
 * and tombstones; left alone, searches would visit ever more segments and carry ever more dead
 * vectors. The policy folds:
 *
 * - a segment whose dead rows pass {@link COMPACTION_POLICY}.deadRatio, rewritten without them;
 * - the small (flat) segments together, once there are more than `maxSmallSegments` of them or
 *   they hold more than {@link FLAT_MAX_ROWS} live vectors together (they then become one IVF segment);
 * - the large (IVF) segments together, once there are more than `maxLargeSegments` of them.
 *
 * Folding streams the inputs group by group (each input is sorted by group, so is the output)
 * and reuses the training of the index's largest IVF segment: memory stays bounded and an index
 * is trained once, by its first large segment.
 */
import { type GenerationStore, newSegmentRef, type SegmentRef } from './generations.ts';
import type { ItemRows } from './index-entry.ts';
import { trainedIndexOf } from './index-writer.ts';
import { FLAT_MAX_ROWS, IVF_TRAINING_ROWS, SCAN_CHUNK_ROWS, type VectorFile } from './segment.ts';
import type { AttributeColumns } from './attribute-columns.ts';
import type { LexicalIndex } from './lexical-index.ts';
import type { SegmentKeys } from './segment-keys.ts';

/** When compaction folds segments. */
export interface CompactionPolicy {
  /** A segment with more dead rows than this share is rewritten. */
  readonly deadRatio: number;
  /** Small (flat) segments are folded once there are more than this many. */
  readonly maxSmallSegments: number;
  /** Large (IVF) segments are folded once there are more than this many. */
  readonly maxLargeSegments: number;
}

export const COMPACTION_POLICY: CompactionPolicy = { deadRatio: 0.2, maxSmallSegments: 4, maxLargeSegments: 4 };

const live = (segment: SegmentRef): number => segment.rows - segment.dead;

/**
 * The segments to fold into one, by the policy (all of them when `everything`); empty when
 * nothing needs it.
 *
 * @example
 * ```ts
 * const inputs = compactionInputs(meta.segments);
 * if (inputs.length > 0) await foldSegments(store, meta.segments, inputs, dimensions);
 * ```
 */
export function compactionInputs(
  segments: readonly SegmentRef[],
  everything = false,
  policy: CompactionPolicy = COMPACTION_POLICY,
): SegmentRef[] {
  if (everything) return segments.length > 1 || segments.some((segment) => segment.dead > 0) ? [...segments] : [];
  const inputs = new Set(segments.filter((segment) => segment.dead > policy.deadRatio * segment.rows));
  const small = segments.filter((segment) => segment.kind === 'flat');
  if (small.length > policy.maxSmallSegments || small.reduce((sum, segment) => sum + live(segment), 0) > FLAT_MAX_ROWS)
    small.forEach((segment) => inputs.add(segment));
  const large = segments.filter((segment) => segment.kind === 'ivf');
  if (large.length > policy.maxLargeSegments) large.forEach((segment) => inputs.add(segment));
  return segments.filter((segment) => inputs.has(segment));
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
      ...(trained ? { trainedIndex: trained } : {}),
      sample: () => {
        // Only an index with no IVF segment yet has no training to reuse; its segments are small.
        const all = parts.flatMap((part) => liveRows(part, [0, part.ref.rows]));
        const count = Math.min(all.length, IVF_TRAINING_ROWS);
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
