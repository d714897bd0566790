/**
 * A published generation opened for search: its segments, each with its dead rows, searched
 * one by one and their candidates merged by exact score. Segments are immutable, so a reader
 * moving to a newer generation reopens only the segments it has not opened yet (a run that
 * added 1,000 items costs the reader one small segment, not the whole index).
 *
 * A group filter stays exact: within a segment a group is one range of rows; a group small
 * enough ({@link EXACT_SCAN_ROWS}) is scanned exactly from the vectors file, a larger one is
 * searched with faiss, asking for more rows until enough of the group are found, and scanned
 * if faiss's visited lists hold too few. So a group with at least k items gives k hits.
 */
import type { GenerationMeta, GenerationStore, SegmentRef } from './generations.ts';
import type { IndexEntry, ItemRows } from './index-entry.ts';
import { OpenSegment, type RowHit } from './segment.ts';
import type { RowPassage } from './segment-keys.ts';

/** A group with at most this many live rows in a segment is scanned exactly (about 28 MB of vectors). */
export const EXACT_SCAN_ROWS = 20_000;

/** A segment with its dead rows. */
interface LivePart {
  readonly ref: SegmentRef;
  readonly segment: OpenSegment;
  /** 1 at each dead row; absent when none is dead. */
  readonly dead?: Uint8Array;
  /** Dead items per group. */
  readonly deadByGroup: ReadonlyMap<string, number>;
}

/** One hit of a search over the segments: an item, scored by its best passage. */
export interface IndexHit {
  readonly entry: IndexEntry;
  readonly score: number;
  /** The passage that scored. */
  readonly passage: RowPassage;
}

/** Open segments shared between the generations a reader loads, by segment id. */
export type SegmentCache = Map<string, OpenSegment>;

export class SegmentedIndex {
  /** Live items. */
  readonly size: number;
  /** Live items per content group, for exact group filtering. */
  readonly groups: ReadonlyMap<string, number>;

  private constructor(
    readonly meta: GenerationMeta,
    private readonly parts: readonly LivePart[],
  ) {
    this.size = parts.reduce((sum, part) => sum + part.ref.items - part.ref.deadItems, 0);
    const groups = new Map<string, number>();
    for (const part of parts) {
      for (const group of part.segment.keys.groupNames) {
        const live = part.segment.keys.groupItems(group) - (part.deadByGroup.get(group) ?? 0);
        if (live > 0) groups.set(group, (groups.get(group) ?? 0) + live);
      }
    }
    this.groups = groups;
  }

  /**
   * Opens a generation's segments, reusing those already in `cache` (and adding the others to
   * it). Segments of the cache that this generation no longer lists are closed and dropped.
   *
   * @example
   * ```ts
   * const store = new GenerationStore(efsRoot);
   * const index = SegmentedIndex.open(store, store.meta(store.current()!));
   * index.search(queryVector, 10); // [{ entry: { group, id, version }, score }, ...]
   * ```
   */
  static open(store: GenerationStore, meta: GenerationMeta, cache: SegmentCache = new Map()): SegmentedIndex {
    const parts = meta.segments.map((ref): LivePart => {
      let segment = cache.get(ref.id);
      if (!segment) cache.set(ref.id, (segment = OpenSegment.open(store.segmentDir(ref.id))));
      if (segment.rows !== ref.rows) throw new Error(`segment ${ref.id} holds ${segment.rows} rows, not ${ref.rows}`);
      if (ref.dead === 0) return { ref, segment, deadByGroup: new Map() };
      const dead = new Uint8Array(ref.rows);
      const deadByGroup = new Map<string, number>();
      for (const row of store.deadRows(ref)) {
        dead[row] = 1;
        if (segment.keys.firstRow(row) !== row) continue;
        const group = segment.keys.groupOf(row);
        deadByGroup.set(group, (deadByGroup.get(group) ?? 0) + 1);
      }
      return { ref, segment, dead, deadByGroup };
    });
    const listed = new Set(meta.segments.map((ref) => ref.id));
    for (const [id, segment] of cache) {
      if (listed.has(id)) continue;
      segment.close();
      cache.delete(id);
    }
    return new SegmentedIndex(meta, parts);
  }

  /** Whether the index holds this item (alive). */
  has(group: string, id: string): boolean {
    return this.parts.some((part) => {
      const row = part.segment.keys.find(group, id);
      return row >= 0 && part.dead?.[row] !== 1;
    });
  }

  /** Every live item, segment by segment (for tests and audits: O(index)). */
  entries(): IndexEntry[] {
    return this.liveItems().map(({ part, row }) => part.segment.keys.entry(row));
  }

  /** Every live item with its passages (for tests and audits: O(index)). */
  items(): ItemRows[] {
    return this.liveItems().map(({ part, row }) => part.segment.keys.itemAt(row));
  }

  private liveItems(): { part: LivePart; row: number }[] {
    return this.parts.flatMap((part) =>
      Array.from({ length: part.ref.rows }, (_, row) => row)
        .filter((row) => part.dead?.[row] !== 1 && part.segment.keys.firstRow(row) === row)
        .map((row) => ({ part, row })),
    );
  }

  /** The k nearest live items to a unit query vector, best first, only of `group` when given. */
  search(query: Float32Array, k: number, group?: string): IndexHit[] {
    const hits: IndexHit[] = [];
    for (const part of this.parts) {
      const { segment, dead } = part;
      const range = group === undefined ? ([0, segment.rows] as const) : segment.keys.groupRange(group);
      const liveRows = range[1] - range[0] - (group === undefined ? part.ref.dead : countIn(dead, range));
      const live =
        group === undefined
          ? part.ref.items - part.ref.deadItems
          : segment.keys.groupItems(group) - (part.deadByGroup.get(group) ?? 0);
      if (live <= 0) continue;
      const want = Math.min(k, live);
      let rows: RowHit[] =
        group !== undefined && liveRows <= EXACT_SCAN_ROWS
          ? segment.scan(query, want, range, dead)
          : segment.search(query, want, range, dead);
      if (rows.length < want) rows = segment.scan(query, want, range, dead);
      for (const { row, score } of rows)
        hits.push({ entry: segment.keys.entry(row), score, passage: segment.keys.passage(row) });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }
}

/** The rows marked in `mask` within a range. */
function countIn(mask: Uint8Array | undefined, [start, end]: readonly [number, number]): number {
  if (!mask) return 0;
  let count = 0;
  for (let row = start; row < end; row++) count += mask[row]!;
  return count;
}
