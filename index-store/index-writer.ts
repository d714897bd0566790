/**
 * The writer's side of a segmented index: finding where an item lives now (to count and
 * tombstone what a run replaces or removes), and writing a run's vectors as new segments.
 * Both cost what the run changes, plus reading the key filters and the key maps of the segments
 * that hold what it replaces or removes: never rewriting the index.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type GenerationStore, newSegmentRef, type SegmentRef } from './generations.ts';
import { entryKey, type IndexEntry, type ItemRows } from './index-entry.ts';
import type { KeyFilter } from './key-filter.ts';
import { listsOf, SEGMENT_FILES, type SegmentFiles } from './segment.ts';
import { byGroup, type SegmentKeys } from './segment-keys.ts';

/** Where a live item is: which of the generation's segments, which row. */
export interface ItemLocation {
  readonly segment: number;
  readonly row: number;
}

/**
 * The live items of a generation, looked up by key through its segments' key maps. A segment's
 * key map (and its dead rows) is read only when a lookup needs it: when its key filter says it
 * may hold the key (segments written before filters: always). Adding items to a large index
 * then reads no key map at all.
 */
export class HeldItems {
  private readonly filters: (KeyFilter | undefined)[];
  private readonly keys: (SegmentKeys | undefined)[];
  private readonly dead: (Set<number> | undefined)[];
  readonly size: number;

  constructor(
    private readonly store: GenerationStore,
    readonly segments: readonly SegmentRef[],
  ) {
    this.filters = segments.map((segment) => store.segmentFiles(segment).keyFilter());
    this.keys = segments.map(() => undefined);
    this.dead = segments.map(() => undefined);
    this.size = segments.reduce((sum, segment) => sum + segment.items - segment.deadItems, 0);
  }

  /** Where the item is alive (its first row), or undefined. */
  locate(group: string, id: string): ItemLocation | undefined {
    for (let segment = 0; segment < this.segments.length; segment++) {
      if (this.filters[segment]?.mayHold(group, id) === false) continue;
      const row = this.keysOf(segment).find(group, id);
      if (row >= 0 && !this.deadOf(segment)?.has(row)) return { segment, row };
    }
    return undefined;
  }

  has(key: string): boolean {
    const [group, id] = key.split('\u0000') as [string, string];
    return this.locate(group, id) !== undefined;
  }

  /** The item at a location: its keys and the version its vector was embedded from. */
  entryAt({ segment, row }: ItemLocation): IndexEntry {
    return this.keysOf(segment).entry(row);
  }

  /** Every row (passage) of the item at a location. */
  rowsAt({ segment, row }: ItemLocation): readonly [number, number] {
    return this.keysOf(segment).itemRows(row);
  }

  /**
   * Reads every segment's key map and dead rows now, rather than at the lookups that need them:
   * for a caller that must learn of damage at once.
   * @throws {IndexDamagedError} naming the first damaged file
   */
  readAll(): this {
    this.segments.forEach((_, segment) => {
      this.keysOf(segment);
      this.deadOf(segment);
    });
    return this;
  }

  /** How many segments' key maps lookups have read so far. */
  get keyMapsRead(): number {
    return this.keys.filter((keys) => keys !== undefined).length;
  }

  private keysOf(segment: number): SegmentKeys {
    return (this.keys[segment] ??= this.store.keys(this.segments[segment]!));
  }

  private deadOf(segment: number): Set<number> | undefined {
    const ref = this.segments[segment]!;
    if (ref.dead === 0) return undefined;
    return (this.dead[segment] ??= new Set(this.store.deadRows(ref)));
  }
}

/** The items an index held before a backfill, as far as they can still be read. */
export interface HeldBeforeBackfill {
  has(key: string): boolean;
  readonly size: number;
  /** Why the old index could not be read (damaged): the backfill then counts every item as added. */
  readonly unreadable?: string;
}

/**
 * The items a backfill replaces: the current generation's, read from its key maps, or from
 * `entries.json` when the index is still in ddb-faiss 0.1's layout (which a backfill rewrites).
 * Only counted, never needed: a backfill rebuilds from the table, so an old index that cannot be
 * read (damaged in any way) is reported as `unreadable` and replaced all the same.
 */
export function heldBeforeBackfill(store: GenerationStore): HeldBeforeBackfill {
  const currentFile = path.join(store.dir, 'CURRENT.json');
  if (!existsSync(currentFile)) return new Set<string>();
  try {
    const pointer = JSON.parse(readFileSync(currentFile, 'utf8')) as { manifest?: string; folder?: string };
    if (pointer.manifest !== undefined) return new HeldItems(store, store.meta(store.current()!).segments).readAll();
    const legacy = JSON.parse(
      readFileSync(path.join(store.dir, pointer.folder!, 'entries.json'), 'utf8'),
    ) as IndexEntry[];
    return new Set(legacy.map(entryKey));
  } catch (error) {
    return { has: () => false, size: 0, unreadable: (error as Error).message };
  }
}

/**
 * Tombstones every row (passage) of each held item among `keys`, segment by segment: the first
 * half of a change, before its new vectors are written.
 * @returns the held segments, with tombstone files added where rows died (not yet published)
 */
