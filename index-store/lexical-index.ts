/**
 * A segment's lexical index (`lexical.bin`): for BM25 ranking, each term's postings (the rows
 * whose passage holds it, and how often), each row's length in terms, and each row's own terms
 * (compaction copies a row's terms into the new segment from these). A query reads only its
 * terms' postings; a term is found by binary search over the sorted term table, without
 * building a map of the segment's vocabulary.
 *
 * Layout (little-endian; sections on 8-byte boundaries): magic "DDBL", format, rows, terms,
 * postings, total length (u32 each), then the section offsets (u32 x 9):
 *
 *   termOffsets   u32 x (terms + 1), then the terms' UTF-8 bytes, sorted by bytes
 *   termStarts    where each term's postings start: u32 x (terms + 1)
 *   postingRows   u32 x postings (ascending within a term)
 *   postingCounts u16 x postings
 *   rowLengths    u32 x rows
 *   rowStarts     where each row's own terms start: u32 x (rows + 1)
 *   rowTerms      term numbers, u32 x postings; rowCounts u16 x postings
 *
 * @example
 * ```ts
 * const builder = new LexicalBuilder();
 * builder.addRow(termCounts('a dog runs'));
 * const index = LexicalIndex.decode(builder.encode());
 * index.postings(index.lookup('dog')); // { rows: [0], counts: [1] }
 * ```
 */
import { aligned8, compareUtf8, encodeStrings, SectionLayout, StringTable } from './binary-sections.ts';
import type { TermCounts } from './lexical-terms.ts';

const MAGIC = 0x4c424444; // "DDBL"
const FORMAT = 1;
const HEADER_WORDS = 6 + 9;
const MAX_COUNT = 0xffff;

/** A typed array that grows as values are pushed. */
class Growable<T extends Uint32Array | Uint16Array> {
  length = 0;
  constructor(private array: T) {}

  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = new (this.array.constructor as new (length: number) => T)(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.length++] = value;
  }

  get values(): T {
    return this.array.subarray(0, this.length) as T;
  }
}

/** Builds a segment's lexical index row by row, in row order. */
export class LexicalBuilder {
  private readonly termIds = new Map<string, number>();
  private readonly rowLengths = new Growable(new Uint32Array(1024));
  private readonly rowStarts = new Growable(new Uint32Array(1024));
  private readonly rowTerms = new Growable(new Uint32Array(4096));
  private readonly rowCounts = new Growable(new Uint16Array(4096));

  /** Appends the next row's terms (none: a row the lexical index cannot find). */
  addRow(counts?: TermCounts): void {
    this.rowStarts.push(this.rowTerms.length);
    this.rowLengths.push(counts?.length ?? 0);
    for (const [term, count] of counts?.terms ?? []) {
      let id = this.termIds.get(term);
      if (id === undefined) this.termIds.set(term, (id = this.termIds.size));
      this.rowTerms.push(id);
      this.rowCounts.push(Math.min(count, MAX_COUNT));
    }
  }

  get rows(): number {
    return this.rowLengths.length;
  }

  encode(): Uint8Array {
    const rows = this.rows;
    const postings = this.rowTerms.length;
    // Terms sorted by their UTF-8 bytes; `order[i]` is the builder's id of the i-th term.
    const encoder = new TextEncoder();
    const names = [...this.termIds.keys()];
    const encoded = names.map((name) => encoder.encode(name));
    const order = names.map((_, id) => id).sort((a, b) => compareUtf8(encoded[a]!, encoded[b]!));
    const rank = new Uint32Array(names.length);
    order.forEach((id, i) => (rank[id] = i));
    const table = encodeStrings(order.map((id) => names[id]!));
    // Inverted lists: count, then fill in row order, so each term's rows ascend.
    const rowStarts = new Uint32Array(rows + 1);
    rowStarts.set(this.rowStarts.values);
    rowStarts[rows] = postings;
    const rowTerms = this.rowTerms.values.map((id) => rank[id]!);
    const termStarts = new Uint32Array(names.length + 1);
    for (const term of rowTerms) termStarts[term + 1]! += 1;
    for (let i = 0; i < names.length; i++) termStarts[i + 1]! += termStarts[i]!;
    const fill = termStarts.slice(0, names.length);
    const postingRows = new Uint32Array(postings);
    const postingCounts = new Uint16Array(postings);
    const rowCounts = this.rowCounts.values;
    for (let row = 0; row < rows; row++) {
      for (let at = rowStarts[row]!; at < rowStarts[row + 1]!; at++) {
        const slot = fill[rowTerms[at]!]!++;
        postingRows[slot] = row;
        postingCounts[slot] = rowCounts[at]!;
      }
    }
    const totalLength = this.rowLengths.values.reduce((sum, length) => sum + length, 0);

    const layout = new SectionLayout(HEADER_WORDS * 4);
    const at = {
      termOffsets: layout.add(table.offsets.byteLength),
      termBytes: layout.add(table.bytes.length),
      termStarts: layout.add(termStarts.byteLength),
      postingRows: layout.add(postingRows.byteLength),
      postingCounts: layout.add(postingCounts.byteLength),
      rowLengths: layout.add(4 * rows),
      rowStarts: layout.add(rowStarts.byteLength),
      rowTerms: layout.add(rowTerms.byteLength),
      rowCounts: layout.add(rowCounts.byteLength),
    };
    const buffer = new ArrayBuffer(layout.size);
    const bytes = new Uint8Array(buffer);
    new Uint32Array(buffer, 0, HEADER_WORDS).set([
      MAGIC,
      FORMAT,
      rows,
      names.length,
      postings,
      totalLength,
      ...Object.values(at),
    ]);
    new Uint32Array(buffer, at.termOffsets, table.offsets.length).set(table.offsets);
    bytes.set(table.bytes, at.termBytes);
    new Uint32Array(buffer, at.termStarts, termStarts.length).set(termStarts);
    new Uint32Array(buffer, at.postingRows, postings).set(postingRows);
    new Uint16Array(buffer, at.postingCounts, postings).set(postingCounts);
    new Uint32Array(buffer, at.rowLengths, rows).set(this.rowLengths.values);
    new Uint32Array(buffer, at.rowStarts, rows + 1).set(rowStarts);
    new Uint32Array(buffer, at.rowTerms, postings).set(rowTerms);
    new Uint16Array(buffer, at.rowCounts, postings).set(rowCounts);
    return bytes;
  }
}

