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
 *
 * Every file is recorded with its size and SHA-256 by what points at it (a segment's files and
 * tombstones in the generation's manifest, the manifest in CURRENT.json) and verified as it is
 * read (`integrity.ts`): damage is an `IndexDamagedError` naming the file, never a wrong answer.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { advise } from '../config/advice.ts';
import { writeFileAtomic } from './atomic-file.ts';
import {
  checkSize,
  checksumOf,
  type FileChecksum,
  IndexDamagedError,
  parseJsonFile,
  readVerified,
} from './integrity.ts';
import {
  SEGMENT_FILES,
  type SegmentBuildOptions,
  SegmentFiles,
  type SegmentInfo,
  type SegmentKind,
  SegmentWriter,
} from './segment.ts';
import type { SegmentKeys } from './segment-keys.ts';
import { RequestError } from '../config/errors.ts';

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
  /** Each file of the segment's folder, by name: size and SHA-256 (absent for a segment written before checksums). */
  readonly checksums?: Readonly<Record<string, FileChecksum>>;
  /** Each of {@link tombstones}, by name: its size and SHA-256 (absent for files written before checksums). */
  readonly tombstoneChecksums?: Readonly<Record<string, FileChecksum>>;
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
  /** The manifest's size and SHA-256 (absent in a pointer written before checksums). */
  readonly checksum?: FileChecksum;
}

/** Thrown when the index on EFS is in the single-file layout of ddb-faiss 0.1. */
export class LegacyIndexError extends RequestError {
  override readonly name = 'LegacyIndexError';
  readonly code = 'legacy-index';
  readonly status = 503;
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
  /** The index's folder. */
  readonly dir: string;
  /** The same folder relative to the EFS root (`index`, `index/groups/g-…`), as errors name files. */
  readonly relativeDir: string;

  /** @param group the content group whose own index this is (per-group layout); none = the global index */
  constructor(
    readonly efsRoot: string,
    readonly group?: string,
  ) {
    this.relativeDir = group === undefined ? 'index' : `index/groups/${groupFolder(group)}`;
    this.dir = path.join(efsRoot, this.relativeDir);
  }

  private get currentFile(): string {
    return path.join(this.dir, 'CURRENT.json');
  }

  /** A file of this index, relative to the EFS root. */
  private relative(file: string): string {
    return `${this.relativeDir}/${file}`;
  }

  /**
   * The current generation's pointer, or undefined before the first publication.
   * @throws {LegacyIndexError} when the index is in ddb-faiss 0.1's layout (a backfill rewrites it)
   * @throws {IndexDamagedError} when CURRENT.json is not a pointer this code wrote
   */
  current(): CurrentPointer | undefined {
    const bytes = this.readPointer();
    if (!bytes) return undefined;
    const pointer = parseJsonFile<Partial<CurrentPointer> & { folder?: string }>(this.relative('CURRENT.json'), bytes);
    if (pointer?.manifest === undefined && typeof pointer?.folder === 'string')
      throw new LegacyIndexError(
        `the index in ${this.dir} was written by ddb-faiss 0.1 (one flat file per generation): ` +
          `start a backfill (${advise('backfill')}) to rewrite it as segments`,
      );
    if (typeof pointer?.generation !== 'number' || typeof pointer.manifest !== 'string')
      throw new IndexDamagedError(this.relative('CURRENT.json'), 'does not name a generation and its manifest');
    return pointer as CurrentPointer;
  }

