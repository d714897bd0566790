/**
 * Index generations on the shared file system (EFS). An index is a set of immutable segments
 * plus tombstones (rows of a segment whose item was replaced or removed since):
 *
 *   <efs>/index/segments/<id>/                a segment (see `segment.ts`)
 *   <efs>/index/tombstones/<file>.u32         dead rows of one segment, written by one run
 *   <efs>/index/generations/gen-000007.json   generation, model, counts, and its segments with their tombstones
 *   <efs>/index/CURRENT.json                  which generation is current (written last)
 *
 * A run writes a segment for what it added or replaced and a tombstone file for what it
 * replaced or removed, then a generation manifest listing every segment, then CURRENT.json
 * (atomically). No run writes O(index) bytes: what it writes is proportional to its change.
 * Readers follow CURRENT.json and never see a partial index; a crash leaves at most
 * unreferenced files, removed by the next publication.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { readSegmentKeys, type SegmentBuildOptions, type SegmentKind, SegmentWriter } from './segment.ts';
import type { SegmentKeys } from './segment-keys.ts';

/** The model that built a generation; the index refuses to mix models. */
export interface IndexModel {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
}

/** A segment as a generation lists it. */
export interface SegmentRef {
  readonly id: string;
  readonly kind: SegmentKind;
  /** Vectors: one per passage of each item. */
  readonly rows: number;
  /** Items (an item with long content has several rows). */
  readonly items: number;
  /** Rows whose item was replaced or removed since the segment was written. */
  readonly dead: number;
  /** Items replaced or removed since (all their rows are dead). */
  readonly deadItems: number;
  /** The tombstone files listing those rows, one per run that added some. */
  readonly tombstones: readonly string[];
}

export interface GenerationMeta {
  readonly generation: number;
  readonly model: IndexModel;
  /** Live vectors: one per passage of each item the index holds. */
  readonly vectors: number;
  /** Live items. */
  readonly items: number;
  readonly publishedAt: string;
  /** The execution that published it. */
  readonly publishedBy: string;
  readonly segments: readonly SegmentRef[];
}

export interface CurrentPointer {
  readonly generation: number;
  /** The generation's manifest, under `generations/`. */
  readonly manifest: string;
}

/** Thrown when a generation's files disagree with each other or are missing. */
export class IndexCorruptError extends Error {
  override readonly name = 'IndexCorruptError';
}

/** Thrown when the index on EFS is in the single-file layout of ddb-faiss 0.1. */
export class LegacyIndexError extends Error {
  override readonly name = 'LegacyIndexError';
}

/** Generations kept besides the current one, for readers still loading an older one. */
const GENERATIONS_KEPT = 2;

/** Folder name of a group's index in the per-group layout (any group name is safe on disk). */
const groupFolder = (group: string): string => `g-${Buffer.from(group, 'utf8').toString('base64url')}`;

const manifestName = (generation: number): string => `gen-${String(generation).padStart(6, '0')}.json`;

/** The groups that have an index of their own (per-group layout). */
export function indexedGroups(efsRoot: string): string[] {
  const dir = path.join(efsRoot, 'index', 'groups');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith('g-') && existsSync(path.join(dir, name, 'CURRENT.json')))
    .map((name) => Buffer.from(name.slice(2), 'base64url').toString('utf8'))
    .sort();
}

/** The live vectors of a list of segments. */
const liveVectors = (segments: readonly SegmentRef[]): number =>
  segments.reduce((sum, segment) => sum + segment.rows - segment.dead, 0);

export class GenerationStore {
  readonly dir: string;

  /** @param group the content group whose own index this is (per-group layout); none = the global index */
  constructor(
    efsRoot: string,
    readonly group?: string,
  ) {
    this.dir =
      group === undefined ? path.join(efsRoot, 'index') : path.join(efsRoot, 'index', 'groups', groupFolder(group));
  }

  private get currentFile(): string {
    return path.join(this.dir, 'CURRENT.json');
  }

  /**
   * The current generation's pointer, or undefined before the first publication.
   * @throws {LegacyIndexError} when the index is in ddb-faiss 0.1's layout (a backfill rewrites it)
   */
  current(): CurrentPointer | undefined {
    if (!existsSync(this.currentFile)) return undefined;
    const pointer = JSON.parse(readFileSync(this.currentFile, 'utf8')) as Partial<CurrentPointer>;
    if (pointer.manifest === undefined)
      throw new LegacyIndexError(
        `the index in ${this.dir} was written by ddb-faiss 0.1 (one flat file per generation): ` +
          'start a backfill (ddb-faiss backfill) to rewrite it as segments',
      );
    return pointer as CurrentPointer;
  }

  /** The generation number the last publication used, whatever its layout (0 before any). */
  private lastGeneration(): number {
    if (!existsSync(this.currentFile)) return 0;
    return (JSON.parse(readFileSync(this.currentFile, 'utf8')) as { generation: number }).generation;
  }

