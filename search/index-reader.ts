/**
 * Reads the published index for queries. Each generation is loaded once and kept; when
 * CURRENT.json names a newer generation, the next query loads it and swaps it in, without a
 * restart. Generations are immutable once published, so a loaded one is always complete,
 * and loading never waits for a running merge. In the per-group layout each group's index
 * is read the same way.
 */
import type { IndexLayout } from '../config/config.ts';
import { type GenerationMeta, GenerationStore, indexedGroups } from '../index-store/generations.ts';
import type { IndexState } from '../index-store/index-state.ts';

export interface LoadedGeneration {
  readonly state: IndexState;
  readonly meta: GenerationMeta;
  /** Vectors per content group, for exact group filtering. */
  readonly groups: ReadonlyMap<string, number>;
}

class ScopeReader {
  private loaded: LoadedGeneration | undefined;
  constructor(private readonly store: GenerationStore) {}

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

export class IndexReader {
  private readonly scopes = new Map<string | undefined, ScopeReader>();

  constructor(
    private readonly efsRoot: string,
    readonly layout: IndexLayout = 'global',
  ) {}

  private scope(group: string | undefined): ScopeReader {
    let reader = this.scopes.get(group);
    if (!reader) this.scopes.set(group, (reader = new ScopeReader(new GenerationStore(this.efsRoot, group))));
    return reader;
  }

  /** The global index's newest generation, or undefined before the first publication. */
  current(): LoadedGeneration | undefined {
    return this.scope(undefined).current();
  }

  /**
   * The generations a query reads: the global index; or, per group, the group's own index
   * (when a group is asked for) or every group's index.
   */
  sources(group?: string): LoadedGeneration[] {
    if (this.layout === 'global')
      return [this.current()].filter((loaded): loaded is LoadedGeneration => loaded !== undefined);
    const groups = group === undefined ? indexedGroups(this.efsRoot) : [group];
    return groups
      .map((name) => this.scope(name).current())
      .filter((loaded): loaded is LoadedGeneration => loaded !== undefined && loaded.state.size > 0);
  }
}
