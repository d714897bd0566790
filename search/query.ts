/**
 * Text in, the most similar items out: embed the query with the model that built the index,
 * rank the admitted items (of the group, meeting the filter) by vector similarity, by BM25, or
 * by both fused, and read the hits back from the table (`results.ts`). Group and attribute
 * filters are exact: the search widens until it has k hits (or the admitted items run out),
 * never a silent short list. A query with no word the model knows has no meaning to compare: it
 * gets no hits and a `reason`, not k arbitrary ones.
 */
import path from 'node:path';
import { modelDirFor } from '../embedding/bundle.ts';
import { type EmbedderOptions, isEmptyEmbedding, loadEmbedder } from '../embedding/runtime.ts';
import { addStats } from '../index-store/bm25.ts';
import type { GenerationMeta } from '../index-store/generations.ts';
import { entryKey } from '../index-store/index-entry.ts';
import { lexicalTerms } from '../index-store/lexical-terms.ts';
import type { IndexHit } from '../index-store/segmented-index.ts';
import type { AttributeFilter } from './filter.ts';
import type { IndexReader } from './index-reader.ts';
import { rankAndReadBack, type Ranked, type SearchContext, type SearchMode, type SearchResult } from './results.ts';
import { type CallerScope, newestMeta, selectItems } from './scope.ts';

export interface SearchRequest extends CallerScope {
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

/** The reason given for a query the model cannot place. */
export const NO_KNOWN_WORD = 'no word of the query is known to the model, so nothing can be ranked by similarity to it';
/** The reasons given when lexical ranking has nothing to go on. */
export const NO_LEXICAL_TERM = 'the query has no term for lexical search (only stop words or no words at all)';
export const NO_LEXICAL_HIT = 'no indexed item holds a term of the query';
export const NO_KNOWN_WORD_OR_TERM = `${NO_KNOWN_WORD}, and ${NO_LEXICAL_TERM.replace(/^the query has/, 'it has')}`;

/**
 * How a search embeds its query: onnxruntime's workers do not spin after the call, as they
 * would waiting for a next batch, on the cores the index search and the read-back need next.
 */
export const queryEmbedderOptions = (config: Pick<SearchContext['config'], 'embedThreads'>): EmbedderOptions => ({
  threads: config.embedThreads,
  spinning: false,
});

/** The model that embedded a generation, loaded once per process. */
const queryEmbedder = (context: SearchContext, meta: GenerationMeta) =>
  loadEmbedder(
    path.join(context.config.efsRoot, modelDirFor(context.config.modelName, meta.model.checksum)),
    queryEmbedderOptions(context.config),
  );

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
 * @throws {ForbiddenGroupError} when the group is not one the caller may read (`allowedGroups`)
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
  const { sources, selections, pool, meta, visible } = selectItems(context, reader, request);
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
    const stats = addStats(sources.map((source, i) => source.lexicalStats(terms, visible(i))));
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
