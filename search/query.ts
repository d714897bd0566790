/**
 * Text in, the most similar items out: embed the query with the model that built the index,
 * search the index, and read the items back from DynamoDB in batched calls. Items deleted
 * since indexing (hard, or soft with `faiss_delete = true` before the next run) are dropped,
 * not returned stale. A group filter is exact: the search widens until it has k hits from the
 * group (or the group is exhausted), never a silent short list. A query with no word the model
 * knows has no meaning to compare: it gets no hits and a `reason`, not k arbitrary ones.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { batchGetItems } from '../aws/dynamodb-batch.ts';
import path from 'node:path';
import type { AwsClients } from '../aws/clients.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { modelDirFor } from '../embedding/bundle.ts';
import { isEmptyEmbedding, loadEmbedder } from '../embedding/runtime.ts';
import type { ColumnKinds } from '../index-store/attribute-columns.ts';
import { entryKey, type IndexEntry } from '../index-store/index-entry.ts';
import { addStats } from '../index-store/bm25.ts';
import { lexicalTerms } from '../index-store/lexical-terms.ts';
import type { IndexHit, Selection } from '../index-store/segmented-index.ts';
import { type AttributeFilter, filterProblems, matchesItem } from './filter.ts';
import { DELETE_MARKER_ATTRIBUTE, keyAttributes } from '../table/items.ts';
import type { IndexReader, LoadedGeneration } from './index-reader.ts';
import type { GenerationMeta } from '../index-store/generations.ts';

/** What a search needs: the configuration and a DynamoDB client (to hydrate hits). */
export interface SearchContext {
  readonly config: DdbFaissConfig;
  readonly clients: Pick<AwsClients, 'dynamodb'>;
}

/**
 * How hits are ranked: by vector similarity (the default), by BM25 over the passages' terms
 * (`lexical`), or by both fused (`hybrid`, reciprocal rank fusion).
 */
