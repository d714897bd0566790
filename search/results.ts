/**
 * What a search answers, and how its hits are read back from the table: ranked candidates are
 * read in batched calls, in order, until k of them still exist, dropping items deleted since
 * indexing (hard, or soft with `faiss_delete = true` before the next run has removed their
 * vectors) and items edited so that they no longer meet the filter; the ranking widens while
 * the index has more. Search and "more like this" share it.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { batchGetItems } from '../aws/dynamodb-batch.ts';
import type { AwsClients } from '../aws/clients.ts';
import { isTransient } from '../aws/errors.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { entryKey, type IndexEntry } from '../index-store/index-entry.ts';
import type { IndexHit } from '../index-store/segmented-index.ts';
import { DELETE_MARKER_ATTRIBUTE, keyAttributes } from '../table/items.ts';
import { type AttributeFilter, matchesItem } from './filter.ts';
import { RequestError } from '../config/errors.ts';

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

/** Candidates read back per round while looking for k items that still exist. */
const KEYS_PER_GET = 100;

/**
 * How long a search's reads from the table may take, retries of throttled reads included, before
 * it gives up with {@link TableBusyError}: well inside API Gateway's 29 s, so the caller gets a
 * 503 it can retry rather than a gateway timeout.
 */
export const READ_BACK_DEADLINE_MS = 10_000;

/** Thrown when the table does not answer a search's reads in time (throttled, or failing): try again shortly. */
export class TableBusyError extends RequestError {
  override readonly name = 'TableBusyError';
  readonly code = 'table-busy';
  readonly status = 503;
  /** Seconds after which a retry is worth making. */
  readonly retryAfterSeconds = 1;
  override get headers(): Readonly<Record<string, string>> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}

/** Hits read back, and the milliseconds spent ranking and reading. */
export interface Ranked {
  readonly hits: SearchHit[];
  readonly faiss: number;
  readonly hydrate: number;
}

/** The items a search may return, over the indexes it reads. */
export interface Pool {
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
export async function rankAndReadBack(
  context: SearchContext,
  request: { readonly k: number; readonly filter?: AttributeFilter; readonly attributes?: readonly string[] },
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
  const deadline = AbortSignal.timeout(READ_BACK_DEADLINE_MS);
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
        const items = await readItems(context, missing, projected, deadline);
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

/** DynamoDB's attribute value types: an attribute value is an object with exactly one of them. */
const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

/** Whether a value read back is an attribute value (a stand-in may answer a name like `__proto__` with `{}`). */
const isAttributeValue = (value: unknown): value is AttributeValue =>
  typeof value === 'object' &&
  value !== null &&
  Object.keys(value).length === 1 &&
  ATTRIBUTE_TYPES.has(Object.keys(value)[0]!);

/**
 * The attributes asked for, as plain JSON values (a set becomes a list, a number past 2^53 a
 * rounded number). Only the item's own attributes: a name like `constructor` is an attribute the
 * item may or may not have, never something inherited.
 */
function pick(item: Record<string, AttributeValue>, names: readonly string[]): Record<string, unknown> {
  const present = Object.fromEntries(
    names
      .filter((name) => Object.hasOwn(item, name) && isAttributeValue(item[name]))
      .map((name) => [name, item[name]!]),
  );
  const plain = (_key: string, value: unknown): unknown =>
    value instanceof Set ? [...(value as Set<unknown>)] : typeof value === 'bigint' ? Number(value) : value;
  return JSON.parse(JSON.stringify(unmarshall(present), plain)) as Record<string, unknown>;
}

/**
 * Reads items back by key (their key, content and delete marker, and `attributes`), by the entry
 * key; missing items are absent.
 * @throws {TableBusyError} when the table throttles or fails the reads past the deadline
 */
export async function readItems(
  context: SearchContext,
  keys: readonly Pick<IndexEntry, 'group' | 'id'>[],
  attributes: readonly string[] = [],
  deadline: AbortSignal = AbortSignal.timeout(READ_BACK_DEADLINE_MS),
): Promise<Map<string, Record<string, AttributeValue>>> {
  const { config, clients } = context;
  const names: Record<string, string> = {
    '#g': config.groupAttribute,
    '#i': config.idAttribute,
    '#c': config.contentAttribute,
    '#d': DELETE_MARKER_ATTRIBUTE,
  };
  // Each attribute once: one named twice, or also read anyway, would make the projection overlap.
  const read = new Set(Object.values(names));
  attributes.filter((name) => !read.has(name)).forEach((name, i) => (names[`#a${i}`] = name));
  let items: Record<string, AttributeValue>[];
  try {
    items = await batchGetItems(
      clients.dynamodb,
      config.tableName,
      keys.map((key) => keyAttributes(config, key)),
      { projection: { expression: Object.keys(names).join(', '), names }, abortSignal: deadline },
    );
  } catch (error) {
    if (!isTransient(error) && !deadline.aborted) throw error;
    throw new TableBusyError(
      `the table did not answer the search's reads in time (${(error as Error).name}: ${(error as Error).message}); ` +
        'try again shortly',
      { cause: error },
    );
  }
  return new Map(
    items.map((item) => [entryKey({ group: item[config.groupAttribute]!.S!, id: item[config.idAttribute]!.S! }), item]),
  );
}
