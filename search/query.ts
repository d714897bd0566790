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
import { entryKey, type IndexEntry } from '../index-store/index-entry.ts';
import { DELETE_MARKER_ATTRIBUTE, keyAttributes } from '../table/items.ts';
import type { IndexReader, LoadedGeneration } from './index-reader.ts';
import type { GenerationMeta } from '../index-store/generations.ts';

/** What a search needs: the configuration and a DynamoDB client (to hydrate hits). */
export interface SearchContext {
  readonly config: DdbFaissConfig;
  readonly clients: Pick<AwsClients, 'dynamodb'>;
}

export interface SearchRequest {
  readonly text: string;
  readonly k: number;
  readonly group?: string;
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
  readonly hits: SearchHit[];
  readonly generation: number;
  readonly model: string;
  /** Milliseconds spent embedding the query, in Faiss, and reading items back. */
  readonly timings: { embed: number; faiss: number; hydrate: number };
  /** Why there are no hits although the index has items (e.g. no word of the query is known). */
  readonly reason?: string;
}

/** The reason given for a query the model cannot place. */
export const NO_KNOWN_WORD = 'no word of the query is known to the model, so nothing can be ranked by similarity to it';

/** Thrown when no index has been published yet. */
export class NoIndexError extends Error {
  override readonly name = 'NoIndexError';
}

/** Thrown when the group filter names a group the index does not hold. */
export class UnknownGroupError extends Error {
  override readonly name = 'UnknownGroupError';
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
 * the published generation (every group's index under the per-group layout), keeps only the
 * requested group, and reads the hits back from the table, dropping items deleted since they
 * were indexed, until it has `k` of them or the index has no more.
 * @throws {NoIndexError} when no index has been published yet
 * @throws {UnknownGroupError} when the group filter names a group the index does not hold
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
  const sources = reader.sources(request.group);
  if (sources.length === 0) {
    if (reader.layout === 'per-group' && request.group !== undefined && reader.sources().length > 0) {
      throw new UnknownGroupError(`unknown group "${request.group}": the index holds no item of that group`);
    }
    throw new NoIndexError('no index has been published yet: import items and run the indexer');
  }
  // In the global layout a group is a filter over the one index; per group it picks the index.
  const filter = reader.layout === 'global' ? request.group : undefined;
  const total = sources.reduce((sum, source) => sum + source.size, 0);
  const groupSize = filter === undefined ? total : sources[0]!.groups.get(filter);
  if (groupSize === undefined)
    throw new UnknownGroupError(`unknown group "${request.group}": the index holds no item of that group`);
  const meta = newestMeta(sources);

  const t0 = performance.now();
  const embedder = await queryEmbedder(context, meta);
  const [query] = await embedder.embed([request.text]);
  if (!query?.ok) throw new Error(`cannot embed the query: ${query?.ok === false ? query.error : 'no result'}`);
  const t1 = performance.now();
  if (isEmptyEmbedding(query.vector)) {
    return {
      hits: [],
      generation: meta.generation,
      model: meta.model.name,
      timings: { embed: t1 - t0, faiss: 0, hydrate: 0 },
      reason: NO_KNOWN_WORD,
    };
  }

  const want = Math.min(request.k, groupSize);
  // First guess: k candidates (of the group: the index filters), with slack for deletions.
  let fetch = want + 4;
  let hits: SearchHit[];
  let faiss = 0;
  let hydrate = 0;
  // Items read so far by key; null: deleted (or soft-deleted) since indexing.
  const read = new Map<string, Record<string, AttributeValue> | null>();
  for (;;) {
    const f0 = performance.now();
    const candidates = sources
      .flatMap((source) => source.search(query.vector, fetch, filter))
      .sort((a, b) => b.score - a.score);
    faiss += performance.now() - f0;
    hits = [];
    // Read candidates back in order, a chunk at a time, until k of them still exist.
    for (let next = 0; hits.length < want && next < candidates.length;) {
      const chunk = candidates.slice(next, next + Math.min(KEYS_PER_GET, Math.max(want - hits.length + 2, 4)));
      next += chunk.length;
      const missing = chunk.filter((hit) => !read.has(entryKey(hit.entry))).map((hit) => hit.entry);
      if (missing.length > 0) {
        const h0 = performance.now();
        const items = await readItems(context, missing, request.attributes);
        hydrate += performance.now() - h0;
        for (const entry of missing) {
          const item = items.get(entryKey(entry));
          read.set(entryKey(entry), item && item[DELETE_MARKER_ATTRIBUTE]?.BOOL !== true ? item : null);
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
    const pool = (source: LoadedGeneration): number =>
      filter === undefined ? source.size : (source.groups.get(filter) ?? 0);
    if (hits.length >= want || sources.every((source) => fetch >= pool(source))) break;
    fetch *= 4;
  }
  return {
    hits: hits.slice(0, request.k),
    generation: meta.generation,
    model: meta.model.name,
    timings: { embed: t1 - t0, faiss, hydrate },
  };
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
