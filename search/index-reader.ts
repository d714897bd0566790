/**
 * Reads the published index for queries. Each generation is opened once and kept; when
 * CURRENT.json names a newer generation, the next query opens it and swaps it in, without a
 * restart, reopening only the segments it has not opened yet. Segments are immutable once
 * published, so an opened one is always complete, and opening never waits for a running merge.
 * In the per-group layout each group's index is read the same way.
 *
 * A generation that fails to open (a damaged file: `IndexDamagedError`) is remembered: queries
 * get the same error at once, without touching the files, and the open is tried again after a
 * backoff (1 s, doubling to a minute), or at once when CURRENT.json names another generation (a
 * backfill's). So a flood of searches against a damaged index costs no memory and no reads.
 */
import type { IndexLayout } from '../config/config.ts';
import { GenerationStore, indexedGroups } from '../index-store/generations.ts';
import { type SegmentCache, SegmentedIndex } from '../index-store/segmented-index.ts';

/** A published generation, opened. */
export type LoadedGeneration = SegmentedIndex;

/** How long a failed open is remembered before the next try: doubling from the first to the last. */
export const REOPEN_BACKOFF_MS = { first: 1_000, last: 60_000 } as const;

/** A generation that failed to open: the error, and when to try again. */
interface FailedOpen {
  readonly generation: number;
  readonly error: unknown;
  readonly attempts: number;
  readonly retryAt: number;
}

class ScopeReader {
  private loaded: SegmentedIndex | undefined;
  private failed: FailedOpen | undefined;
  private readonly segments: SegmentCache = new Map();
  constructor(
    private readonly store: GenerationStore,
    private readonly now: () => number,
  ) {}

  current(): SegmentedIndex | undefined {
    const pointer = this.store.current();
    if (!pointer) return undefined;
    if (this.loaded?.meta.generation === pointer.generation) return this.loaded;
    const failed = this.failed?.generation === pointer.generation ? this.failed : undefined;
    if (failed && this.now() < failed.retryAt) throw failed.error;
    try {
      this.loaded = SegmentedIndex.open(this.store, this.store.meta(pointer), this.segments);
      this.failed = undefined;
      return this.loaded;
    } catch (error) {
      const attempts = (failed?.attempts ?? 0) + 1;
      const wait = Math.min(REOPEN_BACKOFF_MS.last, REOPEN_BACKOFF_MS.first * 2 ** (attempts - 1));
      this.failed = { generation: pointer.generation, error, attempts, retryAt: this.now() + wait };
      throw error;
    }
  }
}

export class IndexReader {
  private readonly scopes = new Map<string | undefined, ScopeReader>();

  /** @param now the clock of the reopen backoff (tests move it) */
  constructor(
    private readonly efsRoot: string,
    readonly layout: IndexLayout = 'global',
    private readonly now: () => number = Date.now,
  ) {}

  private scope(group: string | undefined): ScopeReader {
    let reader = this.scopes.get(group);
    if (!reader) this.scopes.set(group, (reader = new ScopeReader(new GenerationStore(this.efsRoot, group), this.now)));
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
