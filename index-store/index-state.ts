/**
 * An index in memory: a Faiss inner-product index plus, for each Faiss label (its position),
 * the item it holds. faiss-node labels are positions 0..ntotal-1 and `removeIds` compacts the
 * index keeping order, so the entry list is compacted the same way: the key <-> label mapping
 * stays exact through removals.
 */
import faiss from 'faiss-node';

/** One indexed item: its keys and the pending version its vector was embedded from. */
export interface IndexEntry {
  readonly group: string;
  readonly id: string;
  readonly version: number;
}

export const entryKey = (entry: Pick<IndexEntry, 'group' | 'id'>): string => `${entry.group}\u0000${entry.id}`;

/** Values crossing into faiss-node per `add` call: bounds the number[] copy it needs. */
const ADD_CHUNK_FLOATS = 4_000_000;

export class IndexState {
  private readonly positions = new Map<string, number>();

  constructor(
    readonly index: faiss.IndexFlatIP,
    readonly entries: IndexEntry[],
  ) {
    if (index.ntotal() !== entries.length)
      throw new Error(`index holds ${index.ntotal()} vectors but ${entries.length} entries`);
    entries.forEach((entry, position) => this.positions.set(entryKey(entry), position));
  }

  static empty(dimensions: number): IndexState {
    return new IndexState(new faiss.IndexFlatIP(dimensions), []);
  }

  get size(): number {
    return this.entries.length;
  }

  get dimensions(): number {
    return this.index.getDimension();
  }

  has(key: string): boolean {
    return this.positions.has(key);
  }

  /** Removes the vectors of these keys (absent keys are ignored). @returns how many were removed */
  remove(keys: Iterable<string>): number {
    const labels = [
      ...new Set([...keys].map((key) => this.positions.get(key)).filter((p): p is number => p !== undefined)),
    ].sort((a, b) => a - b);
    if (labels.length === 0) return 0;
    const removed = this.index.removeIds(labels);
    if (removed !== labels.length) throw new Error(`faiss removed ${removed} of ${labels.length} vectors`);
    const drop = new Set(labels);
    let write = 0;
    for (let read = 0; read < this.entries.length; read++) {
      if (!drop.has(read)) this.entries[write++] = this.entries[read]!;
    }
    this.entries.length = write;
    this.positions.clear();
    this.entries.forEach((entry, position) => this.positions.set(entryKey(entry), position));
    return labels.length;
  }

  /** Appends vectors (row-major, `dimensions` floats each) for entries whose keys are not present. */
  add(entries: readonly IndexEntry[], vectors: Float32Array): void {
    const d = this.dimensions;
    if (vectors.length !== entries.length * d)
      throw new Error(`expected ${entries.length * d} floats, got ${vectors.length}`);
    for (const entry of entries) {
      if (this.positions.has(entryKey(entry)))
        throw new Error(`item ${entry.group}/${entry.id} is already in the index`);
    }
    const rowsPerChunk = Math.max(1, Math.floor(ADD_CHUNK_FLOATS / d));
    for (let row = 0; row < entries.length; row += rowsPerChunk) {
      const end = Math.min(entries.length, row + rowsPerChunk);
      this.index.add(Array.from(vectors.subarray(row * d, end * d)));
    }
    for (const entry of entries) {
      this.positions.set(entryKey(entry), this.entries.length);
      this.entries.push(entry);
    }
  }

  /** The k nearest entries to a unit query vector, best first. */
  search(query: Float32Array, k: number): { entry: IndexEntry; score: number }[] {
    const n = Math.min(k, this.size);
    if (n === 0) return [];
    const { distances, labels } = this.index.search(Array.from(query), n);
    return labels.flatMap((label, i) => (label >= 0 ? [{ entry: this.entries[label]!, score: distances[i]! }] : []));
  }
}
