/**
 * Binary files read whole or a page at a time through one interface ({@link ByteSource}): a
 * search opens a segment's key map without reading it (at 10M items, 430 MB of key maps were
 * 2.2 s of a 5.5 s cold start, most of it faulting fresh memory), and reads the 4 KB pages its
 * hits need. Each page is checked against its checksum (`pageChecksums`, stored beside the file
 * and itself verified whole) before it is used, so a page read lazily is as verified as a file
 * read whole: damage is an {@link IndexDamagedError} naming the file and page, never a wrong key.
 *
 * @example
 * ```ts
 * writeFileSync('keys.sum', pageChecksums(bytes));
 * const source = PagedFile.open('/efs', 'index/segments/s1/keys.bin', bytes.byteLength, readFileSync('keys.sum'));
 * source.u32(16); // the word at byte 16, from the file's first page, checked
 * source.close();
 * ```
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import faiss from 'faiss-node';
import { existing, IndexDamagedError, rowChecksum, sizeDamage } from './integrity.ts';

/** Bytes a page holds: the page cache's unit, so a page read is one cached page. */
export const PAGE_BYTES = 4_096;
const PAGE_WORDS = PAGE_BYTES / 4;
const PAGE_SHIFT = 12;
const PAGE_MASK = PAGE_BYTES - 1;

/** A file's bytes, read by position: 32-bit words and doubles at aligned offsets, and byte runs. */
export interface ByteSource {
  readonly byteLength: number;
  /** The unsigned 32-bit word at byte `at` (a multiple of 4). */
  u32(at: number): number;
  /** The float64 at byte `at` (a multiple of 8). */
  f64(at: number): number;
  /** The `length` bytes from `at`. */
  bytes(at: number, length: number): Uint8Array;
  /**
   * Announces that the bytes at these offsets will be read soon: a file read a page at a time has
   * the pages it does not keep fetched side by side, instead of one after another as each is
   * asked for (bytes in memory need nothing). Advice only: an offset past the end is ignored.
   */
  willNeed(at: readonly number[]): void;
  /** Lets go of the file, if one is held open. */
  close(): void;
}

/** Bytes held in memory: views over one buffer, no copy. */
export class BufferSource implements ByteSource {
  private readonly words: Uint32Array;
  private readonly doubles: Float64Array;
  private readonly all: Uint8Array;

  /** @param bytes the file's bytes, starting on an 8-byte boundary (copied if they do not) */
  constructor(bytes: Uint8Array) {
    const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    const { buffer, byteOffset, byteLength } = aligned;
    this.all = aligned;
    this.words = new Uint32Array(buffer, byteOffset, byteLength >>> 2);
    this.doubles = new Float64Array(buffer, byteOffset, byteLength >>> 3);
  }

  get byteLength(): number {
    return this.all.byteLength;
  }

  u32(at: number): number {
    return this.words[at >>> 2]!;
  }

  f64(at: number): number {
    return this.doubles[at >>> 3]!;
  }

  bytes(at: number, length: number): Uint8Array {
    return this.all.subarray(at, at + length);
  }

  willNeed(): void {}

  close(): void {}
}

/**
 * The checksum of each 4 KB page of `bytes` (the last page counted as if padded with zeros), as
 * 32-bit words: what {@link PagedFile} checks each page it reads against.
 */
export function pageChecksums(bytes: Uint8Array): Uint8Array {
  const pages = Math.ceil(bytes.byteLength / PAGE_BYTES);
  const sums = new Uint32Array(pages);
  const page = new Uint8Array(PAGE_BYTES);
  const words = new Uint32Array(page.buffer);
  for (let p = 0; p < pages; p++) {
    page.fill(0).set(bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES));
    sums[p] = rowChecksum(words, 0, PAGE_WORDS);
  }
  return new Uint8Array(sums.buffer);
}

/** Pages a {@link PagedFile} keeps (1 MB): the header and group pages every lookup reads stay. */
export const CACHED_PAGES = 256;

/**
 * A file held open and read a page at a time as its bytes are asked for, each page checked
 * against its checksum when read. The last {@link CACHED_PAGES} pages read are kept in one buffer,
 * reused: a search reading a few pages a hit touches no fresh memory once it is warm (a fresh
 * 4 KB page costs about 20 µs to fault in on this VM, more than reading and checking one). The file
 * handle keeps the file readable after a later compaction removes it, until {@link close}.
 */
export class PagedFile implements ByteSource {
  /** Where each kept page is in the buffer, least recently used first. */
  private readonly slotOf = new Map<number, number>();
  /** The kept pages, one after another (zeroed memory the system gives page by page, as used). */
  private readonly buffer = new Uint8Array(CACHED_PAGES * PAGE_BYTES);
  private readonly words = new Uint32Array(this.buffer.buffer);
  private readonly doubles = new Float64Array(this.buffer.buffer);
  private reads = 0;
  private announced = 0;

