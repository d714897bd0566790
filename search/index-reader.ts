/**
 * Reads the published index for queries. Each generation is opened once and kept; when
 * CURRENT.json names a newer generation, the next query opens it and swaps it in, without a
 * restart, reopening only the segments it has not opened yet. Segments are immutable once
 * published, so an opened one is always complete, and opening never waits for a running merge.
 * In the per-group layout each group's index is read the same way.
 */
import type { IndexLayout } from '../config/config.ts';
import { GenerationStore, indexedGroups } from '../index-store/generations.ts';
import { type SegmentCache, SegmentedIndex } from '../index-store/segmented-index.ts';

/** A published generation, opened. */
export type LoadedGeneration = SegmentedIndex;

class ScopeReader {
  private loaded: SegmentedIndex | undefined;
  private readonly segments: SegmentCache = new Map();
  constructor(private readonly store: GenerationStore) {}

  current(): SegmentedIndex | undefined {
    const pointer = this.store.current();
    if (!pointer) return undefined;
    if (this.loaded?.meta.generation !== pointer.generation)
      this.loaded = SegmentedIndex.open(this.store, this.store.meta(pointer), this.segments);
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
   * The generations a query reads: the global index; or, per group, the indexes of the groups
   * given (those that have one) or of every group.
   */
  sources(groups?: readonly string[]): LoadedGeneration[] {
    if (this.layout === 'global')
      return [this.current()].filter((loaded): loaded is LoadedGeneration => loaded !== undefined);
    const names = groups === undefined ? indexedGroups(this.efsRoot) : [...new Set(groups)];
    return names
      .map((name) => this.scope(name).current())
      .filter((loaded): loaded is LoadedGeneration => loaded !== undefined && loaded.size > 0);
  }
}
