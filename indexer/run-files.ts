/**
 * A run's working files on EFS, under `<efs>/runs/<execution>/`: batch files written by plan
 * (the keys of one batch) and shard files written by embed (vectors and what they came from).
 * Only small descriptors of these files cross the state machine.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { ItemScalars } from '../index-store/attribute-columns.ts';
import type { PassageSpan } from '../index-store/index-entry.ts';
import type { TermCounts } from '../index-store/lexical-terms.ts';
import type { VersionedKey } from '../table/items.ts';

/** What crosses the Map for one batch. */
export interface BatchDescriptor {
  readonly batch: number;
  /** Path relative to the EFS root. */
  readonly file: string;
  readonly items: number;
}

/**
 * An item to (re)index: its vectors are rows `row` to `row + passages.length - 1` of the shard,
 * one per passage of its content (one, for content within the model's token limit).
 */
export interface VectorEntry extends VersionedKey {
  readonly kind: 'vector';
  readonly row: number;
  readonly passages: readonly PassageSpan[];
  /** Its filterable attributes, kept with the index. */
  readonly attributes?: ItemScalars;
}

/** One shard entry: an item to (re)index, to remove, or that cannot be indexed. */
export type ShardEntry =
  | VectorEntry
  | (VersionedKey & { readonly kind: 'delete' })
  | (VersionedKey & { readonly kind: 'gone' })
  | (VersionedKey & { readonly kind: 'poison'; readonly reason: string });

/**
 * What the clear stage settles: the entries the index now reflects, plus each entry a newer one of
 * the same item superseded in this run (an item both flagged and captured, or seen twice while plan
 * paged). A superseded entry's flag or marker is cleared too: its version was read at plan, before
 * either entry's item was read, so the index is at least as new as the write that set it.
 */
export type ClearEntry = ShardEntry | (VersionedKey & { readonly kind: 'superseded' });

export interface ShardDescriptor {
  readonly batch: number;
  readonly file: string;
  /** Items given vectors. */
  readonly vectors: number;
  /** Their vectors: one per passage. */
  readonly rows: number;
  readonly deletes: number;
  readonly poison: number;
  readonly failed?: false;
}

export interface FailedBatch {
  readonly batch: BatchDescriptor;
  readonly failed: true;
  readonly error: string;
  readonly cause: string;
}

/** Where a run's own files are: its batches and shards on EFS, its batch list in the assets bucket. */
export const RUNS_PREFIX = 'runs/';

export const runDir = (execution: string): string => path.join(RUNS_PREFIX, execution.replace(/[^A-Za-z0-9_-]/g, '_'));

/** The clear list of one merge window of a run (relative to the EFS root): what the clear stage settles. */
export const clearListFile = (execution: string, window: number): string =>
  path.join(runDir(execution), `clear-${window}.json`);

export function writeBatch(
  efsRoot: string,
  execution: string,
  batch: number,
  keys: readonly VersionedKey[],
): BatchDescriptor {
  const file = path.join(runDir(execution), 'batches', `${String(batch).padStart(5, '0')}.json`);
  const rows = keys.map((key) => (key.marker ? [key.group, key.id, key.version, 1] : [key.group, key.id, key.version]));
  writeFileAtomic(path.join(efsRoot, file), JSON.stringify(rows));
  return { batch, file, items: keys.length };
}

export function readBatch(efsRoot: string, descriptor: Pick<BatchDescriptor, 'file'>): VersionedKey[] {
  const rows = JSON.parse(readFileSync(path.join(efsRoot, descriptor.file), 'utf8')) as [string, string, number, 1?][];
  return rows.map(([group, id, version, marker]) => ({ group, id, version, ...(marker ? { marker: true } : {}) }));
}

/**
 * Writes one shard as its items are embedded, so a batch's memory is one read's items, not the
 * batch's: vectors are appended to `<name>.f32` as they come; `<name>.json` (the entries and the
 * model) is written last, so a shard whose JSON exists is whole.
 *
 * @example
 * ```ts
 * const shard = new ShardWriter(efsRoot, execution, 7, model.checksum, dimensions);
 * shard.addVectors({ group: 'g', id: 'a', version: 1 }, [[0, 42]], vectors);
 * shard.add({ group: 'g', id: 'b', version: 1, kind: 'delete' });
 * const descriptor = shard.finish();
 * ```
 */
export class ShardWriter {
  private readonly base: string;
  private readonly entries: ShardEntry[] = [];
  private readonly fd: number;
  private readonly temp: string;
  /** Each row's terms for the lexical index, a JSON line each, written as the rows are. */
  private readonly termsFd: number;
  private readonly termsTemp: string;
  private rows = 0;

  constructor(
    private readonly efsRoot: string,
    execution: string,
    private readonly batch: number,
    private readonly model: string,
    private readonly dimensions: number,
  ) {
    this.base = path.join(runDir(execution), 'shards', String(batch).padStart(5, '0'));
    mkdirSync(path.dirname(path.join(efsRoot, this.base)), { recursive: true });
    this.temp = path.join(efsRoot, `${this.base}.f32.tmp-${randomUUID()}`);
    this.fd = openSync(this.temp, 'w');
    this.termsTemp = path.join(efsRoot, `${this.base}.terms.tmp-${randomUUID()}`);
    this.termsFd = openSync(this.termsTemp, 'w');
  }

  /** Records an entry without vectors: a removal, a vanished item, or poison. */
  add(entry: Exclude<ShardEntry, VectorEntry>): void {
    this.entries.push(entry);
  }

