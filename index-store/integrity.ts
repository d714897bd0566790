/**
 * Integrity of the published index: every file a generation lists carries its size and SHA-256
 * (a segment's files and tombstones in the generation's manifest, the manifest in
 * `CURRENT.json`), verified while the file is read, never by a second read. A segment's vectors
 * file is read a few rows at a time (re-ranking, group scans), so it is covered row by row
 * instead: `vectors.sum` holds a 32-bit checksum of each row, and every row read is checked
 * against it before it is scored. Damage is an {@link IndexDamagedError} that names the file and
 * says what heals it; never a wrong answer.
 *
 * @example
 * ```ts
 * const bytes = readVerified(dir, 'segments/seg-1/keys.bin', ref.checksums?.['segments/seg-1/keys.bin']);
 * ```
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { advise } from '../config/advice.ts';
import { RequestError } from '../config/errors.ts';

/** A file's size and SHA-256, as a manifest records it. */
export interface FileChecksum {
  readonly bytes: number;
  readonly sha256: string;
  /**
   * Its CRC-32 (zlib's): what a search checks a faiss index file against, computed by the native
   * reader as faiss reads the file, where the SHA-256 would need a read of its own (0.7 s of a
   * 10M index's load). Absent in manifests written before it.
   */
  readonly crc32?: number;
}

/** What heals a damaged index: a backfill rebuilds it from the table, whatever state it is in. */
export const DAMAGE_REMEDY = `run ${advise('backfill')} to rebuild the index from the table`;

/**
 * Thrown when a published index file is missing, truncated, or does not match its checksum.
 * Never retried: the same bytes fail the same way. Search answers it with a 503; a run fails
 * with it (a backfill does not read the old index, so it always heals).
 */
export class IndexDamagedError extends RequestError {
  override readonly name = 'IndexDamagedError';
  readonly code = 'index-damaged';
  readonly status = 503;

  /**
   * @param file the damaged file, relative to the EFS root (`index/segments/<id>/keys.bin`)
   * @param problem what is wrong with it (`is 1,024 bytes; its manifest says 4,096`)
   */
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`the index is damaged: ${file} ${problem}; ${DAMAGE_REMEDY}`, options);
  }

  /** The segment the file belongs to, when it is a segment's. */
  get segment(): string | undefined {
    return /(?:^|\/)segments\/([^/]+)\//.exec(this.file)?.[1] ?? /(?:^|\/)tombstones\/([^.]+)\./.exec(this.file)?.[1];
  }
}

/** The size, SHA-256 and CRC-32 of bytes about to be written. */
export const checksumOf = (bytes: Uint8Array): FileChecksum => ({
  bytes: bytes.byteLength,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  crc32: crc32(bytes),
});

const formatBytes = (bytes: number): string => `${bytes.toLocaleString('en-US')} bytes`;

/** Runs `open` on a file, a missing file being damage (any other error is not). */
export function existing<T>(file: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new IndexDamagedError(file, 'is missing');
    throw error;
  }
}

/** The damage of a file of another size than its manifest records. */
export const sizeDamage = (file: string, size: number, expected: number): IndexDamagedError =>
  new IndexDamagedError(file, `is ${formatBytes(size)}; its manifest says ${formatBytes(expected)}`);

/**
 * Reads a whole file, checked against its recorded checksum when there is one (files written
 * before checksums have none, and are read as they are).
 * @param root the folder `file` is relative to (the EFS root), so errors name the file as a user finds it
 * @throws {IndexDamagedError} when the file is missing, of another size, or of other content
 */
export function readVerified(root: string, file: string, expected: FileChecksum | undefined): Buffer {
  const bytes = existing(file, () => readFileSync(path.join(root, file)));
  if (expected) {
    if (bytes.byteLength !== expected.bytes) throw sizeDamage(file, bytes.byteLength, expected.bytes);
    if (checksumOf(bytes).sha256 !== expected.sha256)
      throw new IndexDamagedError(file, 'does not match its checksum (its content changed since it was written)');
  }
  return bytes;
}

/** Bytes read at a time by {@link checkFile}: one buffer, reused. */
const CHECK_CHUNK_BYTES = 4 << 20;

/**
 * Checks a file against its recorded checksum, streamed through one small buffer: for a large file
 * that a library then reads itself (a faiss index), where reading it whole first would hold it
 * twice and fault in fresh memory for the copy (about 1.5 s of a 100 MB index's 2 s load here).
 * @throws {IndexDamagedError} when the file is missing, of another size, or of other content
 */
export function checkFile(root: string, file: string, expected: FileChecksum): void {
  const fd = existing(file, () => openSync(path.join(root, file), 'r'));
  try {
    const size = fstatSync(fd).size;
    if (size !== expected.bytes) throw sizeDamage(file, size, expected.bytes);
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(Math.min(CHECK_CHUNK_BYTES, Math.max(1, size)));
    for (let done = 0; done < size;) {
      const read = readSync(fd, chunk, 0, Math.min(chunk.length, size - done), done);
      if (read === 0)
        throw new IndexDamagedError(file, `ends at ${formatBytes(done)}; its manifest says ${formatBytes(size)}`);
      hash.update(chunk.subarray(0, read));
      done += read;
    }
    if (hash.digest('hex') !== expected.sha256)
      throw new IndexDamagedError(file, 'does not match its checksum (its content changed since it was written)');
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks a file's size without reading it (a stat): how a run notices a truncated file it does
 * not read.
 * @throws {IndexDamagedError} when the file is missing or of another size
 */
export function checkSize(root: string, file: string, bytes: number): void {
  const { size } = existing(file, () => statSync(path.join(root, file)));
  if (size !== bytes) throw sizeDamage(file, size, bytes);
}

/**
 * Parses a JSON file's bytes.
 * @throws {IndexDamagedError} naming the file when it is not JSON
 */
export function parseJsonFile<T>(file: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new IndexDamagedError(file, 'is not valid JSON', { cause: error });
  }
}

/**
 * A 32-bit checksum of one row of vectors, over its float bits as 32-bit words (Fletcher-style
 * sums, so that a changed, zeroed or moved word changes it). Cheap enough to check on every row a
 * search reads: about 0.25 µs for 356 dimensions, where a row's dot product takes about 0.3 µs.
 */
export function rowChecksum(words: Uint32Array, start: number, length: number): number {
  let a = 0;
  let b = 0;
  for (let i = start, end = start + length; i < end; i++) {
    a = (a + words[i]!) | 0;
    b = (b + a) | 0;
  }
  return (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
}

/** The checksum of each row of row-major vectors. */
export function rowChecksums(vectors: Float32Array, dimensions: number): Uint32Array {
  const words = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const rows = vectors.length / dimensions;
  const sums = new Uint32Array(rows);
  for (let row = 0; row < rows; row++) sums[row] = rowChecksum(words, row * dimensions, dimensions);
  return sums;
}

/**
 * The first row of `vectors` (rows `first`, `first + 1`, ...) that does not match its checksum
 * in `sums`, or -1 when every row does.
 */
export function firstBadRow(vectors: Float32Array, dimensions: number, first: number, sums: Uint32Array): number {
  const words = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const rows = vectors.length / dimensions;
  for (let row = 0; row < rows; row++)
    if (rowChecksum(words, row * dimensions, dimensions) !== sums[first + row]) return first + row;
  return -1;
}
