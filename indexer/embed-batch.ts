/**
 * Embed stage: read one batch file, fetch the items' current content and version in batched
 * consistent reads, embed what can be embedded, and write a shard file. Items deleted
 * (soft or hard) become removals; items that cannot be embedded become poison entries with
 * their reason. Nothing here touches the index or the flags.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { batchGetItems } from '../aws/dynamodb-batch.ts';
import path from 'node:path';
import { type Embedder, isEmptyEmbedding, loadEmbedder } from '../embedding/runtime.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import {
  DELETE_MARKER_ATTRIBUTE,
  filterableAttributes,
  keyAttributes,
  ownAttributes,
  poisonReason,
  readKey,
  readVersion,
  type VersionedKey,
} from '../table/items.ts';
import type { ItemScalars } from '../index-store/attribute-columns.ts';
import { entryKey, type PassageSpan } from '../index-store/index-entry.ts';
import { termCounts, type TermCounts } from '../index-store/lexical-terms.ts';
import { renewLease } from './lease.ts';
import { type BatchDescriptor, readBatch, type ShardDescriptor, ShardWriter } from './run-files.ts';

/** Passages given to the model per call. */
export const PASSAGES_PER_CALL = 256;
/** Items read from the table at once (one BatchGetItem): with the passages per call, bounds a batch's memory. */
export const ITEMS_PER_READ = 100;

/** An item to embed: its key and version, its content, and its filterable attributes. */
interface ContentItem {
  readonly key: VersionedKey;
  readonly text: string;
  readonly attributes?: ItemScalars;
}

/**
 * Embeds each item's content passage by passage (one passage for content within the model's
 * limit), a bounded number of passages at a time across items, so short items still share the
 * model's calls, and adds each item to the shard as soon as its last passage is embedded: its
 * vectors and each passage's terms for the lexical index, or a poison entry when no passage can
 * be embedded. Passages with no known word carry
 * nothing and are left out.
 */
async function embedPassages(embedder: Embedder, items: readonly ContentItem[], shard: ShardWriter): Promise<void> {
  const passages = items.flatMap((item, index) => embedder.passages(item.text).map((passage) => ({ index, passage })));
  // The item being gathered: its passages' spans and vectors so far, or its first error.
  let current = -1;
  let spans: PassageSpan[] = [];
  let vectors: Float32Array[] = [];
  let terms: TermCounts[] = [];
  let error: string | undefined;
  const complete = (): void => {
    if (current < 0) return;
    const { key, attributes } = items[current]!;
    if (error !== undefined) shard.add({ ...key, kind: 'poison', reason: error });
    else if (vectors.length === 0)
      shard.add({ ...key, kind: 'poison', reason: 'no word of the content is known to the model' });
    else shard.addVectors(key, spans, concat(vectors), attributes, terms);
  };
  for (let from = 0; from < passages.length; from += PASSAGES_PER_CALL) {
    const chunk = passages.slice(from, from + PASSAGES_PER_CALL);
    const results = await embedder.embed(chunk.map(({ passage }) => passage.text));
    results.forEach((result, i) => {
      const { index, passage } = chunk[i]!;
      if (index !== current) {
        complete();
        [current, spans, vectors, terms, error] = [index, [], [], [], undefined];
      }
      if (!result.ok) error ??= result.error;
      else if (!isEmptyEmbedding(result.vector)) {
        spans.push([passage.start, passage.end]);
        vectors.push(result.vector);
        terms.push(termCounts(passage.text));
      }
    });
  }
  complete();
}

/** Vectors of equal length, one after the other. */
function concat(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 1) return vectors[0]!;
  const out = new Float32Array(vectors.reduce((sum, vector) => sum + vector.length, 0));
  let at = 0;
  for (const vector of vectors) {
    out.set(vector, at);
    at += vector.length;
  }
  return out;
}