  meta(pointer: CurrentPointer): GenerationMeta {
    const file = path.join(this.dir, 'generations', pointer.manifest);
    if (!existsSync(file)) throw new IndexCorruptError(`generation ${pointer.generation}: ${file} is missing`);
    const meta = JSON.parse(readFileSync(file, 'utf8')) as GenerationMeta;
    // A manifest written before passages counts no items apart: each row was an item.
    if (meta.items !== undefined) return meta;
    const segments = meta.segments.map((segment) => ({ ...segment, items: segment.rows, deadItems: segment.dead }));
    return { ...meta, items: meta.vectors, segments };
  }

  segmentDir(id: string): string {
    return path.join(this.dir, 'segments', id);
  }

  /** A segment's key map. */
  keys(segment: Pick<SegmentRef, 'id'>): SegmentKeys {
    return readSegmentKeys(this.segmentDir(segment.id));
  }

  /** The dead rows of a segment, from its tombstone files, ascending. */
  deadRows(segment: SegmentRef): Uint32Array {
    const parts = segment.tombstones.map((file) => {
      const bytes = readFileSync(path.join(this.dir, 'tombstones', file));
      return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    });
    const rows = new Uint32Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) rows.set(part, (at += part.length) - part.length);
    rows.sort();
    if (rows.length !== segment.dead)
      throw new IndexCorruptError(
        `segment ${segment.id}: ${rows.length} tombstones, the generation says ${segment.dead}`,
      );
    return rows;
  }

  /**
   * Writes a tombstone file: the rows of the `items` of `segment` this run replaced or removed
   * (every passage of each). It counts only once a published generation lists it.
   * @returns the segment with the file and the rows added
   */
  addTombstones(segment: SegmentRef, rows: readonly number[], items: number): SegmentRef {
    if (rows.length === 0) return segment;
    const file = `${segment.id}.${randomUUID().slice(0, 8)}.u32`;
    const sorted = Uint32Array.from(rows).sort();
    writeFileAtomic(path.join(this.dir, 'tombstones', file), new Uint8Array(sorted.buffer));
    return {
      ...segment,
      dead: segment.dead + rows.length,
      deadItems: segment.deadItems + items,
      tombstones: [...segment.tombstones, file],
    };
  }

  /** A writer of a new segment of this index. */
  segmentWriter(options: SegmentBuildOptions): SegmentWriter {
    return new SegmentWriter(path.join(this.dir, 'segments'), options);
  }

  /**
   * Publishes the next generation: these segments (with their tombstones), written before.
   * @returns its meta
   */
  publish(segments: readonly SegmentRef[], model: IndexModel, publishedBy: string): GenerationMeta {
    const generation = this.lastGeneration() + 1;
    const meta: GenerationMeta = {
      generation,
      model,
      vectors: liveVectors(segments),
      items: segments.reduce((sum, segment) => sum + segment.items - segment.deadItems, 0),
      publishedAt: new Date().toISOString(),
      publishedBy,
      // A segment with nothing left alive is dropped rather than searched.
      segments: segments.filter((segment) => segment.rows > segment.dead),
    };
    const manifest = manifestName(generation);
    writeFileAtomic(path.join(this.dir, 'generations', manifest), JSON.stringify(meta, null, 2));
    writeFileAtomic(this.currentFile, JSON.stringify({ generation, manifest } satisfies CurrentPointer));
    this.prune(generation);
    return meta;
  }

  /**
   * Removes generations older than the kept ones, then every segment and tombstone file no kept
   * generation lists (left by older generations, a compaction, or a crash before publication),
   * and the folders of ddb-faiss 0.1's layout.
   */
  private prune(current: number): void {
    const generations = path.join(this.dir, 'generations');
    const kept: GenerationMeta[] = [];
    for (const name of readdirSync(generations)) {
      const match = /^gen-(\d+)\.json$/.exec(name);
      if (match && Number(match[1]) >= current - GENERATIONS_KEPT)
        kept.push(JSON.parse(readFileSync(path.join(generations, name), 'utf8')) as GenerationMeta);
      else rmSync(path.join(generations, name), { force: true });
    }
    const segments = new Set(kept.flatMap((meta) => meta.segments.map((segment) => segment.id)));
    const tombstones = new Set(kept.flatMap((meta) => meta.segments.flatMap((segment) => segment.tombstones)));
    const sweep = (folder: string, keep: (name: string) => boolean): void => {
      const dir = path.join(this.dir, folder);
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir))
        if (!keep(name)) rmSync(path.join(dir, name), { recursive: true, force: true });
    };
    sweep('segments', (name) => segments.has(name));
    sweep('tombstones', (name) => tombstones.has(name));
    for (const name of readdirSync(this.dir))
      if (/^gen-\d+$/.test(name) || name.startsWith('.staging-'))
        rmSync(path.join(this.dir, name), { recursive: true, force: true });
  }
}