/** Thrown when a lexical index file is not one this code wrote. */
export class LexicalIndexFormatError extends Error {
  override readonly name = 'LexicalIndexFormatError';
}

/** One term's postings: the rows whose passage holds it, and how often. */
export interface Postings {
  readonly rows: Uint32Array;
  readonly counts: Uint16Array;
}

const NO_POSTINGS: Postings = { rows: new Uint32Array(0), counts: new Uint16Array(0) };

/** A segment's lexical index, read as views of the file's bytes. */
export class LexicalIndex {
  private constructor(
    readonly rows: number,
    /** Terms over every row, dead or alive. */
    readonly totalLength: number,
    private readonly terms: StringTable,
    private readonly termStarts: Uint32Array,
    private readonly postingRows: Uint32Array,
    private readonly postingCounts: Uint16Array,
    private readonly rowLengths: Uint32Array,
    private readonly rowStarts: Uint32Array,
    private readonly rowTerms: Uint32Array,
    private readonly rowCounts: Uint16Array,
  ) {}

  /** A lexical index of `rows` rows with no terms (a segment written before lexical search existed). */
  static empty(rows: number): LexicalIndex {
    const builder = new LexicalBuilder();
    for (let row = 0; row < rows; row++) builder.addRow();
    return LexicalIndex.decode(builder.encode());
  }

  static decode(input: Uint8Array): LexicalIndex {
    const bytes = aligned8(input);
    const { buffer, byteOffset: base } = bytes;
    if (bytes.byteLength < HEADER_WORDS * 4) throw new LexicalIndexFormatError('lexical index file too short');
    const header = new Uint32Array(buffer, base, HEADER_WORDS);
    const [magic, format, rows, terms, postings, totalLength] = header;
    if (magic !== MAGIC || format !== FORMAT) throw new LexicalIndexFormatError('not a ddb-faiss lexical index file');
    const [termOffsets, termBytes, termStarts, postingRows, postingCounts, rowLengths, rowStarts, rowTerms, rowCounts] =
      header.subarray(6);
    const u32 = (at: number, length: number): Uint32Array => new Uint32Array(buffer, base + at, length);
    const u16 = (at: number, length: number): Uint16Array => new Uint16Array(buffer, base + at, length);
    const offsets = u32(termOffsets!, terms! + 1);
    return new LexicalIndex(
      rows!,
      totalLength!,
      new StringTable(offsets, new Uint8Array(buffer, base + termBytes!, offsets[terms!]!)),
      u32(termStarts!, terms! + 1),
      u32(postingRows!, postings!),
      u16(postingCounts!, postings!),
      u32(rowLengths!, rows!),
      u32(rowStarts!, rows! + 1),
      u32(rowTerms!, postings!),
      u16(rowCounts!, postings!),
    );
  }

  /** The number of a term in this segment, or -1 when no row holds it. */
  lookup(term: string): number {
    const wanted = new TextEncoder().encode(term);
    let low = 0;
    let high = this.terms.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const order = this.terms.compare(middle, wanted);
      if (order === 0) return middle;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** A term's postings (none for -1). */
  postings(term: number): Postings {
    if (term < 0) return NO_POSTINGS;
    const start = this.termStarts[term]!;
    const end = this.termStarts[term + 1]!;
    return { rows: this.postingRows.subarray(start, end), counts: this.postingCounts.subarray(start, end) };
  }

  /** A row's length in terms. */
  rowLength(row: number): number {
    return this.rowLengths[row]!;
  }

  /** A row's own terms, as the builder was given them (compaction copies them). */
  termsOf(row: number): TermCounts {
    const terms = new Map<string, number>();
    for (let at = this.rowStarts[row]!; at < this.rowStarts[row + 1]!; at++)
      terms.set(this.terms.get(this.rowTerms[at]!), this.rowCounts[at]!);
    return { terms, length: this.rowLengths[row]! };
  }
}
