/**
 * Which indexes a request reads and which of their items it may return: the global index or
 * every group's (per-group layout), narrowed to the groups the caller may read (tenant
 * isolation), to a group and to the items that meet a filter, the filter first checked against
 * the attributes the index keeps.
 */
import type { ColumnKinds } from '../index-store/attribute-columns.ts';
import type { GenerationMeta } from '../index-store/generations.ts';
import type { Selection } from '../index-store/segmented-index.ts';
import { type AttributeFilter, filterProblems } from './filter.ts';
import type { IndexReader, LoadedGeneration } from './index-reader.ts';
import type { Pool, SearchContext } from './results.ts';
import { RequestError } from '../config/errors.ts';

/** Thrown when no index has been published yet. */
export class NoIndexError extends RequestError {
  override readonly name = 'NoIndexError';
  readonly code = 'no-index';
  readonly status = 503;
}

/** Thrown when the group filter names a group the index does not hold. */
export class UnknownGroupError extends RequestError {
  override readonly name = 'UnknownGroupError';
  readonly code = 'unknown-group';
  readonly status = 400;
}

/** Thrown when a request names a group outside those the caller may read. */
export class ForbiddenGroupError extends RequestError {
  override readonly name = 'ForbiddenGroupError';
  readonly code = 'forbidden-group';
  readonly status = 403;
}

/** Who may read what: the content groups a caller's identity allows. */
export interface CallerScope {
  /**
   * The content groups the caller may read, from its identity (the authorizer's claims), never
   * from the request itself. Every group when absent; none when empty.
   */
  readonly allowedGroups?: readonly string[];
}

/**
 * Refuses a group the caller may not read, before anything is said of the group (whether the
 * index holds it, how many items it has).
 * @throws {ForbiddenGroupError} when `group` is outside `scope.allowedGroups`
 */
export function assertMayRead(scope: CallerScope, group: string | undefined): void {
  if (group === undefined || scope.allowedGroups === undefined || scope.allowedGroups.includes(group)) return;
  throw new ForbiddenGroupError(`group "${group}" is not one of the content groups you may search`);
}

/** Thrown when a filter cannot be applied to the index: its message names every problem. */
export class FilterError extends RequestError {
  override readonly name = 'FilterError';
  readonly code = 'bad-filter';
  readonly status = 400;
}

/** The newest generation's meta among the loaded indexes (each group's, under the per-group layout). */
export const newestMeta = (sources: readonly LoadedGeneration[]): GenerationMeta =>
  sources.reduce(
    (newest, source) => (source.meta.generation > newest.generation ? source.meta : newest),
    sources[0]!.meta,
  );

/** What {@link selectItems} finds: the indexes to read, the items of each a request may return. */
export interface SelectedItems {
  readonly sources: LoadedGeneration[];
  /** Each source's admitted items. */
  readonly selections: Selection[];
  readonly pool: Pool;
  readonly meta: GenerationMeta;
  /**
   * The items of source `i` the caller may see, whatever the request's group and filter: the
   * corpus whose statistics lexical ranking uses. Undefined (every live item) when the caller may
   * read every group, or when the source is one of the caller's own per-group indexes.
   */
  readonly visible: (i: number) => Selection | undefined;
}

/**
 * The indexes a request reads, the items of each it may return, and how many those are.
 * @throws {ForbiddenGroupError} when the request's group is not one the caller may read
 * @throws {UnknownGroupError} when the index holds no item of the request's group
 * @throws {FilterError} naming every problem of the filter
 * @throws {NoIndexError} when no index has been published
 */
export function selectItems(
  context: SearchContext,
  reader: IndexReader,
  request: CallerScope & { readonly group?: string; readonly filter?: AttributeFilter },
): SelectedItems {
  assertMayRead(request, request.group);
  const groups = request.group !== undefined ? [request.group] : request.allowedGroups;
  const unknownGroup = () =>
    new UnknownGroupError(`unknown group "${request.group}": the index holds no item of that group`);
  const sources = reader.sources(groups);
  let meta: GenerationMeta | undefined;
  if (sources.length === 0) {
    // Per group, no index of the groups asked for: the group asked is unknown, or the caller's
    // groups hold nothing yet (an answer with no hit, never another group's index).
    const every = reader.sources();
    if (every.length === 0) throw new NoIndexError('no index has been published yet: import items and run the indexer');
    if (request.group !== undefined) throw unknownGroup();
    meta = newestMeta(every);
  }
  // In the global layout the groups are a filter over the one index; per group they pick the indexes.
  if (reader.layout === 'global' && request.group !== undefined && !sources[0]!.groups.has(request.group))
    throw unknownGroup();
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
  const narrowBy = reader.layout === 'global' ? groups : undefined;
  const selections = sources.map((source) =>
    source.select({ ...(narrowBy !== undefined ? { groups: narrowBy } : {}), ...(filter ? { filter } : {}) }),
  );
  const pool = {
    items: selections.reduce((sum, selection) => sum + selection.items, 0),
    largest: Math.max(0, ...selections.map((selection) => selection.items)),
  };
  const { allowedGroups } = request;
  return {
    sources,
    selections,
    pool,
    meta: meta ?? newestMeta(sources),
    visible: (i) => {
      if (allowedGroups === undefined || reader.layout === 'per-group') return undefined;
      // A request narrowed by nothing but the caller's groups has selected exactly that corpus.
      return groups === allowedGroups && !filter ? selections[i] : sources[i]!.select({ groups: allowedGroups });
    },
  };
}

const mergeKinds = (a: ColumnKinds, b: ColumnKinds): ColumnKinds => ({
  strings: a.strings || b.strings,
  numbers: a.numbers || b.numbers,
  booleans: a.booleans || b.booleans,
});