  /** CURRENT.json's bytes, or undefined before the first publication. */
  private readPointer(): Buffer | undefined {
    try {
      return readFileSync(this.currentFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * The generation number the last publication used, whatever its layout and state (0 before
   * any): the larger of what CURRENT.json names and the manifests left, so that a rebuild over a
   * damaged pointer never reuses a generation number.
   */
  private lastGeneration(): number {
    let last = 0;
    try {
      const pointer = JSON.parse(this.readPointer()?.toString('utf8') ?? '{}') as { generation?: unknown };
      if (typeof pointer?.generation === 'number') last = pointer.generation;
    } catch {
      // damaged: the manifests below still say how far the numbering went
    }
    const generations = path.join(this.dir, 'generations');
    if (!existsSync(generations)) return last;
    for (const name of readdirSync(generations)) {
      const match = /^gen-(\d+)\.json$/.exec(name);
      if (match) last = Math.max(last, Number(match[1]));
    }
    return last;
  }

  /**
   * The generation's manifest, verified against the checksum CURRENT.json records.
   * @throws {IndexDamagedError} when it is missing, damaged, or not a manifest
   */
  meta(pointer: CurrentPointer): GenerationMeta {
    const file = this.relative(`generations/${pointer.manifest}`);
    const meta = parseJsonFile<GenerationMeta>(file, readVerified(this.efsRoot, file, pointer.checksum));
    if (!Array.isArray(meta?.segments) || typeof meta.model?.checksum !== 'string')
      throw new IndexDamagedError(file, 'does not list the segments and model of a generation');
    // A manifest written before passages counts no items apart: each row was an item.
    if (meta.items !== undefined) return meta;
    const segments = meta.segments.map((segment) => ({ ...segment, items: segment.rows, deadItems: segment.dead }));
    return { ...meta, items: meta.vectors, segments };
  }

  segmentDir(id: string): string {
    return path.join(this.dir, 'segments', id);
  }

  /** A segment's files, read verified against the checksums its generation recorded. */
  segmentFiles(segment: Pick<SegmentRef, 'id' | 'checksums'>): SegmentFiles {
    return new SegmentFiles(this.efsRoot, this.relative(`segments/${segment.id}`), segment.checksums);
  }

  /** A segment's key map, verified. */
  keys(segment: Pick<SegmentRef, 'id' | 'checksums'>): SegmentKeys {
    return this.segmentFiles(segment).keys();
  }

  /**
   * The dead rows of a segment, from its tombstone files (verified), ascending.
   * @throws {IndexDamagedError} when a tombstone file is damaged or they disagree with the generation
   */
  deadRows(segment: SegmentRef): Uint32Array {
    const parts = segment.tombstones.map((file) => {
      const name = this.relative(`tombstones/${file}`);
      const bytes = readVerified(this.efsRoot, name, segment.tombstoneChecksums?.[file]);
      if (bytes.byteLength % 4 !== 0) throw new IndexDamagedError(name, 'is not a whole number of rows');
      return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    });
    const rows = new Uint32Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) rows.set(part, (at += part.length) - part.length);
    rows.sort();
    if (rows.length !== segment.dead || (rows.length > 0 && rows[rows.length - 1]! >= segment.rows))
      throw new IndexDamagedError(
        this.relative(`tombstones/${segment.tombstones[0]}`),
        `and the other tombstones of segment ${segment.id} list ${rows.length} rows; ` +
          `the generation says ${segment.dead} of ${segment.rows}`,
      );
    return rows;
  }

  /**
   * Checks, without reading them, that every file of the generation's segments is there at the
   * size its manifest records (a stat each): what a run that reads only key maps does to notice
   * a truncated or missing file.
   * @throws {IndexDamagedError} naming the first file that is not
   */
  checkSizes(meta: GenerationMeta): void {
    for (const segment of meta.segments) {
      for (const [name, checksum] of Object.entries(segment.checksums ?? {}))
        checkSize(this.efsRoot, this.relative(`segments/${segment.id}/${name}`), checksum.bytes);
      for (const [name, checksum] of Object.entries(segment.tombstoneChecksums ?? {}))
        checkSize(this.efsRoot, this.relative(`tombstones/${name}`), checksum.bytes);
      if (segment.checksums) {
        const info = this.segmentFiles(segment).info();
        checkSize(
          this.efsRoot,
          this.relative(`segments/${segment.id}/${SEGMENT_FILES.vectors}`),
          info.rows * info.dimensions * 4,
        );
      }
    }
  }

  /**
   * Writes a tombstone file: the rows of the `items` of `segment` this run replaced or removed
   * (every passage of each). It counts only once a published generation lists it.
   * @returns the segment with the file and the rows added
   */
  addTombstones(segment: SegmentRef, rows: readonly number[], items: number): SegmentRef {
    if (rows.length === 0) return segment;
    const file = `${segment.id}.${randomUUID().slice(0, 8)}.u32`;
    const bytes = new Uint8Array(Uint32Array.from(rows).sort().buffer);
    writeFileAtomic(path.join(this.dir, 'tombstones', file), bytes);
    return {
      ...segment,
      dead: segment.dead + rows.length,
      deadItems: segment.deadItems + items,
      tombstones: [...segment.tombstones, file],
      tombstoneChecksums: { ...segment.tombstoneChecksums, [file]: checksumOf(bytes) },
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
    const bytes = Buffer.from(JSON.stringify(meta, null, 2));
    writeFileAtomic(path.join(this.dir, 'generations', manifest), bytes);
    const pointer: CurrentPointer = { generation, manifest, checksum: checksumOf(bytes) };
    writeFileAtomic(this.currentFile, JSON.stringify(pointer));
    this.prune(generation);
    return meta;
  }

  /**
   * Removes generations older than the kept ones, then every segment and tombstone file no kept
   * generation lists (left by older generations, a compaction, or a crash before publication),
   * and the folders of ddb-faiss 0.1's layout. A kept manifest that cannot be read is removed
   * with the files only it listed: no reader can open that generation anyway.
   */
  private prune(current: number): void {
    const generations = path.join(this.dir, 'generations');
    const kept: GenerationMeta[] = [];
    for (const name of readdirSync(generations)) {
      const match = /^gen-(\d+)\.json$/.exec(name);
      const manifest =
        match && Number(match[1]) >= current - GENERATIONS_KEPT ? readManifest(generations, name) : undefined;
      if (manifest) kept.push(manifest);
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

/**
 * The quick check of every published index (the global one, or each group's): its pointer and
 * manifest read verified, every segment file's size against the manifest (a stat each, no
 * read). What an incremental run does first, so that a truncated or missing file fails the run
 * that comes after the damage, even one with nothing to index.
 * @throws {IndexDamagedError} naming the first damaged file
 * @throws {LegacyIndexError} when an index is in ddb-faiss 0.1's layout
 */
export function checkPublishedIndex(efsRoot: string, perGroup: boolean): void {
  const stores = perGroup
    ? indexedGroups(efsRoot).map((group) => new GenerationStore(efsRoot, group))
    : [new GenerationStore(efsRoot)];
  for (const store of stores) {
    const pointer = store.current();
    if (pointer) store.checkSizes(store.meta(pointer));
  }
}

/** A generation manifest as prune reads it: undefined when it is not a readable manifest. */
function readManifest(dir: string, name: string): GenerationMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as GenerationMeta;
    return Array.isArray(meta?.segments) ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** How a generation lists a segment just written. */
export const newSegmentRef = ({
  info,
  checksums,
}: {
  readonly info: SegmentInfo;
  readonly checksums: Readonly<Record<string, FileChecksum>>;
}): SegmentRef => ({
  id: info.id,
  kind: info.kind,
  rows: info.rows,
  items: info.items,
  dead: 0,
  deadItems: 0,
  tombstones: [],
  checksums,
  tombstoneChecksums: {},
});