  private constructor(
    private readonly fd: number,
    /** The file's path relative to the EFS root, as errors name it. */
    private readonly file: string,
    readonly byteLength: number,
    private readonly sums: Uint32Array,
  ) {}

  /**
   * Opens a file whose pages' checksums are `sums` (bytes {@link pageChecksums} wrote, already verified).
   * @throws {IndexDamagedError} when the file is missing, of another size than `bytes`, or `sums` do not cover it
   */
  static open(root: string, file: string, bytes: number, sums: Uint8Array): PagedFile {
    if (sums.byteLength !== 4 * Math.ceil(bytes / PAGE_BYTES))
      throw new IndexDamagedError(file, `has ${sums.byteLength / 4} page checksums for ${bytes} bytes`);
    const fd = existing(file, () => openSync(path.join(root, file), 'r'));
    const size = fstatSync(fd).size;
    if (size !== bytes) {
      closeSync(fd);
      throw sizeDamage(file, size, bytes);
    }
    const words = new Uint32Array(sums.byteLength / 4);
    new Uint8Array(words.buffer).set(sums);
    return new PagedFile(fd, file, bytes, words);
  }

  u32(at: number): number {
    const slot = this.slot(at >>> PAGE_SHIFT);
    return this.words[(slot << (PAGE_SHIFT - 2)) + ((at & PAGE_MASK) >>> 2)]!;
  }

  f64(at: number): number {
    const slot = this.slot(at >>> PAGE_SHIFT);
    return this.doubles[(slot << (PAGE_SHIFT - 3)) + ((at & PAGE_MASK) >>> 3)]!;
  }

  bytes(at: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, length));
    for (let done = 0; done < out.length;) {
      const from = (at + done) & PAGE_MASK;
      const part = Math.min(PAGE_BYTES - from, out.length - done);
      const base = this.slot((at + done) >>> PAGE_SHIFT) << PAGE_SHIFT;
      out.set(this.buffer.subarray(base + from, base + from + part), done);
      done += part;
    }
    return out;
  }

  /**
   * Has the kernel start reading the pages holding these offsets that are not kept (all of them
   * at once, waiting for none: `faiss.adviseRows`, POSIX_FADV_WILLNEED), so that the reads that
   * follow find them fetched or on their way. On EFS each page read is a round trip; on a disk
   * where the index outgrows the page cache, a cold page about 0.1 ms here.
   */
  willNeed(at: readonly number[]): void {
    const pages = new Set<number>();
    for (const offset of at) {
      const p = offset >>> PAGE_SHIFT;
      if (offset >= 0 && offset < this.byteLength && !this.slotOf.has(p)) pages.add(p);
    }
    if (pages.size === 0) return;
    faiss.adviseRows(this.fd, PAGE_BYTES, Float64Array.from(pages));
    this.announced += pages.size;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Pages announced to the kernel so far ({@link willNeed}), not counting those already kept. */
  get pagesAnnounced(): number {
    return this.announced;
  }

  /** Pages read from the file so far (a page read again after it was let go of counts again). */
  get pagesRead(): number {
    return this.reads;
  }

  /** The buffer slot holding page `p`, read and checked if it is not kept. */
  private slot(p: number): number {
    const kept = this.slotOf.get(p);
    if (kept !== undefined) {
      // Most recently used: last in the map's order.
      this.slotOf.delete(p);
      this.slotOf.set(p, kept);
      return kept;
    }
    if (p >= this.sums.length)
      throw new IndexDamagedError(this.file, `has no page ${p}: it is ${this.byteLength} bytes`);
    let slot = this.slotOf.size;
    if (slot === CACHED_PAGES) {
      const [oldest, freed] = this.slotOf.entries().next().value!;
      this.slotOf.delete(oldest);
      slot = freed;
    }
    const page = this.buffer.subarray(slot * PAGE_BYTES, (slot + 1) * PAGE_BYTES);
    const want = Math.min(PAGE_BYTES, this.byteLength - p * PAGE_BYTES);
    for (let done = 0; done < want;) {
      const read = readSync(this.fd, page, done, want - done, p * PAGE_BYTES + done);
      if (read === 0) throw new IndexDamagedError(this.file, `ends inside page ${p}`);
      done += read;
    }
    page.fill(0, want);
    this.reads += 1;
    if (rowChecksum(this.words, slot * PAGE_WORDS, PAGE_WORDS) !== this.sums[p])
      throw new IndexDamagedError(this.file, `page ${p} (bytes from ${p * PAGE_BYTES}) does not match its checksum`);
    this.slotOf.set(p, slot);
    return slot;
  }
}
