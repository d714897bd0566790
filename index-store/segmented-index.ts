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
import type { AttributeFilter, ColumnKinds } from './attribute-columns.ts';
import { addStats, type LexicalStats, rankLexical, segmentStats } from './bm25.ts';
import { type CandidateAsk, OpenSegment, probesOfShare, type RowHit } from './segment.ts';
import { type RowPassage, SegmentKeys } from './segment-keys.ts';

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

/** Settings of one search that override the index's own: for measuring them (the scale bench's probe sweep). */
export interface SearchTuning {
  /**
   * Lists every IVF segment visits (at most its lists).
   * @default each segment's probes for its share of the IVF rows searched ({@link probesOf})
   */
  readonly probes?: number;
  /**
   * Candidates re-ranked in the one pass over the IVF segments searched (more while they hold
   * fewer than k items).
   * @default {@link rerankDepth} of the segments searched
   */
  readonly rerank?: number;
}

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
    const unopened = meta.segments.filter((ref) => !cache.has(ref.id));
    OpenSegment.openEach(unopened.map((ref) => store.segmentFiles(ref))).forEach((segment, at) =>
      cache.set(unopened[at]!.id, segment),
    );
    const parts = meta.segments.map((ref): LivePart => {
      const segment = cache.get(ref.id)!;
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

  /** A live item's vectors, one per passage (row-major), or undefined when the index does not hold it. */
  vectorsOf(group: string, id: string): Float32Array | undefined {
    for (const { segment, dead } of this.parts) {
      const first = segment.keys.find(group, id);
      if (first < 0 || dead?.[first] === 1) continue;
      const [, end] = segment.keys.itemRows(first);
      return segment.vectorsOf(first, end);
    }
    return undefined;
  }

  /** Every live item, segment by segment (for tests and audits: O(index)). */
  entries(): IndexEntry[] {
    return this.liveItems().map(({ part, row }) => part.segment.keys.entry(row));
  }

  /** Every live item with its passages and filterable attributes (for tests and audits: O(index)). */
  items(): ItemRows[] {
    return this.liveItems().map(({ part, row }) => {
      const item = part.segment.keys.itemAt(row);
      const attributes = part.segment.attributes.valuesOf(part.segment.keys.itemOf(row));
      return attributes ? { ...item, attributes } : item;
    });
  }

  private liveItems(): { part: LivePart; row: number }[] {
    return this.parts.flatMap((part) =>
      Array.from({ length: part.ref.rows }, (_, row) => row)
        .filter((row) => part.dead?.[row] !== 1 && part.segment.keys.firstRow(row) === row)
        .map((row) => ({ part, row })),
    );
  }

  /**
   * The rows a search may return: live, of `scope.groups` when given, meeting `scope.filter` when
   * given (from the attributes kept with the index). Work it out once per query; searches and
   * their widenings reuse it.
   */
  select(scope: SearchScope = {}): Selection {
    const { groups, filter } = scope;
    const parts: SelectedPart[] = [];
    let items = 0;
    for (const part of this.parts) {
      const { segment, dead } = part;
      // Each group is one range of rows; several groups are the span of theirs, the rows between skipped.
      const present = groups && [...new Set(groups)].filter((group) => segment.keys.groupItems(group) > 0);
      if (present?.length === 0) continue;
      const ranges = present ? present.map((group) => segment.keys.groupRange(group)) : [[0, segment.rows] as const];
      const range = [Math.min(...ranges.map(([start]) => start)), Math.max(...ranges.map(([, end]) => end))] as const;
      let skip = dead;
      let rows: number;
      let live: number;
      if (filter === undefined && ranges.length === 1) {
        const group = present?.[0];
        rows = range[1] - range[0] - (group === undefined ? part.ref.dead : countIn(dead, range));
        live =
          group === undefined
            ? part.ref.items - part.ref.deadItems
            : segment.keys.groupItems(group) - (part.deadByGroup.get(group) ?? 0);
      } else {
        const matching = filter === undefined ? undefined : segment.attributes.match(filter);
        skip = new Uint8Array(segment.rows).fill(1);
        rows = 0;
        live = 0;
        for (const [start, end] of ranges)
          for (let row = start; row < end; row++) {
            if (dead?.[row] === 1 || matching?.[segment.keys.itemOf(row)] === 0) continue;
            skip[row] = 0;
            rows += 1;
            if (segment.keys.firstRow(row) === row) live += 1;
          }
      }
      if (live <= 0) continue;
      parts.push({
        segment,
        range,
        ...(skip ? { skip } : {}),
        rows,
        items: live,
        narrowed: groups !== undefined || filter !== undefined,
      });
      items += live;
    }
    return { items, parts };
  }

  /**
   * The k nearest items of a selection (every live item by default) to a unit query vector, best
   * first, each scored by its best passage. Exact whatever the selection: a segment's admitted
   * rows are scanned exactly when few, and searched by faiss (then scanned if faiss's visited
   * lists hold too few) when many. The segments are searched side by side, each IVF segment
   * visiting lists by its share of the IVF rows searched ({@link probesOf}), and their candidates
   * re-ranked once, together: the best by their codes' scores over every segment
   * ({@link rerankDepth}), so the exact reads go where the best candidates are.
   * @param tuning settings overriding the index's own, for measuring them
   */
  search(query: Float32Array, k: number, selection: Selection = this.select(), tuning: SearchTuning = {}): IndexHit[] {
    const ranked: { segment: OpenSegment; hits: readonly RowHit[] }[] = [];
    const searched: Omit<CandidateAsk, 'probes'>[] = [];
    for (const { segment, range, skip, rows, items, narrowed } of selection.parts) {
      const want = Math.min(k, items);
      if (narrowed && rows <= EXACT_SCAN_ROWS) ranked.push({ segment, hits: segment.scan(query, want, range, skip) });
      else searched.push({ segment, k: want, range, skip, admitted: rows });
    }
    const probes = tuning.probes === undefined ? probesOf(searched) : searched.map(() => tuning.probes);
    const asks: CandidateAsk[] = searched.map((ask, i) => ({ ...ask, probes: probes[i] }));
    const approximate: { ask: number; hit: RowHit }[] = [];
    OpenSegment.candidatesOf(query, asks).forEach((found, ask) => {
      const { segment, k: want, range, skip } = asks[ask]!;
      if (found.items < want) ranked.push({ segment, hits: segment.scan(query, want, range, skip) });
      else if (!found.approximate) ranked.push({ segment, hits: segment.bestPerItem(found.hits).slice(0, want) });
      else for (const hit of found.hits) approximate.push({ ask, hit });
    });
    const reranked = rerankedRows(approximate, tuning.rerank ?? rerankDepth(asks), k, (ask, row) =>
      asks[ask]!.segment.keys.firstRow(row),
    );
    // Every segment's rows announced before any is read: all of them fetched side by side.
    for (const [ask, rows] of reranked) asks[ask]!.segment.willRerank(rows);
    for (const [ask, rows] of reranked) {
      const { segment, k: want } = asks[ask]!;
      ranked.push({ segment, hits: segment.bestPerItem(segment.rerank(query, rows)).slice(0, want) });
    }
    // Only the k best are named: a key map is read from its file, a few pages a hit, every
    // segment's announced first so that they are fetched side by side.
    const best: { segment: OpenSegment; row: number; score: number }[] = [];
    for (const { segment, hits: found } of ranked)
      for (const { row, score } of found) best.push({ segment, row, score });
    const top = best.sort((a, b) => b.score - a.score).slice(0, k);
    const rowsOf = new Map<OpenSegment, number[]>();
    for (const { segment, row } of top) {
      const rows = rowsOf.get(segment);
      if (rows) rows.push(row);
      else rowsOf.set(segment, [row]);
    }
    SegmentKeys.willReadEntries([...rowsOf].map(([segment, rows]) => [segment.keys, rows] as const));
    return top.map(({ segment, row, score }) => ({
      entry: segment.keys.entry(row),
      score,
      passage: segment.keys.passage(row),
    }));
  }

  /**
   * BM25's statistics for the query terms (see `bm25.ts`) over a corpus: every live passage by
   * default, or the rows of a selection (a tenant's groups, so that other groups' words do not
   * move its scores).
   */
  lexicalStats(terms: readonly string[], corpus: Selection = this.select()): LexicalStats {
    return addStats(corpus.parts.map(({ segment, range, skip }) => segmentStats(segment, range, skip, terms)));
  }

  /**
   * The k best items of a selection for the query terms by BM25 (items holding none of them are
   * not ranked), each scored by its best passage. `stats` are those of every index the query
   * reads, so that scores compare across them.
   */
  lexicalSearch(
    terms: readonly string[],
    k: number,
    stats: LexicalStats,
    selection: Selection = this.select(),
  ): IndexHit[] {
    const hits: IndexHit[] = [];
    for (const { segment, range, skip } of selection.parts)
      for (const { row, score } of rankLexical(segment, range, skip, k, terms, stats))
        hits.push({ entry: segment.keys.entry(row), score, passage: segment.keys.passage(row) });
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }

  /** Which kinds of value each filterable attribute holds, over the live segments. */
  attributeKinds(): Map<string, ColumnKinds> {
    const kinds = new Map<string, ColumnKinds>();
    for (const { segment } of this.parts) {
      for (const name of segment.attributes.names) {
        const seen = segment.attributes.kinds(name)!;
        const before = kinds.get(name);
        kinds.set(
          name,
          before
            ? {
                strings: before.strings || seen.strings,
                numbers: before.numbers || seen.numbers,
                booleans: before.booleans || seen.booleans,
              }
            : seen,
        );
      }
    }
    return kinds;
  }
}

/** Which items a search may return: of some content groups, meeting an attribute filter. */
export interface SearchScope {
  /** The content groups admitted (every group when absent; none when empty). */
  readonly groups?: readonly string[];
  readonly filter?: AttributeFilter;
}

/** A segment's part of a selection: the range to search, the rows in it to skip, what is left. */
interface SelectedPart {
  readonly segment: OpenSegment;
  readonly range: readonly [number, number];
  readonly skip?: Uint8Array;
  /** Rows (passages) admitted. */
  readonly rows: number;
  /** Items admitted. */
  readonly items: number;
  /** Whether a group or filter narrowed it (rather than all live rows): few rows are then scanned. */
  readonly narrowed: boolean;
}

/** The rows a search may return, segment by segment ({@link SegmentedIndex.select}). */
export interface Selection {
  /** Items admitted, over every segment. */
  readonly items: number;
  readonly parts: readonly SelectedPart[];
}

/** The rows marked in `mask` within a range. */
function countIn(mask: Uint8Array | undefined, [start, end]: readonly [number, number]): number {
  if (!mask) return 0;
  let count = 0;
  for (let row = start; row < end; row++) count += mask[row]!;
  return count;
}

/** Candidates re-ranked for a search of 1,000,000 IVF rows: the depth measured for a segment of that size. */
export const RERANK_DEPTH_AT_1M = 50;

/**
 * Candidates re-ranked in one pass over the IVF segments searched: growing with the square root
 * of the rows searched, {@link RERANK_DEPTH_AT_1M} at a million (158 at 10,000,000, where the
 * scale bench's index reached recall@10 0.976 with 150 and 0.982 with 200, ties counted), and at
 * least the deepest segment's own depth.
 */
export function rerankDepth(asks: readonly { readonly segment: OpenSegment }[]): number {
  let rows = 0;
  let own = 0;
  for (const { segment } of asks) {
    if (segment.rerankDepth === 0) continue;
    rows += segment.rows;
    own = Math.max(own, segment.rerankDepth);
  }
  return rows === 0 ? 0 : Math.max(own, Math.ceil(RERANK_DEPTH_AT_1M * Math.sqrt(rows / 1_000_000)));
}

/**
 * The lists each IVF segment of a query visits: by its share of the IVF rows searched
 * ({@link probesOfShare}); undefined for a flat segment, or one whose file set them.
 */
export function probesOf(
  asks: readonly { readonly segment: Pick<OpenSegment, 'rows' | 'probes'> }[],
): (number | undefined)[] {
  const rows = asks.reduce((sum, { segment }) => sum + (segment.probes ? segment.rows : 0), 0);
  return asks.map(({ segment }) => segment.probes && probesOfShare(segment.probes, segment.rows / rows));
}

/**
 * The rows to re-rank, by segment: the `depth` best candidates by approximate score, and more
 * while they hold fewer than `k` items (an item's passages are several rows).
 * @param itemOf an item's identity within its segment (its first row)
 */
export function rerankedRows(
  candidates: readonly { readonly ask: number; readonly hit: RowHit }[],
  depth: number,
  k: number,
  itemOf: (ask: number, row: number) => number,
): Map<number, number[]> {
  const rows = new Map<number, number[]>();
  const items = new Set<string>();
  let taken = 0;
  for (const { ask, hit } of [...candidates].sort((a, b) => b.hit.score - a.hit.score)) {
    if (taken >= depth && items.size >= k) break;
    let mine = rows.get(ask);
    if (!mine) rows.set(ask, (mine = []));
    mine.push(hit.row);
    items.add(`${ask}:${itemOf(ask, hit.row)}`);
    taken += 1;
  }
  return rows;
}
