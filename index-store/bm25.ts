/**
 * BM25 ranking over segments' lexical indexes (Robertson and Zaragoza's Okapi BM25, k1 = 1.2,
 * b = 0.75, Lucene's idf). A passage is a document; an item scores as its best passage, as in
 * vector search. The corpus statistics (live passages, their average length, each term's
 * document frequency) count live rows only, over every index a query reads, so a score is the
 * same whichever segment holds a passage, and replaced or removed items leave no trace in it.
 */
import type { RowHit } from './segment.ts';
import type { OpenSegment } from './segment.ts';

const K1 = 1.2;
const B = 0.75;

/** Corpus statistics of the live passages a query ranks. */
export interface LexicalStats {
  /** Live passages. */
  readonly rows: number;
  /** Their terms, all together. */
  readonly length: number;
  /** Live passages holding each query term. */
  readonly documentFrequency: ReadonlyMap<string, number>;
}

/** Statistics of several indexes together. */
export function addStats(all: readonly LexicalStats[]): LexicalStats {
  const documentFrequency = new Map<string, number>();
  for (const stats of all)
    for (const [term, count] of stats.documentFrequency)
      documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + count);
  return {
    rows: all.reduce((sum, stats) => sum + stats.rows, 0),
    length: all.reduce((sum, stats) => sum + stats.length, 0),
    documentFrequency,
  };
}

/**
 * A segment's statistics for these query terms over its rows `[start, end)` not in `skip` (the
 * live rows of the corpus a caller may see: dead rows, and other tenants' groups, left out).
 */
export function segmentStats(
  segment: OpenSegment,
  [start, end]: readonly [number, number],
  skip: Uint8Array | undefined,
  terms: readonly string[],
): LexicalStats {
  const { lexical } = segment;
  const whole = skip === undefined && start === 0 && end === lexical.rows;
  let rows = whole ? lexical.rows : 0;
  let length = whole ? lexical.totalLength : 0;
  if (!whole)
    for (let row = start; row < end; row++)
      if (skip?.[row] !== 1) {
        rows += 1;
        length += lexical.rowLength(row);
      }
  const documentFrequency = new Map<string, number>();
  for (const term of terms) {
    const { rows: holding } = lexical.postings(lexical.lookup(term));
    let admitted = 0;
    for (const row of holding) if (row >= start && row < end && skip?.[row] !== 1) admitted += 1;
    documentFrequency.set(term, admitted);
  }
  return { rows, length, documentFrequency };
}

/**
 * The `k` best items of a segment's admitted rows (`[start, end)` not in `skip`) for the query
 * terms, by BM25, each as its best passage. Items holding no query term are not ranked.
 */
export function rankLexical(
  segment: OpenSegment,
  range: readonly [number, number],
  skip: Uint8Array | undefined,
  k: number,
  terms: readonly string[],
  stats: LexicalStats,
): RowHit[] {
  const { lexical, keys } = segment;
  if (stats.rows === 0) return [];
  const averageLength = stats.length / stats.rows || 1;
  const scores = new Map<number, number>();
  for (const term of terms) {
    const df = stats.documentFrequency.get(term) ?? 0;
    if (df === 0) continue;
    const idf = Math.log(1 + (stats.rows - df + 0.5) / (df + 0.5));
    const { rows, counts } = lexical.postings(lexical.lookup(term));
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (row < range[0] || row >= range[1] || skip?.[row] === 1) continue;
      const tf = counts[i]!;
      const norm = K1 * (1 - B + (B * lexical.rowLength(row)) / averageLength);
      scores.set(row, (scores.get(row) ?? 0) + (idf * tf * (K1 + 1)) / (tf + norm));
    }
  }
  // Best passage per item, then the k best items.
  const best = new Map<number, RowHit>();
  for (const [row, score] of scores) {
    const item = keys.firstRow(row);
    const seen = best.get(item);
    if (!seen || score > seen.score) best.set(item, { row, score });
  }
  return [...best.values()].sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
}
