/**
 * Segments: the immutable parts an index generation is made of. A segment is a folder
 *
 *   segments/<id>/vectors.f32    the exact vectors, row after row: a flat segment's index; an IVF
 *                                segment's re-ranking; group scans, compaction
 *   segments/<id>/index.faiss    (IVF only) the IVF index of 4-bit PQ fast-scan codes, its lists
 *                                contiguous (`faiss.writeMappable`): search maps them in place
 *   segments/<id>/vectors.sum    a 32-bit checksum of each row of vectors.f32, checked on every read
 *   segments/<id>/keys.bin       the key map (see `segment-keys.ts`)
 *   segments/<id>/attributes.bin the items' filterable attributes (see `attribute-columns.ts`)
 *   segments/<id>/lexical.bin    the passages' terms for BM25 (see `lexical-index.ts`)
 *   segments/<id>/segment.json   kind, rows, dimensions, how the index was built
 *   segments/<id>/trained.faiss  (IVF only) the trained, empty index: compaction reuses it
 *
 * written under a staging name and renamed into place, never changed afterwards. The size and SHA-256
 * of each file go into the generation's manifest ({@link WrittenSegment.checksums}) and are verified
 * as the file is read ({@link SegmentFiles}); the vectors file is checked row by row. A segment's rows
 * are sorted by group, so one group's rows are one contiguous range of the vectors file: a
 * group-filtered search reads exactly that range.
 *
 * Which index a segment gets is chosen by its size ({@link indexPlanFor}), from the measurements
 * in `bench/ann-choice.json`: flat up to {@link FLAT_MAX_ROWS} rows, built in memory from the
 * vectors file as the segment opens (stored once); above, IVF with 4-bit PQ fast-scan codes and
 * about sqrt(rows) lists, whose best candidates are re-ranked exactly from the vectors file, each
 * size with the fastest setting past recall@10 0.95 (docs/benchmarks.md).
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import faiss from 'faiss-node';
import { fsyncPath, publishDirectory } from './atomic-file.ts';
import type { ItemRows } from './index-entry.ts';
import { AttributeColumns, encodeAttributeColumns } from './attribute-columns.ts';
import {
  checkFile,
  checkSize,
  checksumOf,
  type FileChecksum,
  firstBadRow,
  IndexDamagedError,
  parseJsonFile,
  readVerified,
  rowChecksum,
  rowChecksums,
} from './integrity.ts';
import { KeyFilter } from './key-filter.ts';
import { LexicalBuilder, LexicalIndex } from './lexical-index.ts';
import { PagedFile, pageChecksums } from './paged-file.ts';
import { encodeSegmentKeys, SegmentKeys } from './segment-keys.ts';

/**
 * Up to this many rows a segment is flat (exact), its vectors file its index; above, IVF. At this
 * size a flat search costs about what an IVF search of a segment ten times larger does
 * (bench/ann-choice.json), and approximate search loses recall on near-duplicates.
 */
export const FLAT_MAX_ROWS = 20_000;

/** How an IVF segment is built and searched. */
export interface IvfPlan {
  readonly kind: 'ivf';
  /** Inverted lists (k-means centroids). */
  readonly lists: number;
  /** Lists a query visits in a segment searched alone. */
  readonly probes: number;
  /**
   * Lists a query visits at least in a segment searched beside others: each then needs to find
   * only its share of the best k ({@link probesOfShare}). Measured for the largest tier only
   * (the scale bench's probe sweep at 10,000,000 items); the smaller tiers keep their `probes`.
   */
  readonly sharedProbes: number;
  /** Candidates taken from the compressed codes and re-ranked with the exact vectors. */
  readonly rerank: number;
}

/** How a segment of a given size is indexed: exactly, or by IVF with these settings. */
export type IndexPlan = { readonly kind: 'flat' } | IvfPlan;

/**
 * IVF settings by segment size: at each size measured by `npm run bench:ann`
 * (bench/ann-choice.json, 20,000 to 1,000,000 vectors of the default model), the fastest setting
 * whose recall@10 reached 0.96 there, a margin over the 0.95 promised. The lists grow with the
 * size, so a list holds a few hundred rows and a query's work grows with about sqrt(rows); the
 * candidates re-ranked from the vectors file are few (each is a read). The smallest IVF segments
 * re-rank 100, not 50: 0.05 ms more, and on vectors less clustered than the model's (uniformly
 * random ones, `test/unit/segments.test.ts`) recall@10 0.878 with 50 rose past 0.9.
 */
export const IVF_TIERS: readonly (IvfPlan & { readonly upToRows: number })[] = [
  { kind: 'ivf', upToRows: 60_000, lists: 64, probes: 32, sharedProbes: 32, rerank: 100 },
  { kind: 'ivf', upToRows: 200_000, lists: 256, probes: 128, sharedProbes: 128, rerank: 50 },
  { kind: 'ivf', upToRows: 600_000, lists: 512, probes: 128, sharedProbes: 128, rerank: 50 },
  // At 10,000,000 items (six segments of this tier) 64 probes a segment kept recall@10 at 0.9695
  // (48: 0.9645), and faiss's part of the index p50 went from 3.47 to 2.16 ms (bench/results-scale.json).
  { kind: 'ivf', upToRows: Infinity, lists: 2_048, probes: 128, sharedProbes: 64, rerank: 50 },
];