export function tombstoneItems(
  store: GenerationStore,
  held: HeldItems,
  keys: readonly Pick<IndexEntry, 'group' | 'id'>[],
): SegmentRef[] {
  const rows = held.segments.map((): number[] => []);
  const items = held.segments.map(() => 0);
  for (const key of keys) {
    const location = held.locate(key.group, key.id);
    if (!location) continue;
    const [first, end] = held.rowsAt(location);
    for (let row = first; row < end; row++) rows[location.segment]!.push(row);
    items[location.segment]! += 1;
  }
  return held.segments.map((segment, i) => store.addTombstones(segment, rows[i]!, items[i]!));
}

/**
 * Finds, among these segments, one whose trained, empty IVF index (`trained.faiss`) has a given
 * number of lists: new IVF segments of the same index and size reuse it rather than train again
 * (same model, same table), so an index is trained once a size.
 */
export function trainedIndexOf(
  store: GenerationStore,
  segments: readonly SegmentRef[],
): (lists: number) => SegmentFiles | undefined {
  const ivf = segments.filter((segment) => segment.kind === 'ivf').map((segment) => store.segmentFiles(segment));
  return (lists) => ivf.find((files) => files.has(SEGMENT_FILES.trained) && listsOf(files.info()) === lists);
}

/** One item to write, with its vectors: one per passage, row-major. */
export interface ItemVectors extends ItemRows {
  readonly vectors: Float32Array;
}

/** An item whose content is one passage of `length` characters (all content within the model's limit). */
export const onePassage = (entry: IndexEntry, vector: Float32Array, length = 0): ItemVectors => ({
  entry,
  passages: [[0, length]],
  vectors: vector,
});

/** Rows per segment a run writes at most: bounds the memory of building one (1.4 GB of vectors at 356 dimensions). */
export const MAX_SEGMENT_ROWS = 1_000_000;
/** Rows copied into one `append` call. */
const APPEND_ROWS = 10_000;

/**
 * Writes items as new segments (one, or several of at most {@link MAX_SEGMENT_ROWS}), rows
 * sorted by group. Large segments are IVF; they share one training, done on an evenly spaced
 * sample of the items (or reuse `trainedIndex`).
 * @returns the new segments, not yet published
 */
export async function writeSegments(
  store: GenerationStore,
  items: readonly ItemVectors[],
  dimensions: number,
  onRows: (rows: number) => void = () => undefined,
  trainedIndex?: (lists: number) => SegmentFiles | undefined,
): Promise<SegmentRef[]> {
  const sorted = [...items].sort((a, b) => byGroup(a.entry, b.entry));
  const pieces = Math.ceil(rowsOf(sorted) / MAX_SEGMENT_ROWS);
  const refs: SegmentRef[] = [];
  const trainedHere = new Map<number, SegmentFiles>(); // trained by an earlier piece of this write
  let written = 0;
  for (let piece = 0; piece < pieces; piece++) {
    const rows = sorted.slice(
      Math.floor((piece * sorted.length) / pieces),
      Math.floor(((piece + 1) * sorted.length) / pieces),
    );
    const writer = store.segmentWriter({
      dimensions,
      rows: rowsOf(rows),
      trainedIndex: (lists) => trainedHere.get(lists) ?? trainedIndex?.(lists),
      sample: (count) => sampleOf(sorted, dimensions, count),
    });
    try {
      for (let start = 0; start < rows.length; start += APPEND_ROWS) {
        const chunk = rows.slice(start, start + APPEND_ROWS);
        const vectors = new Float32Array(rowsOf(chunk) * dimensions);
        let at = 0;
        for (const item of chunk) {
          vectors.set(item.vectors, at);
          at += item.vectors.length;
        }
        writer.append(chunk, vectors);
        onRows((written += chunk.length));
        await new Promise((resolve) => setImmediate(resolve)); // let progress reports go out
      }
      const segment = writer.finish();
      const ref = newSegmentRef(segment);
      if (segment.info.lists !== undefined) trainedHere.set(segment.info.lists, store.segmentFiles(ref));
      refs.push(ref);
    } catch (error) {
      writer.abandon();
      throw error;
    }
  }
  return refs;
}

/**
 * A run's change to an index, the way merge makes it: a tombstone for each of `keys` the index
 * holds (replaced or removed), then new segments for `items` (added or replaced), reusing the
 * index's IVF training. Nothing is published yet.
 * @returns the generation's segments after the change
 *
 * @example
 * ```ts
 * const held = new HeldItems(store, meta.segments);
 * const segments = await applyChange(store, held, [...replaced, ...removed], replacedWithVectors, 356);
 * store.publish(segments, meta.model, execution);
 * ```
 */
export async function applyChange(
  store: GenerationStore,
  held: HeldItems,
  keys: readonly Pick<IndexEntry, 'group' | 'id'>[],
  items: readonly ItemVectors[],
  dimensions: number,
  onRows?: (rows: number) => void,
): Promise<SegmentRef[]> {
  const segments = tombstoneItems(store, held, keys);
  return [...segments, ...(await writeSegments(store, items, dimensions, onRows, trainedIndexOf(store, segments)))];
}

/** Up to `rows` vectors (each item's first passage), evenly spaced through the items. */
function sampleOf(items: readonly ItemVectors[], dimensions: number, rows: number): Float32Array {
  const count = Math.min(items.length, rows);
  const sample = new Float32Array(count * dimensions);
  for (let i = 0; i < count; i++)
    sample.set(items[Math.floor((i * items.length) / count)]!.vectors.subarray(0, dimensions), i * dimensions);
  return sample;
}

/** The rows (passages) of these items. */
const rowsOf = (items: readonly ItemRows[]): number => items.reduce((sum, item) => sum + item.passages.length, 0);
