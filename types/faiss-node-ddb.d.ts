// faiss-node as ddb-faiss builds it (scripts/faiss-node-binding.js, SOURCE_PATCH): `add` and
// `train` also take a Float32Array, read in place instead of copied value by value; and
// `searchEach` searches several indexes for one query and `readEach` maps several index files
// (with each file's CRC-32), each in parallel; `writeMappable`, the form whose inverted lists
// `readEach` leaves in the mapped file; `setNprobe`; and `adviseRows` and `readRows`, rows of a
// file announced to the kernel and read (not faiss's, but the same native build).
import 'faiss-node';

declare module 'faiss-node' {
  interface Index {
    add(x: number[] | Float32Array): void;
    train(x: number[] | Float32Array): void;
    /**
     * Lists an IVF index visits per query.
     * @throws {TypeError} when the index is not IVF
     */
    setNprobe(nprobe: number): void;
  }

  /** One index's answer to {@link searchEach}: labels (rows, -1 past the end) best first, and their distances. */
  interface SearchEachResult {
    distances: Float32Array;
    labels: Float64Array;
  }

  /**
   * Searches each index for its `ks[i]` nearest rows to one query, the indexes side by side on
   * faiss's OpenMP threads (faiss itself searches one query on one thread).
   * @throws {Error} when a k is outside 1..ntotal or the query's length is not an index's dimension
   */
  function searchEach(indexes: readonly Index[], query: Float32Array, ks: readonly number[]): SearchEachResult[];

  /** One file's answer to {@link readEach}: its index, the CRC-32 (zlib's) and size of the whole file. */
  interface ReadEachResult {
    /** Absent when the file's CRC-32 is not the one expected: the file is then not parsed at all. */
    index?: Index;
    crc32: number;
    bytes: number;
    /** Whether the index's inverted lists are the mapped file's own pages ({@link writeMappable}'s contiguous form). */
    contiguous: boolean;
  }

  /**
   * Maps each index file read-only, the files side by side on faiss's OpenMP threads, computes
   * each file's CRC-32 and, unless it is not `expectedCrc32[i]`, reads its index. Fast-scan
   * inverted lists written by {@link writeMappable} stay in the mapped pages (no copy, no fresh
   * memory); any other index is read list by list, as faiss reads it.
   * @throws {Error} naming the first file faiss could not read
   */
  function readEach(paths: readonly string[], expectedCrc32?: readonly (number | undefined)[]): ReadEachResult[];

  /**
   * The index as faiss's `write_index` writes it, except that fast-scan inverted lists take a
   * contiguous form (each list's ids and codes on 64-byte boundaries) that {@link readEach}
   * leaves in the mapped file. Any faiss-node read (`read`, `fromBuffer`) of this build also reads it.
   */
  function writeMappable(index: Index): Buffer;

  /**
   * Tells the kernel that these rows (of `rowBytes` bytes each) of an open file are needed soon
   * (`POSIX_FADV_WILLNEED`): it starts reading those not in the page cache and waits for none, so
   * rows advised together before any is read are fetched side by side.
   * @throws {RangeError} when a row is not a row number
   */
  function adviseRows(fd: number, rowBytes: number, rows: Float64Array): void;

  /**
   * Reads rows of `rowBytes` bytes each from an open file into `into`, in the order given.
   * @returns how many rows were read whole: `rows.length`, or the position of the first row the
   *   file ends before
   * @throws {RangeError} when a row is not a row number or `into` is too small
   * @throws {Error} when the file cannot be read (the system's reason)
   */
  function readRows(fd: number, rowBytes: number, rows: Float64Array, into: Uint8Array): number;
}
