/**
 * Index generations on the shared file system (EFS):
 *
 *   <efs>/index/gen-000007/index.faiss   the Faiss index
 *   <efs>/index/gen-000007/entries.json  the item of each Faiss label, in label order
 *   <efs>/index/gen-000007/meta.json     generation, model, counts, publication time
 *   <efs>/index/CURRENT.json             which generation is current (written last)
 *
 * A generation folder is written under a temporary name, fsynced and renamed; only then is
 * CURRENT.json replaced (atomically). Readers follow CURRENT.json and never see a partial
 * index; a crash leaves at most an unreferenced folder, removed by the next publication.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import faiss from 'faiss-node';
import { fsyncPath, publishDirectory, writeFileAtomic } from './atomic-file.ts';
import { type IndexEntry, IndexState } from './index-state.ts';

/** The model that built a generation; the index refuses to mix models. */
export interface IndexModel {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
}

export interface GenerationMeta {
  readonly generation: number;
  readonly model: IndexModel;
  readonly vectors: number;
  readonly publishedAt: string;
  /** The execution that published it. */
  readonly publishedBy: string;
}

export interface CurrentPointer {
  readonly generation: number;
  readonly folder: string;
}

/** Thrown when a generation's files disagree with each other or are missing. */
export class IndexCorruptError extends Error {
  override readonly name = 'IndexCorruptError';
}

/** Generations kept besides the current one, for readers still loading an older one. */
const GENERATIONS_KEPT = 2;

/** Folder name of a group's index in the per-group layout (any group name is safe on disk). */
const groupFolder = (group: string): string => `g-${Buffer.from(group, 'utf8').toString('base64url')}`;

/** The groups that have an index of their own (per-group layout). */
export function indexedGroups(efsRoot: string): string[] {
  const dir = path.join(efsRoot, 'index', 'groups');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith('g-') && existsSync(path.join(dir, name, 'CURRENT.json')))
    .map((name) => Buffer.from(name.slice(2), 'base64url').toString('utf8'))
    .sort();
}

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

  /** The current generation's pointer, or undefined before the first publication. */
  current(): CurrentPointer | undefined {
    if (!existsSync(this.currentFile)) return undefined;
    return JSON.parse(readFileSync(this.currentFile, 'utf8')) as CurrentPointer;
  }

  meta(pointer: CurrentPointer): GenerationMeta {
    return JSON.parse(readFileSync(path.join(this.dir, pointer.folder, 'meta.json'), 'utf8')) as GenerationMeta;
  }

  /** The items a generation holds, in label order, without loading its vectors. */
  entries(pointer: CurrentPointer): IndexEntry[] {
    return JSON.parse(readFileSync(path.join(this.dir, pointer.folder, 'entries.json'), 'utf8')) as IndexEntry[];
  }

  /** Loads a generation into memory. */
  load(pointer: CurrentPointer): { state: IndexState; meta: GenerationMeta } {
    const folder = path.join(this.dir, pointer.folder);
    const meta = this.meta(pointer);
    const entries = this.entries(pointer);
    const index = faiss.IndexFlatIP.read(path.join(folder, 'index.faiss'));
    if (index.ntotal() !== entries.length || entries.length !== meta.vectors) {
      throw new IndexCorruptError(
        `generation ${meta.generation}: ${index.ntotal()} vectors, ${entries.length} entries, ` +
          `meta says ${meta.vectors}`,
      );
    }
    return { state: new IndexState(index, entries), meta };
  }

  /** Writes and publishes the next generation. @returns its meta */
  publish(state: IndexState, model: IndexModel, publishedBy: string): GenerationMeta {
    mkdirSync(this.dir, { recursive: true });
    const generation = (this.current()?.generation ?? 0) + 1;
    const folder = `gen-${String(generation).padStart(6, '0')}`;
    const staging = path.join(this.dir, `.staging-${folder}-${randomUUID()}`);
    mkdirSync(staging);
    const meta: GenerationMeta = {
      generation,
      model,
      vectors: state.size,
      publishedAt: new Date().toISOString(),
      publishedBy,
    };
    const indexFile = path.join(staging, 'index.faiss');
    state.index.write(indexFile);
    fsyncPath(indexFile);
    writeFileSync(path.join(staging, 'entries.json'), JSON.stringify(state.entries));
    fsyncPath(path.join(staging, 'entries.json'));
    writeFileSync(path.join(staging, 'meta.json'), JSON.stringify(meta, null, 2));
    fsyncPath(path.join(staging, 'meta.json'));
    const target = path.join(this.dir, folder);
    rmSync(target, { recursive: true, force: true }); // left by a crash before CURRENT.json moved
    publishDirectory(staging, target);
    writeFileAtomic(this.currentFile, JSON.stringify({ generation, folder } satisfies CurrentPointer));
    this.prune(generation);
    return meta;
  }

  private prune(current: number): void {
    for (const name of readdirSync(this.dir)) {
      const match = /^gen-(\d+)$/.exec(name);
      const stale = match ? Number(match[1]) < current - GENERATIONS_KEPT : name.startsWith('.staging-');
      if (stale) rmSync(path.join(this.dir, name), { recursive: true, force: true });
    }
  }
}