/**
 * The index a segment of `rows` rows gets.
 * @example
 * ```ts
 * indexPlanFor(5_000); // { kind: 'flat' }
 * indexPlanFor(1_000_000); // { kind: 'ivf', lists: 2048, probes: 128, sharedProbes: 64, rerank: 50 }
 * ```
 */
export function indexPlanFor(rows: number): IndexPlan {
  if (rows <= FLAT_MAX_ROWS) return { kind: 'flat' };
  const { upToRows: _, ...plan } = IVF_TIERS.find((tier) => rows <= tier.upToRows)!;
  return plan;
}

/** The faiss factory string of an IVF segment: 4-bit PQ fast-scan codes, two dimensions per code. */
export const ivfFactory = (dimensions: number, lists: number): string =>
  `IVF${lists},PQ${dimensions % 2 === 0 ? dimensions / 2 : dimensions}x4fs`;

/**
 * Vectors an IVF index of `lists` lists is trained on: 64 a list (faiss's k-means wants at
 * least 39 and samples at most 256 a list).
 */
export const trainingRowsFor = (lists: number): number => 64 * lists;

/** Re-rank depth of an IVF segment written before the depth was recorded in `segment.json`. */
const LEGACY_RERANK = 100;

export type SegmentKind = 'flat' | 'ivf';

/** The files of a segment, by what they hold. */
export const SEGMENT_FILES = {
  info: 'segment.json',
  index: 'index.faiss',
  vectors: 'vectors.f32',
  rowChecksums: 'vectors.sum',
  keys: 'keys.bin',
  keyPageChecksums: 'keys.sum',
  keyFilter: 'keys.filter',
  attributes: 'attributes.bin',
  lexical: 'lexical.bin',
  trained: 'trained.faiss',
} as const;

/** What `segment.json` says about a segment. */
export interface SegmentInfo {
  readonly id: string;
  readonly kind: SegmentKind;
  /** Vectors: one per passage of each item. */
  readonly rows: number;
  /** Items (an item with long content has several rows). */
  readonly items: number;
  readonly dimensions: number;
  /** The faiss factory string it was built with. */
  readonly factory: string;
  /** For IVF: lists visited per query. */
  readonly nprobe?: number;
  /** For IVF: its lists (absent in segments written before sizes had their own; the factory says). */
  readonly lists?: number;
  /** For IVF: candidates re-ranked with the exact vectors (absent before it was recorded: 100). */
  readonly rerank?: number;
}

/** The lists a query visits in an IVF segment: alone, and at least beside others ({@link IvfPlan}). */
export type IvfProbes = Pick<IvfPlan, 'probes' | 'sharedProbes'>;

/** How an IVF segment is searched: the lists a query visits, and its re-rank depth. */
export interface IvfSearch {
  /** Absent: as faiss serialized them, for segments whose file did not say. */
  readonly probes?: IvfProbes;
  readonly rerank: number;
}

/**
 * How an IVF segment is searched: by today's tier for its size when it was built with that
 * tier's lists, so that re-measured probes and depths reach segments already written; else as
 * its `segment.json` recorded (probes absent: as faiss serialized them), its probes the same
 * alone or not.
 */
export function ivfSearchOf(info: SegmentInfo): IvfSearch {
  const plan = indexPlanFor(info.rows);
  if (plan.kind === 'ivf' && plan.lists === listsOf(info))
    return { probes: { probes: plan.probes, sharedProbes: plan.sharedProbes }, rerank: plan.rerank };
  return {
    ...(info.nprobe === undefined ? {} : { probes: { probes: info.nprobe, sharedProbes: info.nprobe } }),
    rerank: info.rerank ?? LEGACY_RERANK,
  };
}

/**
 * The lists a query visits in an IVF segment holding `share` (0..1] of the IVF rows it searches:
 * its probes alone times the square root of its share, at least its shared probes. A segment's
 * part of the best k shrinks with its share, and finding fewer of its best needs fewer lists;
 * the square root is the curve through the two ends measured (one segment: 128 probes for recall
 * 0.96; six: 64), as the re-rank depth grows with the square root of the rows searched.
 * @example
 * ```ts
 * probesOfShare({ probes: 128, sharedProbes: 64 }, 1); // 128: searched alone
 * probesOfShare({ probes: 128, sharedProbes: 64 }, 0.5); // 91
 * probesOfShare({ probes: 128, sharedProbes: 64 }, 0.2); // 64
 * ```
 */
export function probesOfShare({ probes, sharedProbes }: IvfProbes, share: number): number {
  return Math.max(sharedProbes, Math.min(probes, Math.ceil(probes * Math.sqrt(share))));
}

/** An IVF segment's lists, from `segment.json` (or, for a segment written before it said, its factory string). */
export const listsOf = (info: Pick<SegmentInfo, 'lists' | 'factory'>): number | undefined =>
  info.lists ?? numberOrUndefined(/^IVF(\d+),/.exec(info.factory)?.[1]);
const numberOrUndefined = (text: string | undefined) => (text === undefined ? undefined : Number(text));

/** Bytes of faiss's serialized IndexFlatIP before its vectors: fourcc, d, ntotal, 2 unused, trained, metric, size. */
const FLAT_HEADER_BYTES = 4 + 4 + 8 + 8 + 8 + 1 + 4 + 8;

