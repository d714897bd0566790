/**
 * A run's working files on EFS, under `<efs>/runs/<execution>/`: batch files written by plan
 * (the keys of one batch) and shard files written by embed (vectors and what they came from).
 * Only small descriptors of these files cross the state machine.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { PassageSpan } from '../index-store/index-entry.ts';
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
}

/** One shard entry: an item to (re)index, to remove, or that cannot be indexed. */
export type ShardEntry =
  | VectorEntry
  | (VersionedKey & { readonly kind: 'delete' })
  | (VersionedKey & { readonly kind: 'gone' })
  | (VersionedKey & { readonly kind: 'poison'; readonly reason: string });

export interface ShardDescriptor {
  readonly batch: number;
  readonly file: string;
  readonly vectors: number;
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

export function writeBatch(
  efsRoot: string,
  execution: string,
  batch: number,
  keys: readonly VersionedKey[],
): BatchDescriptor {
  const file = path.join(runDir(execution), 'batches', `${String(batch).padStart(5, '0')}.json`);
  writeFileAtomic(path.join(efsRoot, file), JSON.stringify(keys.map((key) => [key.group, key.id, key.version])));
  return { batch, file, items: keys.length };
}

export function readBatch(efsRoot: string, descriptor: Pick<BatchDescriptor, 'file'>): VersionedKey[] {
  const rows = JSON.parse(readFileSync(path.join(efsRoot, descriptor.file), 'utf8')) as [string, string, number][];
  return rows.map(([group, id, version]) => ({ group, id, version }));
}

/** Writes a shard: `<name>.json` (entries, model) then `<name>.f32` (vectors), the JSON last. */
export function writeShard(
  efsRoot: string,
  execution: string,
  batch: number,
  model: string,
  entries: readonly ShardEntry[],
  vectors: Float32Array,
): ShardDescriptor {
  const base = path.join(runDir(execution), 'shards', String(batch).padStart(5, '0'));
  writeFileAtomic(
    path.join(efsRoot, `${base}.f32`),
    new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength),
  );
  writeFileAtomic(path.join(efsRoot, `${base}.json`), JSON.stringify({ model, entries }));
  const count = (kind: ShardEntry['kind']): number => entries.filter((entry) => entry.kind === kind).length;
  return {
    batch,
    file: `${base}.json`,
    vectors: count('vector'),
    deletes: count('delete') + count('gone'),
    poison: count('poison'),
  };
}

export function readShard(
  efsRoot: string,
  descriptor: Pick<ShardDescriptor, 'file'>,
): { model: string; entries: ShardEntry[]; vectors: Float32Array } {
  const { model, entries } = JSON.parse(readFileSync(path.join(efsRoot, descriptor.file), 'utf8')) as {
    model: string;
    entries: ShardEntry[];
  };
  const raw = readFileSync(path.join(efsRoot, descriptor.file.replace(/\.json$/, '.f32')));
  const vectors = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { model, entries, vectors };
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