async function fetchItems(
  context: IndexerContext,
  keys: readonly VersionedKey[],
): Promise<Map<string, Record<string, AttributeValue>>> {
  const { config, clients } = context;
  // Every attribute when every one is filterable; otherwise only ddb-faiss's own and the listed ones.
  const wanted = config.filterAttributes === '*' ? undefined : [...ownAttributes(config), ...config.filterAttributes];
  // One read per item: an item both flagged and captured is in the batch twice (BatchGetItem refuses duplicates).
  const unique = new Map(keys.map((key) => [entryKey(key), key]));
  const items = await batchGetItems(
    clients.dynamodb,
    config.tableName,
    [...unique.values()].map((key) => keyAttributes(config, key)),
    {
      consistentRead: true,
      ...(wanted
        ? {
            projection: {
              expression: wanted.map((_, i) => `#a${i}`).join(', '),
              names: Object.fromEntries(wanted.map((name, i) => [`#a${i}`, name])),
            },
          }
        : {}),
    },
  );
  const found = new Map<string, Record<string, AttributeValue>>();
  for (const item of items) {
    const key = readKey(config, item);
    if (key) found.set(entryKey(key), item);
  }
  return found;
}

/**
 * One read's items into the shard: fetched, sorted into removals, poison and content, and the
 * content embedded. A function of its own so that nothing of one read outlives it: a suspended
 * async function keeps its locals' last values, and a loop in embedBatch held the previous
 * read's items (40 MB of 400 KB items) while it awaited the next read.
 */
async function embedRead(
  context: IndexerContext,
  keys: readonly VersionedKey[],
  shard: ShardWriter,
  embedder: () => Promise<Embedder>,
): Promise<void> {
  const { config } = context;
  const items = await fetchItems(context, keys);
  const toEmbed: ContentItem[] = [];
  for (const key of keys) {
    const item = items.get(entryKey(key));
    if (!item) {
      shard.add({ ...key, kind: 'gone' });
      continue;
    }
    // A marker's version is the marker's: the clear stage settles the marker, never the writer's item.
    const versioned: VersionedKey = key.marker
      ? key
      : { group: key.group, id: key.id, version: readVersion(config, item) };
    if (item[DELETE_MARKER_ATTRIBUTE]?.BOOL === true) {
      // Soft-deleted: a flagged item is deleted by the clear stage; a captured one is only left out.
      shard.add({ ...versioned, kind: key.marker ? 'gone' : 'delete' });
      continue;
    }
    // In stream mode an item without the text attribute is another kind of item (or lost its
    // text): not indexed, and no poison; a flagged one asked to be indexed, so it is poison.
    if (key.marker && item[config.contentAttribute] === undefined) {
      shard.add({ ...versioned, kind: 'gone' });
      continue;
    }
    const reason = poisonReason(config, item);
    if (reason) shard.add({ ...versioned, kind: 'poison', reason });
    else {
      const attributes = filterableAttributes(config, config.filterAttributes, item);
      const text = item[config.contentAttribute]!.S!;
      toEmbed.push({ key: versioned, text, ...(attributes ? { attributes } : {}) });
    }
  }
  if (toEmbed.length > 0) await embedPassages(await embedder(), toEmbed, shard);
}

export async function embedBatch(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  batch: BatchDescriptor,
): Promise<ShardDescriptor> {
  const { config } = context;
  // Every batch renews the writer lease: an embed phase longer than the lease keeps the index.
  await renewLease(context, run);
  const keys = readBatch(config.efsRoot, batch);
  const shard = new ShardWriter(config.efsRoot, run.execution, batch.batch, model.checksum, model.dimensions);
  // Loaded on the first read with content to embed (a batch of deletes needs no model).
  const embedder = () => loadEmbedder(path.join(config.efsRoot, model.dir), { threads: config.embedThreads });
  try {
    // A read's items at a time: a batch of 400 KB items never sits in memory whole.
    for (let from = 0; from < keys.length; from += ITEMS_PER_READ)
      await embedRead(context, keys.slice(from, from + ITEMS_PER_READ), shard, embedder);
    return shard.finish();
  } catch (error) {
    shard.abandon();
    throw error;
  }
}