/**
 * A flat index over row-major vectors, made without copying them through `number[]` (faiss-node's
 * `add` costs about 0.35 µs a value): the bytes faiss would have serialized, read back.
 */
export function flatIndexOf(vectors: Float32Array, dimensions: number): faiss.IndexFlatIP {
  const rows = vectors.length / dimensions;
  const bytes = Buffer.alloc(FLAT_HEADER_BYTES + vectors.byteLength);
  let at = bytes.write('IxFI', 0, 'latin1');
  at = bytes.writeInt32LE(dimensions, at);
  at = bytes.writeBigInt64LE(BigInt(rows), at);
  at = bytes.writeBigInt64LE(1n << 20n, at); // unused by faiss, written as it writes them
  at = bytes.writeBigInt64LE(1n << 20n, at);
  at = bytes.writeUInt8(1, at); // is_trained
  at = bytes.writeInt32LE(faiss.MetricType.METRIC_INNER_PRODUCT, at);
  at = bytes.writeBigUInt64LE(BigInt(vectors.length), at);
  Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength).copy(bytes, at);
  return faiss.IndexFlatIP.fromBuffer(bytes);
}

/**
 * Adds row-major vectors to a faiss index, handed over in place (faiss-node as ddb-faiss builds
 * it takes a Float32Array: `scripts/faiss-node-binding.js`).
 */
function addVectors(index: faiss.Index, vectors: Float32Array): void {
  index.add(vectors);
}

/** How a new segment gets its index. */
export interface SegmentBuildOptions {
  readonly dimensions: number;
  /** Rows (passages) the segment will hold: chooses its index ({@link indexPlanFor}). */
  readonly rows: number;
  /**
   * For an IVF segment: the segment, if any, whose trained, empty index (`trained.faiss`) of
   * `lists` lists to reuse instead of training (same model, same table).
   */
  readonly trainedIndex?: (lists: number) => SegmentFiles | undefined;
  /** For an IVF segment without a reusable `trainedIndex`: up to `rows` vectors to train on (row-major). */
  readonly sample?: (rows: number) => Float32Array;
}

/**
 * Writes one segment, its rows given a chunk at a time in group order, then publishes its
 * folder under `segmentsDir` by rename.
 *
 * @example
 * ```ts
 * const writer = new SegmentWriter(dir, { dimensions: 356, rows: 1 });
 * writer.append([{ entry: { group: 'g', id: 'a', version: 1 }, passages: [[0, 12]] }], vector); // sorted by group
 * const { info, checksums } = writer.finish();
 * ```
 */
export class SegmentWriter {
  readonly id: string;
  readonly kind: SegmentKind;
  readonly plan: IndexPlan;
  private readonly staging: string;
  /** The IVF index being filled; a flat segment's index is its vectors file. */
  private readonly index?: faiss.Index;
  private readonly vectorsFd: number;
  private readonly items: ItemRows[] = [];
  private readonly lexical = new LexicalBuilder();
  private readonly rowSums: Uint32Array[] = [];
  private readonly checksums: Record<string, FileChecksum> = {};
  private rowsWritten = 0;
  private readonly factory: string;