  /**
   * Appends an item's vectors (one per passage, row-major), its passages' terms for the lexical
   * index (none: the item is found by its vectors only), and its entry.
   */
  addVectors(
    key: VersionedKey,
    passages: readonly PassageSpan[],
    vectors: Float32Array,
    attributes?: ItemScalars,
    terms?: readonly TermCounts[],
  ): void {
    if (vectors.length !== passages.length * this.dimensions)
      throw new Error(
        `${passages.length} passages need ${passages.length * this.dimensions} floats, got ${vectors.length}`,
      );
    const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    for (let offset = 0; offset < bytes.length;) offset += writeSync(this.fd, bytes, offset);
    const lines = passages.map((_, i) => JSON.stringify(encodeTerms(terms?.[i])));
    writeAll(this.termsFd, `${lines.join('\n')}\n`);
    const { group, id, version, marker } = key;
    this.entries.push({
      group,
      id,
      version,
      ...(marker ? { marker } : {}),
      kind: 'vector',
      row: this.rows,
      passages,
      ...(attributes ? { attributes } : {}),
    });
    this.rows += passages.length;
  }

  /** Makes the shard durable: the vectors and terms under their names, then the entries. */
  finish(): ShardDescriptor {
    for (const fd of [this.fd, this.termsFd]) {
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(this.temp, path.join(this.efsRoot, `${this.base}.f32`));
    renameSync(this.termsTemp, path.join(this.efsRoot, `${this.base}.terms.jsonl`));
    writeFileAtomic(
      path.join(this.efsRoot, `${this.base}.json`),
      JSON.stringify({ model: this.model, entries: this.entries }),
    );
    const count = (kind: ShardEntry['kind']): number => this.entries.filter((entry) => entry.kind === kind).length;
    return {
      batch: this.batch,
      file: `${this.base}.json`,
      vectors: count('vector'),
      rows: this.rows,
      deletes: count('delete') + count('gone'),
      poison: count('poison'),
    };
  }

  /** Drops an unfinished shard's vectors and terms. */
  abandon(): void {
    for (const fd of [this.fd, this.termsFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed by finish
      }
    }
    rmSync(this.temp, { force: true });
    rmSync(this.termsTemp, { force: true });
  }
}

/** Writes a whole shard at once (benches and tests that have every vector already). */
export function writeShard(
  efsRoot: string,
  execution: string,
  batch: number,
  model: string,
  entries: readonly ShardEntry[],
  vectors: Float32Array,
  terms?: readonly TermCounts[],
): ShardDescriptor {
  const rows = entries.reduce((sum, entry) => sum + (entry.kind === 'vector' ? entry.passages.length : 0), 0);
  const dimensions = rows === 0 ? 1 : vectors.length / rows;
  const writer = new ShardWriter(efsRoot, execution, batch, model, dimensions);
  try {
    for (const entry of entries) {
      if (entry.kind !== 'vector') writer.add(entry);
      else
        writer.addVectors(
          entry,
          entry.passages,
          vectors.subarray(entry.row * dimensions, (entry.row + entry.passages.length) * dimensions),
          entry.attributes,
          terms?.slice(entry.row, entry.row + entry.passages.length),
        );
    }
    return writer.finish();
  } catch (error) {
    writer.abandon();
    throw error;
  }
}

/** A shard's entries and the model that embedded them; its vectors are read apart ({@link readShardVectors}). */
export function readShardEntries(
  efsRoot: string,
  descriptor: Pick<ShardDescriptor, 'file'>,
): { model: string; entries: ShardEntry[] } {
  return JSON.parse(readFileSync(path.join(efsRoot, descriptor.file), 'utf8')) as {
    model: string;
    entries: ShardEntry[];
  };
}

/** A row's terms in a shard's terms file: its length and its term counts. */
type EncodedTerms = [length: number, counts: Record<string, number>];

const encodeTerms = (terms: TermCounts | undefined): EncodedTerms =>
  terms ? [terms.length, Object.fromEntries(terms.terms)] : [0, {}];

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
}

/** A shard's rows' terms for the lexical index, as its entries' rows number them. */
export function readShardTerms(efsRoot: string, descriptor: Pick<ShardDescriptor, 'file'>): TermCounts[] {
  const file = path.join(efsRoot, descriptor.file.replace(/\.json$/, '.terms.jsonl'));
  // A shard written before lexical search existed has no terms file: its rows have no terms.
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [length, counts] = JSON.parse(line) as EncodedTerms;
      return { length, terms: new Map(Object.entries(counts)) };
    });
}

/** A shard's vectors, row-major, as its entries' rows number them. */
export function readShardVectors(efsRoot: string, descriptor: Pick<ShardDescriptor, 'file'>): Float32Array {
  const raw = readFileSync(path.join(efsRoot, descriptor.file.replace(/\.json$/, '.f32')));
  const aligned = raw.byteOffset % 4 === 0 ? raw : new Uint8Array(raw); // a copy starts a buffer of its own
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** Removes the working files of runs other than `keep` older than `olderThanMs`. */
export function removeStaleRuns(efsRoot: string, keep: string, olderThanMs: number): number {
  const runs = path.join(efsRoot, 'runs');
  if (!existsSync(runs)) return 0;
  let removed = 0;
  for (const name of readdirSync(runs)) {
    const dir = path.join(runs, name);
    if (path.join('runs', name) === runDir(keep)) continue;
    if (Date.now() - statSync(dir).mtimeMs < olderThanMs) continue;
    rmSync(dir, { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}
