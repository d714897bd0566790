/**
 * Embed stage: read one batch file, fetch the items' current content and version in batched
 * consistent reads, embed what can be embedded, and write a shard file. Items deleted
 * (soft or hard) become removals; items that cannot be embedded become poison entries with
 * their reason. Nothing here touches the index or the flags.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { batchGetItems } from '../aws/dynamodb-batch.ts';
import path from 'node:path';
import { isEmptyEmbedding, loadEmbedder } from '../embedding/runtime.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import {
  DELETE_MARKER_ATTRIBUTE,
  keyAttributes,
  poisonReason,
  readKey,
  readVersion,
  type VersionedKey,
} from '../table/items.ts';
import { entryKey, type PassageSpan } from '../index-store/index-entry.ts';
import { renewLease } from './lease.ts';
import { type BatchDescriptor, readBatch, type ShardDescriptor, type ShardEntry, writeShard } from './run-files.ts';

/** Passages given to the model per call: bounds a batch's memory whatever its items' lengths. */
export const PASSAGES_PER_CALL = 256;

/**
 * Embeds each item's content passage by passage (one passage for content within the model's
 * limit) and adds a vector entry for each item to `entries` (or a poison entry when no passage
 * can be embedded). Passages with no known word carry nothing and are left out.
 * @returns the vectors, row-major, in the order of the entries' rows
 */
async function embedPassages(
  context: IndexerContext,
  model: ModelDescriptor,
  items: readonly { key: VersionedKey; text: string }[],
  entries: ShardEntry[],
): Promise<Float32Array> {
  const { config } = context;
  const embedder = await loadEmbedder(path.join(config.efsRoot, model.dir), { threads: config.embedThreads });
  // Every passage of every item, in item order; embedded a bounded number at a time across items,
  // so short items still share the model's batches.
  const passages = items.flatMap((item, index) => embedder.passages(item.text).map((passage) => ({ index, passage })));
  const spans: PassageSpan[][] = items.map(() => []);
  const vectors: Float32Array[][] = items.map(() => []);
  const errors: (string | undefined)[] = [];
  for (let from = 0; from < passages.length; from += PASSAGES_PER_CALL) {
    const chunk = passages.slice(from, from + PASSAGES_PER_CALL);
    const results = await embedder.embed(chunk.map(({ passage }) => passage.text));
    results.forEach((result, i) => {
      const { index, passage } = chunk[i]!;
      if (!result.ok) errors[index] ??= result.error;
      else if (!isEmptyEmbedding(result.vector)) {
        spans[index]!.push([passage.start, passage.end]);
        vectors[index]!.push(result.vector);
      }
    });
  }
  const rows: Float32Array[] = [];
  items.forEach(({ key }, index) => {
    const error = errors[index];
    if (error !== undefined) entries.push({ ...key, kind: 'poison', reason: error });
    else if (vectors[index]!.length === 0)
      entries.push({ ...key, kind: 'poison', reason: 'no word of the content is known to the model' });
    else {
      entries.push({ ...key, kind: 'vector', row: rows.length, passages: spans[index]! });
      for (const vector of vectors[index]!) rows.push(vector);
    }
  });
  const flat = new Float32Array(rows.length * model.dimensions);
  rows.forEach((vector, row) => flat.set(vector, row * model.dimensions));
  return flat;
}

async function fetchItems(
  context: IndexerContext,
  keys: readonly VersionedKey[],
): Promise<Map<string, Record<string, AttributeValue>>> {
  const { config, clients } = context;
  const items = await batchGetItems(
    clients.dynamodb,
    config.tableName,
    keys.map((key) => keyAttributes(config, key)),
    {
      consistentRead: true,
      projection: {
        expression: '#g, #i, #c, #p, #d',
        names: {
          '#g': config.groupAttribute,
          '#i': config.idAttribute,
          '#c': config.contentAttribute,
          '#p': config.pendingAttribute,
          '#d': DELETE_MARKER_ATTRIBUTE,
        },
      },
    },
  );
  const found = new Map<string, Record<string, AttributeValue>>();
  for (const item of items) {
    const key = readKey(config, item);
    if (key) found.set(entryKey(key), item);
  }
  return found;
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
  const items = await fetchItems(context, keys);
  const entries: ShardEntry[] = [];
  const toEmbed: { key: VersionedKey; text: string }[] = [];
  for (const key of keys) {
    const item = items.get(entryKey(key));
    if (!item) {
      entries.push({ ...key, kind: 'gone' });
      continue;
    }
    const version = readVersion(config, item);
    if (item[DELETE_MARKER_ATTRIBUTE]?.BOOL === true) {
      entries.push({ group: key.group, id: key.id, version, kind: 'delete' });
      continue;
    }
    const reason = poisonReason(config, item);
    if (reason) entries.push({ group: key.group, id: key.id, version, kind: 'poison', reason });
    else toEmbed.push({ key: { group: key.group, id: key.id, version }, text: item[config.contentAttribute]!.S! });
  }

  const vectors = toEmbed.length > 0 ? await embedPassages(context, model, toEmbed, entries) : new Float32Array(0);
  return writeShard(config.efsRoot, run.execution, batch.batch, model.checksum, entries, vectors);
}