export const SEARCH_MODES = ['vector', 'lexical', 'hybrid'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

export interface SearchRequest {
  readonly text: string;
  readonly k: number;
  /** @default 'vector' */
  readonly mode?: SearchMode;
  readonly group?: string;
  /** Conditions on the items' attributes, all of which a hit meets. */
  readonly filter?: AttributeFilter;
  /** Extra item attributes to return. */
  readonly attributes?: readonly string[];
}

/** The passage of a long item that matched: its text, where it is in the content, which of how many. */
export interface MatchedPassage {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly index: number;
  readonly count: number;
}

export interface SearchHit {
  readonly group: string;
  readonly id: string;
  readonly score: number;
  readonly content: string;
  /** For content split into passages (longer than the model's limit): the passage that scored. */
  readonly passage?: MatchedPassage;
  readonly attributes?: Record<string, unknown>;
}

export interface SearchResult {
  /** The ranking that answered. */
  readonly mode: SearchMode;
  readonly hits: SearchHit[];
  readonly generation: number;
  readonly model: string;
  /** Milliseconds spent embedding the query, ranking in the index (Faiss, BM25), and reading items back. */
  readonly timings: { embed: number; faiss: number; hydrate: number };
  /** Why there are no hits although the index has items (e.g. no word of the query is known). */
  readonly reason?: string;
}

/** The reason given for a query the model cannot place. */
export const NO_KNOWN_WORD = 'no word of the query is known to the model, so nothing can be ranked by similarity to it';
/** The reasons given when lexical ranking has nothing to go on. */
export const NO_LEXICAL_TERM = 'the query has no term for lexical search (only stop words or no words at all)';
export const NO_LEXICAL_HIT = 'no indexed item holds a term of the query';
export const NO_KNOWN_WORD_OR_TERM = `${NO_KNOWN_WORD}, and ${NO_LEXICAL_TERM.replace(/^the query has/, 'it has')}`;

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

/** Candidates read back per round while looking for k items that still exist. */
const KEYS_PER_GET = 100;

/** The newest generation's meta among the loaded indexes (each group's, under the per-group layout). */
const newestMeta = (sources: readonly LoadedGeneration[]): GenerationMeta =>
  sources.reduce(
    (newest, source) => (source.meta.generation > newest.generation ? source.meta : newest),
    sources[0]!.meta,
  );

/** The model that embedded a generation, loaded once per process. */
const queryEmbedder = (context: SearchContext, meta: GenerationMeta) =>
  loadEmbedder(path.join(context.config.efsRoot, modelDirFor(context.config.modelName, meta.model.checksum)), {
    threads: context.config.embedThreads,
  });

/**
 * Loads what a search needs, every published index and the newest one's model, without
 * answering a query, so that the first query pays no load: what a provisioned search instance
 * does during its init (see `tasks/lambda.ts`).
 * @returns how many vectors are loaded (0 before the first index is published)
 *
 * @example
 * ```ts
 * const reader = new IndexReader(config.efsRoot, config.indexLayout);
 * const vectors = await preloadSearch({ config, clients }, reader); // then search(..., reader, ...)
 * ```
 */
export async function preloadSearch(context: SearchContext, reader: IndexReader): Promise<number> {
  const sources = reader.sources();
  if (sources.length === 0) return 0;
  await queryEmbedder(context, newestMeta(sources));
  return sources.reduce((sum, source) => sum + source.size, 0);
}

/**
 * Text in, the most similar items out: embeds the query with the index's own model, searches
 * the published generation (every group's index under the per-group layout) among the items of
 * the requested group that meet the filter, and reads the hits back from the table, dropping
 * items deleted since they were indexed or edited so that they no longer meet the filter, until
 * it has `k` of them or the index has no more.
 * @throws {NoIndexError} when no index has been published yet
 * @throws {UnknownGroupError} when the group filter names a group the index does not hold
 * @throws {FilterError} when the filter names an attribute the index does not keep, or a value of
 *   a kind the attribute never holds
 *
 * @example
 * ```ts
 * import { IndexReader } from './search/index-reader.ts';
 * import { search } from './search/query.ts';
 * const reader = new IndexReader(config.efsRoot, config.indexLayout); // keep it: it caches the loaded index
 * const { hits, generation } = await search({ config, clients }, reader, { text: 'a red bus', k: 5 });
 * for (const hit of hits) console.log(hit.score.toFixed(3), hit.group, hit.id, hit.content);
 * ```
 */
export async function search(
  context: SearchContext,
  reader: IndexReader,
  request: SearchRequest,
): Promise<SearchResult> {
  const mode = request.mode ?? 'vector';
  const { sources, selections, pool, meta } = selectItems(context, reader, request);
  const answer = (ranked: Ranked, embed: number, reason?: string): SearchResult => ({
    mode,
    hits: ranked.hits,
    generation: meta.generation,
    model: meta.model.name,
    timings: { embed, faiss: ranked.faiss, hydrate: ranked.hydrate },
    ...(reason !== undefined && ranked.hits.length === 0 ? { reason } : {}),
  });

  // The vector ranking, unless the mode is lexical or the model knows no word of the query.
  let vectorRank: ((fetch: number) => IndexHit[]) | undefined;
  let embed = 0;
  if (mode !== 'lexical') {
    const t0 = performance.now();
    const embedder = await queryEmbedder(context, meta);
    const [query] = await embedder.embed([request.text]);
    if (!query?.ok) throw new Error(`cannot embed the query: ${query?.ok === false ? query.error : 'no result'}`);
    embed = performance.now() - t0;
    if (!isEmptyEmbedding(query.vector))
      vectorRank = (fetch) =>
        sources
          .flatMap((source, i) => source.search(query.vector, fetch, selections[i]))
          .sort((a, b) => b.score - a.score);
  }
  // The lexical ranking (BM25), unless the mode is vector or the query has no term.
  let lexicalRank: ((fetch: number) => IndexHit[]) | undefined;
  const terms = mode === 'vector' ? [] : [...new Set(lexicalTerms(request.text))];
  if (terms.length > 0) {
    const stats = addStats(sources.map((source) => source.lexicalStats(terms)));
    lexicalRank = (fetch) =>
      sources
        .flatMap((source, i) => source.lexicalSearch(terms, fetch, stats, selections[i]))
        .sort((a, b) => b.score - a.score);
  }

  const rank =
    mode === 'vector'
      ? vectorRank
      : mode === 'lexical'
        ? lexicalRank
        : vectorRank && lexicalRank
          ? (fetch: number) => fuseRanks([vectorRank(fetch), lexicalRank(fetch)])
          : (vectorRank ?? lexicalRank);
  const reason = mode === 'vector' ? NO_KNOWN_WORD : mode === 'lexical' ? NO_LEXICAL_TERM : NO_KNOWN_WORD_OR_TERM;
  if (!rank) return answer({ hits: [], faiss: 0, hydrate: 0 }, embed, reason);
  // Lexical ranking knows only the items holding a query term: it may find fewer than k.
  return answer(
    await rankAndReadBack(context, request, pool, rank),
    embed,
    mode === 'lexical' ? NO_LEXICAL_HIT : undefined,
  );
}

/** What "more like this" asks: the items nearest to a stored item. */
export interface SimilarRequest {
  readonly group: string;
  readonly id: string;
  readonly k: number;
  /** Conditions on the items' attributes, all of which a hit meets. */
  readonly filter?: AttributeFilter;
  /** Extra item attributes to return. */
  readonly attributes?: readonly string[];
}

/** Thrown when "more like this" names an item the index does not hold. */
export class NotIndexedError extends Error {
  override readonly name = 'NotIndexedError';
}

/**
 * More like this: the items nearest to a stored item's own vector, read from the index (the
 * item is not embedded again), the item itself left out. An item of several passages is
 * represented by the normalized mean of its passages' vectors. Hits are read back as a search's.
 * @throws {NotIndexedError} when the index does not hold the item
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
  const { sources, selections, pool, meta } = selectItems(context, reader, {
    ...(request.filter ? { filter: request.filter } : {}),
  });
  const own = sources.map((source) => source.vectorsOf(request.group, request.id)).find((found) => found !== undefined);
  if (!own) throw new NotIndexedError(`the index holds no item ${request.group}/${request.id} (is it indexed yet?)`);
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

/** Reciprocal rank fusion's constant (Cormack, Clarke and Büttcher, 2009): ranks past the first few count less. */
const RRF_K = 60;

/**
 * Hybrid ranking: reciprocal rank fusion of several rankings. An item scores the sum of
 * 1 / (60 + its rank) over the rankings that hold it; its passage is the one of the first
 * ranking that holds it.
 */
export function fuseRanks(rankings: readonly (readonly IndexHit[])[]): IndexHit[] {
  const fused = new Map<string, { hit: IndexHit; score: number }>();
  for (const ranking of rankings)
    ranking.forEach((hit, rank) => {
      const key = entryKey(hit.entry);
      const seen = fused.get(key);
      const score = 1 / (RRF_K + rank + 1);
      if (seen) seen.score += score;
      else fused.set(key, { hit, score });
    });
  return [...fused.values()].sort((a, b) => b.score - a.score).map(({ hit, score }) => ({ ...hit, score }));
}

/** The indexes a request reads, the items of each it may return, and how many those are. */
function selectItems(
  context: SearchContext,
  reader: IndexReader,
  request: Pick<SearchRequest, 'group' | 'filter'>,
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

/** Hits read back, and the milliseconds spent ranking and reading. */
interface Ranked {
  readonly hits: SearchHit[];
  readonly faiss: number;
  readonly hydrate: number;
}

/** The items a search may return, over the indexes it reads. */
interface Pool {
  /** Items admitted, over every index. */
  readonly items: number;
  /** Items admitted by the index that admits most: asking each for this many asks for all. */
  readonly largest: number;
}

/**
 * Reads ranked candidates back from the table in order, a chunk at a time, until `k` of them
 * still exist (and still meet the filter), widening the ranking while the pool has more.
 * @param rank the best `fetch` candidates of each index, merged, best first
 * @param exclude an item (its entry key) never to return
 */
async function rankAndReadBack(
  context: SearchContext,
  request: Pick<SearchRequest, 'k' | 'filter' | 'attributes'>,
  pool: Pool,
  rank: (fetch: number) => IndexHit[],
  exclude?: string,
): Promise<Ranked> {
  // The excluded item may or may not be among the pool: what is left once it is dropped ends the widening.
  const want = Math.min(request.k, pool.items);
  // First guess: k candidates (the index applies the group and filter), with slack for deletions.
  let fetch = want + 4 + (exclude === undefined ? 0 : 1);
  let hits: SearchHit[] = [];
  let faiss = 0;
  let hydrate = 0;
  if (want <= 0) return { hits, faiss, hydrate };
  // Items read so far by key; null: deleted (or soft-deleted) since indexing, or no longer meeting the filter.
  const read = new Map<string, Record<string, AttributeValue> | null>();
  const { filter } = request;
  const projected = [...new Set([...(request.attributes ?? []), ...Object.keys(filter ?? {})])];
  for (;;) {
    const f0 = performance.now();
    const candidates = rank(fetch).filter((hit) => entryKey(hit.entry) !== exclude);
    faiss += performance.now() - f0;
    hits = [];
    for (let next = 0; hits.length < want && next < candidates.length;) {
      const chunk = candidates.slice(next, next + Math.min(KEYS_PER_GET, Math.max(want - hits.length + 2, 4)));
      next += chunk.length;
      const missing = chunk.filter((hit) => !read.has(entryKey(hit.entry))).map((hit) => hit.entry);
      if (missing.length > 0) {
        const h0 = performance.now();
        const items = await readItems(context, missing, projected);
        hydrate += performance.now() - h0;
        for (const entry of missing) {
          const item = items.get(entryKey(entry));
          const live = item && item[DELETE_MARKER_ATTRIBUTE]?.BOOL !== true && (!filter || matchesItem(filter, item));
          read.set(entryKey(entry), live ? item : null);
        }
      }
      for (const hit of chunk) {
        const item = read.get(entryKey(hit.entry));
        const content = item?.[context.config.contentAttribute]?.S;
        if (!item || content === undefined) continue;
        const { passage } = hit;
        hits.push({
          group: hit.entry.group,
          id: hit.entry.id,
          score: hit.score,
          content,
          ...(passage.count > 1 ? { passage: { text: content.slice(passage.start, passage.end), ...passage } } : {}),
          ...(request.attributes?.length ? { attributes: pick(item, request.attributes) } : {}),
        });
      }
    }
    if (hits.length >= want || fetch >= pool.largest) break;
    fetch = Math.min(pool.largest, fetch * 4);
  }
  return { hits: hits.slice(0, request.k), faiss, hydrate };
}

function pick(item: Record<string, AttributeValue>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = item[name];
    if (!value) continue;
    out[name] =
      value.S ??
      (value.N !== undefined
        ? Number(value.N)
        : (value.BOOL ?? (value.NULL ? null : (value.SS ?? value.NS?.map(Number) ?? null))));
  }
  return out;
}

async function readItems(
  context: SearchContext,
  keys: readonly IndexEntry[],
  attributes: readonly string[] = [],
): Promise<Map<string, Record<string, AttributeValue>>> {
  const { config, clients } = context;
  const names: Record<string, string> = {
    '#g': config.groupAttribute,
    '#i': config.idAttribute,
    '#c': config.contentAttribute,
    '#d': DELETE_MARKER_ATTRIBUTE,
  };
  attributes.forEach((name, i) => (names[`#a${i}`] = name));
  const items = await batchGetItems(
    clients.dynamodb,
    config.tableName,
    keys.map((key) => keyAttributes(config, key)),
    { projection: { expression: Object.keys(names).join(', '), names } },
  );
  return new Map(
    items.map((item) => [entryKey({ group: item[config.groupAttribute]!.S!, id: item[config.idAttribute]!.S! }), item]),
  );
}