  constructor(
    private readonly segmentsDir: string,
    private readonly options: SegmentBuildOptions,
  ) {
    this.id = `seg-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
    this.staging = path.join(segmentsDir, `.staging-${this.id}`);
    mkdirSync(this.staging, { recursive: true });
    const { dimensions, rows, trainedIndex } = options;
    this.plan = indexPlanFor(rows);
    this.kind = this.plan.kind;
    if (this.plan.kind === 'flat') this.factory = 'Flat';
    else {
      const { lists, probes } = this.plan;
      this.factory = ivfFactory(dimensions, lists);
      const trained = trainedIndex?.(lists);
      this.index = trained ? faiss.Index.fromBuffer(trained.read(SEGMENT_FILES.trained)) : this.train(lists);
      this.index.setNprobe(probes);
      this.writeFile(SEGMENT_FILES.trained, this.index.toBuffer());
    }
    this.vectorsFd = openSync(path.join(this.staging, SEGMENT_FILES.vectors), 'w');
  }

  /** Writes a whole file of the segment and records its checksum. */
  private writeFile(name: string, bytes: Uint8Array): void {
    writeFileSync(path.join(this.staging, name), bytes);
    this.checksums[name] = checksumOf(bytes);
  }

  private train(lists: number): faiss.Index {
    const sample = this.options.sample?.(trainingRowsFor(lists));
    if (!sample) throw new Error('an IVF segment needs a training sample or a trained index');
    const index = faiss.Index.fromFactory(this.options.dimensions, this.factory, faiss.MetricType.METRIC_INNER_PRODUCT);
    index.train(sample);
    return index;
  }

  /**
   * Appends items, sorted by group, with their vectors row-major: one row per passage of each item,
   * in order.
   */
  append(items: readonly ItemRows[], vectors: Float32Array): void {
    const { dimensions } = this.options;
    const rows = items.reduce((sum, item) => sum + item.passages.length, 0);
    if (vectors.length !== rows * dimensions)
      throw new Error(`expected ${rows * dimensions} floats (${rows} passages), got ${vectors.length}`);
    const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    for (let offset = 0; offset < bytes.length;) offset += writeSync(this.vectorsFd, bytes, offset);
    this.rowSums.push(rowChecksums(vectors, dimensions));
    if (this.index) addVectors(this.index, vectors);
    for (const { entry, passages, attributes, terms } of items) {
      // The terms go into the lexical index now; the item is kept for the key map and attributes.
      for (let passage = 0; passage < passages.length; passage++) this.lexical.addRow(terms?.[passage]);
      this.items.push({ entry, passages, ...(attributes ? { attributes } : {}) });
    }
    this.rowsWritten += rows;
  }

  /** Writes the index, the row checksums and the key map, and renames the folder into place. */
  finish(): WrittenSegment {
    try {
      fsyncSync(this.vectorsFd);
    } finally {
      closeSync(this.vectorsFd);
    }
    if (this.rowsWritten !== this.options.rows)
      throw new Error(`segment expected ${this.options.rows} rows, was given ${this.rowsWritten}`);
    const info: SegmentInfo = {
      id: this.id,
      kind: this.kind,
      rows: this.rowsWritten,
      items: this.items.length,
      dimensions: this.options.dimensions,
      factory: this.factory,
      ...(this.plan.kind === 'ivf'
        ? { nprobe: this.plan.probes, lists: this.plan.lists, rerank: this.plan.rerank }
        : {}),
    };
    const sums = new Uint32Array(this.rowsWritten);
    let at = 0;
    for (const chunk of this.rowSums) sums.set(chunk, (at += chunk.length) - chunk.length);
    // Contiguous lists: search maps them in place rather than copying them a list at a time.
    if (this.index) this.writeFile(SEGMENT_FILES.index, faiss.writeMappable(this.index));
    this.writeFile(SEGMENT_FILES.rowChecksums, new Uint8Array(sums.buffer));
    const keys = encodeSegmentKeys(this.items);
    this.writeFile(SEGMENT_FILES.keys, keys);
    this.writeFile(SEGMENT_FILES.keyPageChecksums, pageChecksums(keys));
    this.writeFile(SEGMENT_FILES.keyFilter, KeyFilter.of(this.items.map((item) => item.entry)).encode());
    this.writeFile(SEGMENT_FILES.attributes, encodeAttributeColumns(this.items.map((item) => item.attributes)));
    this.writeFile(SEGMENT_FILES.lexical, this.lexical.encode());
    this.writeFile(SEGMENT_FILES.info, Buffer.from(JSON.stringify(info, null, 2)));
    for (const file of Object.keys(this.checksums)) fsyncPath(path.join(this.staging, file));
    publishDirectory(this.staging, path.join(this.segmentsDir, this.id));
    return { info, checksums: { ...this.checksums } };
  }

  /** Drops an unfinished segment. */
  abandon(): void {
    try {
      closeSync(this.vectorsFd);
    } catch {
      // already closed by finish
    }
    rmSync(this.staging, { recursive: true, force: true });
  }
}

/** A segment just written: what `segment.json` says, and the checksum of each of its files, by name. */
export interface WrittenSegment {
  readonly info: SegmentInfo;
  readonly checksums: Readonly<Record<string, FileChecksum>>;
}

/**
 * Key filters a process keeps once read and verified, the oldest let go of first: a segment's
 * files never change, and a warm function merging a thousand items would otherwise read and hash
 * every segment's filter again each run (4 MB a million items: 5 of a 35 ms merge at 1M here).
 */
export const KEPT_KEY_FILTERS = 32;
const keptKeyFilters = new Map<string, KeyFilter>();

/**
 * The files of one published segment, each read whole and verified against the checksum its
 * generation recorded (a segment written before checksums is read as it is). A file that cannot
 * be decoded is damage too, named by its path from the EFS root.
 */
export class SegmentFiles {
  /**
   * @param root the EFS root
   * @param dir the segment's folder, relative to the root (`index/segments/<id>`)
   * @param checksums the segment's files' checksums, by name; none for a segment written before them
   */
  constructor(
    readonly root: string,
    readonly dir: string,
    readonly checksums?: Readonly<Record<string, FileChecksum>>,
  ) {}

  /** A file's path relative to the EFS root, as errors name it. */
  file(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** A file's absolute path. */
  path(name: string): string {
    return path.join(this.root, this.dir, name);
  }

  has(name: string): boolean {
    return this.checksums?.[name] !== undefined || existsSync(this.path(name));
  }

  /**
   * A whole file, verified.
   * @throws {IndexDamagedError} when it is missing or does not match its checksum
   */
  read(name: string): Buffer {
    return readVerified(this.root, this.file(name), this.checksums?.[name]);
  }

  /**
   * A file decoded by `decode`; an error of the decoder is damage of the file.
   * @throws {IndexDamagedError}
   */
  decode<T>(name: string, decode: (bytes: Buffer) => T): T {
    const bytes = this.read(name);
    try {
      return decode(bytes);
    } catch (error) {
      throw this.unreadable(name, error);
    }
  }

  /** What a failure to decode a file means: damage of it (an IndexDamagedError already is). */
  private unreadable(name: string, error: unknown): IndexDamagedError {
    if (error instanceof IndexDamagedError) return error;
    return new IndexDamagedError(this.file(name), `cannot be read (${(error as Error).message})`, { cause: error });
  }

  /**
   * The faiss index file, checked against its checksum by a streamed read, then read by faiss
   * itself: one copy of its bytes in memory rather than three (the file read whole, the binding's
   * copy, faiss's), each faulted in fresh.
   * @throws {IndexDamagedError} when it is missing, does not match its checksum, or faiss cannot read it
   */
  faissIndex(kind: SegmentInfo['kind']): faiss.Index {
    this.checkFaissIndex();
    try {
      return kind === 'flat'
        ? faiss.IndexFlatIP.read(this.path(SEGMENT_FILES.index))
        : faiss.Index.read(this.path(SEGMENT_FILES.index));
    } catch (error) {
      throw this.unreadable(SEGMENT_FILES.index, error);
    }
  }

  /**
   * Checks the faiss index file against its checksum (or that it is there, for a segment written
   * before checksums).
   * @throws {IndexDamagedError}
   */
  checkFaissIndex(): void {
    const name = SEGMENT_FILES.index;
    const expected = this.checksums?.[name];
    if (expected) checkFile(this.root, this.file(name), expected);
    else if (!existsSync(this.path(name))) throw new IndexDamagedError(this.file(name), 'is missing');
  }

  /** What `segment.json` says. */
  info(): SegmentInfo {
    const info = parseJsonFile<Partial<SegmentInfo>>(this.file(SEGMENT_FILES.info), this.read(SEGMENT_FILES.info));
    if (typeof info.rows !== 'number' || typeof info.dimensions !== 'number' || typeof info.id !== 'string')
      throw new IndexDamagedError(this.file(SEGMENT_FILES.info), 'lacks the rows, dimensions or id of its segment');
    return info as SegmentInfo;
  }

  /** The key map, read whole: for a caller that goes through most of it (compaction, a merge's lookups). */
  keys(): SegmentKeys {
    return this.decode(SEGMENT_FILES.keys, (bytes) => SegmentKeys.decode(bytes));
  }

  /**
   * The key map, read a page at a time as lookups need it, each page checked against `keys.sum`:
   * for a search, which reads a few pages for each hit and need not hold the rest. A segment
   * written before page checksums is read whole. Close it with the segment.
   * @throws {IndexDamagedError} when the key map's header or page checksums are damaged
   */
  pagedKeys(): SegmentKeys {
    const expected = this.checksums?.[SEGMENT_FILES.keys];
    if (!expected || !this.checksums?.[SEGMENT_FILES.keyPageChecksums]) return this.keys();
    const sums = this.read(SEGMENT_FILES.keyPageChecksums);
    const source = PagedFile.open(this.root, this.file(SEGMENT_FILES.keys), expected.bytes, sums);
    try {
      return SegmentKeys.open(source);
    } catch (error) {
      source.close();
      throw this.unreadable(SEGMENT_FILES.keys, error);
    }
  }

  /**
   * The key filter: none for a segment written before filters (its key map is then read to look a
   * key up). Kept for the process's next runs once read and verified ({@link KEPT_KEY_FILTERS}).
   */
  keyFilter(): KeyFilter | undefined {
    if (!this.has(SEGMENT_FILES.keyFilter)) return undefined;
    const checksum = this.checksums?.[SEGMENT_FILES.keyFilter];
    // Only a filter with a checksum is kept: the checksum names its content.
    const key = checksum && `${this.path(SEGMENT_FILES.keyFilter)}\u0000${checksum.sha256}`;
    const kept = key && keptKeyFilters.get(key);
    if (kept) return kept;
    const filter = this.decode(SEGMENT_FILES.keyFilter, (bytes) => KeyFilter.decode(bytes));
    if (key) {
      if (keptKeyFilters.size >= KEPT_KEY_FILTERS) keptKeyFilters.delete(keptKeyFilters.keys().next().value!);
      keptKeyFilters.set(key, filter);
    }
    return filter;
  }

  /** The filterable attributes: none for a segment written before filters existed. */
  attributes(items: number): AttributeColumns {
    return this.has(SEGMENT_FILES.attributes)
      ? this.decode(SEGMENT_FILES.attributes, (bytes) => AttributeColumns.decode(bytes))
      : AttributeColumns.empty(items);
  }

  /** The lexical index: no terms for a segment written before lexical search existed. */
  lexical(rows: number): LexicalIndex {
    return this.has(SEGMENT_FILES.lexical)
      ? this.decode(SEGMENT_FILES.lexical, (bytes) => LexicalIndex.decode(bytes))
      : LexicalIndex.empty(rows);
  }

  /** The checksum of each row of the vectors file; undefined for a segment written before them. */
  rowChecksums(rows: number): Uint32Array | undefined {
    if (this.checksums?.[SEGMENT_FILES.rowChecksums] === undefined) return undefined;
    return this.decode(SEGMENT_FILES.rowChecksums, (bytes) => {
      if (bytes.byteLength !== rows * 4) throw new Error(`holds ${bytes.byteLength / 4} rows, not ${rows}`);
      return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    });
  }

  /** Opens the vectors file for reading rows, each row checked against its checksum where there are checksums. */
  vectors(info: Pick<SegmentInfo, 'rows' | 'dimensions'>): VectorFile {
    checkSize(this.root, this.file(SEGMENT_FILES.vectors), info.rows * info.dimensions * 4);
    return new VectorFile(this, info.dimensions, this.rowChecksums(info.rows));
  }
}

/** A segment to search for one query ({@link OpenSegment.candidatesOf}). */
export interface CandidateAsk {
  readonly segment: OpenSegment;
  /** Items wanted. */
  readonly k: number;
  /** The rows `[start, end)` searched. */
  readonly range: readonly [number, number];
  /** 1 at each row not to return (dead, or filtered out). */
  readonly skip?: Uint8Array;
  /** Rows of the range not skipped (all of them by default). */
  readonly admitted?: number;
  /** For an IVF segment: the lists visited (its own probes by default; at most its lists). */
  readonly probes?: number;
}

/** A segment's candidates for one query, best first by faiss's score. */
export interface Candidates {
  readonly hits: RowHit[];
  /** Whether the scores are the compressed codes' (IVF), to be re-ranked with the exact vectors. */
  readonly approximate: boolean;
  /** Items among the hits, at most the `k` asked: fewer when faiss had no more. */
  readonly items: number;
}

/** One scored row of a segment. */
export interface RowHit {
  readonly row: number;
  readonly score: number;
}

/** Rows read per call while scanning a segment's vectors file. */
export const SCAN_CHUNK_ROWS = 4_096;

/** A segment's vectors file, open for reading rows by position, each row read checked against its checksum. */
export class VectorFile {
  private readonly fd: number;
  private readonly rowBytes: number;

  constructor(
    private readonly files: SegmentFiles,
    readonly dimensions: number,
    private readonly sums?: Uint32Array,
  ) {
    this.fd = openSync(files.path(SEGMENT_FILES.vectors), 'r');
    this.rowBytes = dimensions * 4;
  }

  /**
   * Rows `[start, end)`, row-major.
   * @throws {IndexDamagedError} when the file ends early or a row does not match its checksum
   */
  read(start: number, end: number): Float32Array {
    const bytes = Buffer.allocUnsafe((end - start) * this.rowBytes);
    for (let done = 0; done < bytes.length;) {
      const read = readSync(this.fd, bytes, done, bytes.length - done, start * this.rowBytes + done);
      if (read === 0)
        throw this.damaged(
          `ends before the end of row ${(start + Math.floor(done / this.rowBytes)).toLocaleString('en-US')}`,
        );
      done += read;
    }
    const vectors = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    if (this.sums) {
      const bad = firstBadRow(vectors, this.dimensions, start, this.sums);
      if (bad >= 0) throw this.damaged(`row ${bad.toLocaleString('en-US')} does not match its checksum`);
    }
    return vectors;
  }

  /**
   * Tells the kernel these rows will be read soon ({@link faiss.adviseRows}): those not in the
   * page cache are then fetched side by side, where reading them one after another waits for each.
   * A re-rank's rows are scattered over files larger than the cache at 10M items, and on EFS each
   * read is a round trip.
   */
  willNeed(rows: readonly number[]): void {
    faiss.adviseRows(this.fd, this.rowBytes, Float64Array.from(rows));
  }

  /**
   * The given rows (ascending: rows close together then share the file's pages), row-major, read
   * with one call; {@link willNeed} first has them fetched side by side.
   * @throws {IndexDamagedError} when the file ends before a row or a row does not match its checksum
   */
  readRows(rows: readonly number[]): Float32Array {
    const bytes = new Uint8Array(rows.length * this.rowBytes);
    const whole = faiss.readRows(this.fd, this.rowBytes, Float64Array.from(rows), bytes);
    if (whole < rows.length) throw this.damaged(`ends before the end of row ${rows[whole]!.toLocaleString('en-US')}`);
    if (this.sums) {
      const words = new Uint32Array(bytes.buffer, 0, bytes.length / 4);
      for (const [i, row] of rows.entries())
        if (rowChecksum(words, i * this.dimensions, this.dimensions) !== this.sums[row])
          throw this.damaged(`row ${row.toLocaleString('en-US')} does not match its checksum`);
    }
    return new Float32Array(bytes.buffer, 0, bytes.length / 4);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The error naming this file and what is wrong with it. */
  private damaged(problem: string): IndexDamagedError {
    return new IndexDamagedError(this.files.file(SEGMENT_FILES.vectors), problem);
  }
}

/**
 * A published segment opened for search: its index and key map in memory, its vectors file
 * open for the rows a query needs (re-ranking, group scans). Open file handles keep the files
 * readable after a later compaction removes them.
 */
export class OpenSegment {
  private constructor(
    readonly info: SegmentInfo,
    readonly keys: SegmentKeys,
    readonly attributes: AttributeColumns,
    readonly lexical: LexicalIndex,
    private readonly index: faiss.Index,
    private readonly vectors: VectorFile,
    /** Candidates an IVF segment re-ranks with exact vectors when searched alone (0 for a flat one). */
    readonly rerankDepth: number,
    /** An IVF segment's lists visited, alone and beside others (absent: a flat one, or its file did not say). */
    readonly probes: IvfProbes | undefined,
  ) {
    this.visiting = probes?.probes;
  }

  /** The lists its faiss index visits now (set by {@link candidatesOf} for each query). */
  private visiting: number | undefined;

  /**
   * Opens a published segment, every file verified as it is read (the vectors file by its size
   * here, then row by row as rows are read).
   * @param faissIndex its faiss index, already read and checked ({@link openEach})
   * @param info its `segment.json`, already read
   * @throws {IndexDamagedError} naming the first damaged file
   */
  static open(files: SegmentFiles, faissIndex?: faiss.Index, info = files.info()): OpenSegment {
    const keys = files.pagedKeys();
    let vectors: VectorFile | undefined;
    try {
      vectors = files.vectors(info);
      // A flat segment's index is its vectors file (segments written before this have index.faiss too).
      const index =
        faissIndex ??
        (info.kind === 'flat' && !files.has(SEGMENT_FILES.index)
          ? flatIndexOf(vectors.read(0, info.rows), info.dimensions)
          : files.faissIndex(info.kind));
      if (index.ntotal() !== info.rows || keys.rows !== info.rows)
        throw new IndexDamagedError(
          files.file(SEGMENT_FILES.info),
          `says ${info.rows} rows, but its index holds ${index.ntotal()} vectors and keys.bin ${keys.rows} keys`,
        );
      const attributes = files.attributes(keys.items);
      const lexical = files.lexical(keys.rows);
      const { probes, rerank } = info.kind === 'ivf' ? ivfSearchOf(info) : { rerank: 0 };
      if (probes) index.setNprobe(probes.probes);
      return new OpenSegment(info, keys, attributes, lexical, index, vectors, rerank, probes);
    } catch (error) {
      // The files held open so far are let go of: a search retries a damaged index at every query.
      vectors?.close();
      keys.close();
      throw error;
    }
  }

  /**
   * Opens published segments as {@link open} does, their IVF index files mapped side by side
   * (`faiss.readEach`, one OpenMP thread a file: at 10M items, a gigabyte of codes). A file whose
   * manifest records its CRC-32 is parsed only once its mapped bytes match it, and its lists of
   * codes are searched in the mapped pages (segments written before the contiguous form are read
   * list by list). Older files are checked by SHA-256 first. When the read fails, each is read on
   * its own, which names the damaged file.
   * @throws {IndexDamagedError} naming the first damaged file
   */
  static openEach(segments: readonly SegmentFiles[]): OpenSegment[] {
    const infos = new Map(segments.map((files) => [files, files.info()]));
    const ivf = segments.filter((files) => infos.get(files)!.kind === 'ivf');
    const read = new Map<SegmentFiles, faiss.Index>();
    if (ivf.length > 0) {
      const recorded = (files: SegmentFiles) => files.checksums?.[SEGMENT_FILES.index];
      for (const files of ivf) {
        const expected = recorded(files);
        if (expected?.crc32 !== undefined) checkSize(files.root, files.file(SEGMENT_FILES.index), expected.bytes);
        else files.checkFaissIndex();
      }
      let answers: faiss.ReadEachResult[] = [];
      try {
        answers = faiss.readEach(
          ivf.map((files) => files.path(SEGMENT_FILES.index)),
          ivf.map((files) => recorded(files)?.crc32),
        );
      } catch {
        // Read one by one below: the error then names its segment's file.
      }
      answers.forEach(({ index, bytes }, at) => {
        const files = ivf[at]!;
        const expected = recorded(files);
        // readEach parsed no file whose CRC-32 differs; the size is the one part left to compare.
        if (!index || (expected?.crc32 !== undefined && bytes !== expected.bytes))
          throw new IndexDamagedError(
            files.file(SEGMENT_FILES.index),
            'does not match its checksum (its content changed since it was written)',
          );
        read.set(files, index);
      });
    }
    return segments.map((files) => OpenSegment.open(files, read.get(files), infos.get(files)));
  }

  get rows(): number {
    return this.info.rows;
  }

  /** The exact vectors of rows `[start, end)`, row-major. */
  vectorsOf(start: number, end: number): Float32Array {
    return this.vectors.read(start, end);
  }

  close(): void {
    this.vectors.close();
    this.keys.close();
  }

  /**
   * Tells the kernel the rows' vectors will be read soon (by {@link rerank}): rows announced
   * together, over every segment a query re-ranks, are fetched side by side.
   */
  willRerank(rows: readonly number[]): void {
    this.vectors.willNeed(rows);
  }

  /**
   * The exact score of each row against the query, its vectors read together in row order (rows
   * close together are then read from the same pages).
   */
  rerank(query: Float32Array, rows: readonly number[]): RowHit[] {
    const d = this.info.dimensions;
    const ordered = [...rows].sort((a, b) => a - b);
    const vectors = this.vectors.readRows(ordered);
    return ordered.map((row, i) => {
      let score = 0;
      for (let j = 0; j < d; j++) score += query[j]! * vectors[i * d + j]!;
      return { row, score };
    });
  }

  /**
   * Each segment's candidates for one query: up to `k` best items with a row in `range` not in
   * `skip` (dead, or filtered out), by faiss. A flat segment's are exact; an IVF segment's are
   * scored by its compressed codes, as many rows as hold `k` items and at least its re-rank
   * depth, for the caller to re-rank with {@link rerank}. The first faiss request of every
   * segment is made at once (`faiss.searchEach`: the segments side by side on every core); a
   * segment whose rows fall short of `k` items asks again for more on its own, until faiss has
   * no more (`items` is then under `k`: the visited lists of an IVF index hold fewer, and
   * {@link scan} is exact). `admitted`, the rows of the range not skipped, sizes the first
   * request so that it rarely needs a second.
   */
  static candidatesOf(query: Float32Array, asks: readonly CandidateAsk[]): Candidates[] {
    const first = asks.map(({ segment, k, range, admitted = range[1] - range[0] }) =>
      range[1] <= range[0] || admitted <= 0
        ? 0
        : Math.min(segment.rows, Math.ceil(Math.max(k, segment.rerankDepth) / (admitted / segment.rows)) + 4),
    );
    const asked = asks.flatMap((_, i) => (first[i]! > 0 ? [i] : []));
    for (const i of asked) asks[i]!.segment.visit(asks[i]!.probes);
    const answers = faiss.searchEach(
      asked.map((i) => asks[i]!.segment.index),
      query,
      asked.map((i) => first[i]!),
    );
    const answerOf = new Map(asked.map((i, at) => [i, answers[at]!]));
    return asks.map((ask, i) => {
      const answer = answerOf.get(i);
      return answer ? ask.segment.collect(query, ask, first[i]!, answer) : { hits: [], approximate: false, items: 0 };
    });
  }

  /** Sets the lists its faiss index visits (its own probes when not given; a flat one has none). */
  private visit(probes = this.probes?.probes): void {
    if (probes === undefined || this.info.kind !== 'ivf') return;
    const visiting = Math.min(probes, listsOf(this.info) ?? probes);
    if (visiting === this.visiting) return;
    this.index.setNprobe(visiting);
    this.visiting = visiting;
  }

  /** A segment's candidates from faiss's answer to a request of `fetch` rows, asking again while they fall short. */
  private collect(
    query: Float32Array,
    { k, range: [start, end], skip }: CandidateAsk,
    fetch: number,
    answer: faiss.SearchEachResult,
  ): Candidates {
    const ivf = this.info.kind === 'ivf';
    for (;;) {
      const { labels, distances } = answer;
      const hits: RowHit[] = [];
      const items = new Set<number>();
      // Rows needed to hold k items (and, for IVF, at least the re-ranked candidates).
      let needed = 0;
      let returned = 0;
      labels.forEach((row, i) => {
        if (row < 0) return;
        returned += 1;
        if (row < start || row >= end || skip?.[row] === 1) return;
        hits.push({ row, score: distances[i]! });
        if (items.size < k) {
          items.add(this.keys.firstRow(row));
          needed = hits.length;
        }
      });
      if (items.size >= k || fetch >= this.rows || returned < fetch)
        return {
          hits: ivf ? hits.slice(0, Math.max(needed, this.rerankDepth)) : hits,
          approximate: ivf,
          items: items.size,
        };
      fetch = Math.min(this.rows, fetch * 4);
      [answer] = faiss.searchEach([this.index], query, [fetch]) as [faiss.SearchEachResult];
    }
  }

  /** Rows ranked best first, one per item (its best row). */
  bestPerItem(rows: readonly RowHit[]): RowHit[] {
    const sorted = [...rows].sort((a, b) => b.score - a.score);
    if (!this.keys.hasPassages) return sorted;
    const seen = new Set<number>();
    return sorted.filter((hit) => {
      const item = this.keys.firstRow(hit.row);
      if (seen.has(item)) return false;
      seen.add(item);
      return true;
    });
  }

  /**
   * The `k` best items with a row in `[start, end)` not in `skip`, exactly, each as its best row,
   * reading only the admitted rows from the vectors file (runs of them, small gaps read through).
   */
  scan(query: Float32Array, k: number, range: readonly [number, number], skip?: Uint8Array): RowHit[] {
    const d = this.info.dimensions;
    const best: RowHit[] = [];
    let floor = -Infinity;
    // An item's rows are contiguous: its best row is known once the scan leaves it.
    let item = -1;
    let itemBest: RowHit | undefined;
    const keep = (hit: RowHit | undefined): void => {
      if (!hit || (best.length >= k && hit.score <= floor)) return;
      best.push(hit);
      if (best.length > k * 2) {
        best.sort((a, b) => b.score - a.score).length = k;
        floor = best[k - 1]!.score;
      }
    };
    for (const [runStart, runEnd] of admittedRuns(range, skip)) {
      for (let from = runStart; from < runEnd; from += SCAN_CHUNK_ROWS) {
        const to = Math.min(runEnd, from + SCAN_CHUNK_ROWS);
        const vectors = this.vectors.read(from, to);
        for (let row = from; row < to; row++) {
          if (skip?.[row] === 1) continue;
          let score = 0;
          const offset = (row - from) * d;
          for (let j = 0; j < d; j++) score += query[j]! * vectors[offset + j]!;
          const first = this.keys.firstRow(row);
          if (first !== item) {
            keep(itemBest);
            item = first;
            itemBest = { row, score };
          } else if (score > itemBest!.score) itemBest = { row, score };
        }
      }
    }
    keep(itemBest);
    return best.sort((a, b) => b.score - a.score).slice(0, k);
  }
}

/** Skipped rows read through rather than starting a new read: one read costs more than a few rows. */
const READ_THROUGH_ROWS = 16;

/** The runs `[start, end)` of a range that hold every row not in `skip`, joined across small gaps. */
export function admittedRuns(range: readonly [number, number], skip?: Uint8Array): [number, number][] {
  const [start, end] = range;
  if (!skip) return end > start ? [[start, end]] : [];
  const runs: [number, number][] = [];
  for (let row = start; row < end; row++) {
    if (skip[row] === 1) continue;
    const last = runs[runs.length - 1];
    if (last && row - last[1] <= READ_THROUGH_ROWS) last[1] = row + 1;
    else runs.push([row, row + 1]);
  }
  return runs;
}
