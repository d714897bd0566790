/**
 * Which indexes a request reads and which of their items it may return: the global index or
 * every group's (per-group layout), narrowed to a group and to the items that meet a filter, the
 * filter first checked against the attributes the index keeps.
 */
import type { ColumnKinds } from '../index-store/attribute-columns.ts';
import type { GenerationMeta } from '../index-store/generations.ts';
import type { Selection } from '../index-store/segmented-index.ts';
import { type AttributeFilter, filterProblems } from './filter.ts';
import type { IndexReader, LoadedGeneration } from './index-reader.ts';
import type { Pool, SearchContext } from './results.ts';

/** Thrown when no index has been published yet. */
export class NoIndexError extends Error {
  override readonly name = 'NoIndexError';
}

/** Thrown when the group filter names a group the index does not hold. */
export class UnknownGroupError extends Error {
  override readonly name = 'UnknownGroupError';
}

/** Thrown when a filter cannot be applied to the index: its message names every problem. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

/** The newest generation's meta among the loaded indexes (each group's, under the per-group layout). */
export const newestMeta = (sources: readonly LoadedGeneration[]): GenerationMeta =>
  sources.reduce(
    (newest, source) => (source.meta.generation > newest.generation ? source.meta : newest),
    sources[0]!.meta,
  );

/** The indexes a request reads, the items of each it may return, and how many those are. */
export function selectItems(
  context: SearchContext,
  reader: IndexReader,
  request: { readonly group?: string; readonly filter?: AttributeFilter },
): { sources: LoadedGeneration[]; selections: Selection[]; pool: Pool; meta: GenerationMeta } {
  const sources = reader.sources(request.group);
  if (sources.length === 0) {
    if (reader.layout === 'per-group' && request.group !== undefined && reader.sources().length > 0) {
      throw new UnknownGroupError(`unknown group "${request.group}": the index holds no item of that group`);
    }
    throw new NoIndexError('no index has been published yet: import items and run the indexer');
  }
  // In the global layout a group is a filter over the one index; per group it picks the index.
  const group = reader.layout === 'global' ? request.group : undefined;
  if (group !== undefined && !sources[0]!.groups.has(group))
    throw new UnknownGroupError(`unknown group "${request.group}": the index holds no item of that group`);
  const { filter } = request;
  if (filter) {
    const kinds = new Map<string, ColumnKinds>();
    for (const source of sources)
      for (const [name, seen] of source.attributeKinds()) {
        const before = kinds.get(name);
        kinds.set(name, before ? mergeKinds(before, seen) : seen);
      }
    const problems = filterProblems(filter, { kinds, allowed: context.config.filterAttributes });
    if (problems.length > 0) throw new FilterError(problems.join('; '));
  }
  const selections = sources.map((source) =>
    source.select({ ...(group !== undefined ? { group } : {}), ...(filter ? { filter } : {}) }),
  );
  const pool = {
    items: selections.reduce((sum, selection) => sum + selection.items, 0),
    largest: Math.max(...selections.map((selection) => selection.items)),
  };
  return { sources, selections, pool, meta: newestMeta(sources) };
}

const mergeKinds = (a: ColumnKinds, b: ColumnKinds): ColumnKinds => ({
  strings: a.strings || b.strings,
  numbers: a.numbers || b.numbers,
  booleans: a.booleans || b.booleans,
});
