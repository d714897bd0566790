/**
 * Reads the published index for queries. The current generation is loaded once and kept;
 * when CURRENT.json names a newer generation, the next query loads it and swaps it in,
 * without a restart. Generations are immutable once published, so a loaded one is always
 * complete, and loading never waits for a running merge.
 */
import { type GenerationMeta, GenerationStore } from '../index-store/generations.ts';
import type { IndexState } from '../index-store/index-state.ts';

export interface LoadedGeneration {
  readonly state: IndexState;
  readonly meta: GenerationMeta;
  /** Vectors per content group, for exact group filtering. */
  readonly groups: ReadonlyMap<string, number>;
}

export class IndexReader {
  private readonly store: GenerationStore;
  private loaded: LoadedGeneration | undefined;

  constructor(efsRoot: string) {
    this.store = new GenerationStore(efsRoot);
  }

  /** The newest published generation, or undefined before the first publication. */
  current(): LoadedGeneration | undefined {
    const pointer = this.store.current();
    if (!pointer) return undefined;
    if (this.loaded?.meta.generation !== pointer.generation) {
      const { state, meta } = this.store.load(pointer);
      const groups = new Map<string, number>();
      for (const entry of state.entries) groups.set(entry.group, (groups.get(entry.group) ?? 0) + 1);
      this.loaded = { state, meta, groups };
    }
    return this.loaded;
  }
}
