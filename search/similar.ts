/**
 * More like this: the items nearest to a stored item, found from the item's own vectors in the
 * index, never by embedding it again.
 */
import { entryKey } from '../index-store/index-entry.ts';
import type { AttributeFilter } from './filter.ts';
import type { IndexReader } from './index-reader.ts';
import { DELETE_MARKER_ATTRIBUTE } from '../table/items.ts';
import { rankAndReadBack, readItems, type SearchContext, type SearchResult } from './results.ts';
import { assertMayRead, type CallerScope, selectItems } from './scope.ts';
import { RequestError } from '../config/errors.ts';

/** What "more like this" asks: the items nearest to a stored item. */
export interface SimilarRequest extends CallerScope {
  readonly group: string;
  readonly id: string;
  readonly k: number;
  /** Conditions on the items' attributes, all of which a hit meets. */
  readonly filter?: AttributeFilter;
  /** Extra item attributes to return. */
  readonly attributes?: readonly string[];
}

/** Thrown when "more like this" names an item the index does not hold, or the table no longer does. */
export class ItemNotFoundError extends RequestError {
  override readonly name = 'ItemNotFoundError';
  readonly code = 'item-not-found';
  readonly status = 404;
}

/**
 * More like this: the items nearest to a stored item's own vector, read from the index (the
 * item is not embedded again), the item itself left out. An item of several passages is
 * represented by the normalized mean of its passages' vectors. Hits are read back as a search's.
 * @throws {ForbiddenGroupError} when the item's group is not one the caller may read
 * @throws {ItemNotFoundError} when the index does not hold the item, or the table no longer does
 *   (deleted, or soft-deleted, since it was indexed)
 *
 * @example
 * ```ts
 * const { hits } = await similar({ config, clients }, reader, { group: 'news', id: 'a-17', k: 5 });
 * ```
 */
export async function similar(
  context: SearchContext,
  reader: IndexReader,
  request: SimilarRequest,
): Promise<SearchResult> {
  assertMayRead(request, request.group);
  const { sources, selections, pool, meta } = selectItems(context, reader, {
    ...(request.filter ? { filter: request.filter } : {}),
    ...(request.allowedGroups ? { allowedGroups: request.allowedGroups } : {}),
  });
  const own = sources.map((source) => source.vectorsOf(request.group, request.id)).find((found) => found !== undefined);
  const name = `${request.group}/${request.id}`;
  if (!own) throw new ItemNotFoundError(`the index holds no item ${name} (is it indexed yet?)`);
  const stored = (await readItems(context, [request])).get(entryKey(request));
  if (!stored || stored[DELETE_MARKER_ATTRIBUTE]?.BOOL === true)
    throw new ItemNotFoundError(`the table holds no item ${name} any more (deleted since it was indexed)`);
  const query = meanDirection(own, meta.model.dimensions);
  const ranked = await rankAndReadBack(
    context,
    request,
    pool,
    (fetch) =>
      sources.flatMap((source, i) => source.search(query, fetch, selections[i])).sort((a, b) => b.score - a.score),
    entryKey(request),
  );
  return {
    mode: 'vector',
    hits: ranked.hits,
    generation: meta.generation,
    model: meta.model.name,
    timings: { embed: 0, faiss: ranked.faiss, hydrate: ranked.hydrate },
  };
}

/** The unit vector along the mean of row-major vectors. */
function meanDirection(vectors: Float32Array, dimensions: number): Float32Array {
  const mean = new Float32Array(dimensions);
  for (let at = 0; at < vectors.length; at++) mean[at % dimensions]! += vectors[at]!;
  const norm = Math.hypot(...mean) || 1;
  return mean.map((value) => value / norm);
}
