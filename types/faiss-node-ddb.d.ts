// faiss-node as ddb-faiss builds it (scripts/faiss-node-binding.js, SOURCE_PATCH): `add` and
// `train` also take a Float32Array, read in place instead of copied value by value; and
// `searchEach` searches several indexes for one query and `readEach` reads several index files
// (with each file's CRC-32), each in parallel; `setNprobe`.
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

  /** One file's answer to {@link readEach}: its index, and the CRC-32 (zlib's) and size of every byte read. */
  interface ReadEachResult {
    index: Index;
    crc32: number;
    bytes: number;
  }

  /**
   * Reads each index file, the files side by side on faiss's OpenMP threads, each file's CRC-32
   * computed as it is read (the whole file, what faiss leaves unread included).
   * @throws {Error} naming the first file faiss could not read
   */
  function readEach(paths: readonly string[]): ReadEachResult[];
}
