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
import { entryKey } from '../index-store/index-entry.ts';
import { renewLease } from './lease.ts';
import { type BatchDescriptor, readBatch, type ShardDescriptor, type ShardEntry, writeShard } from './run-files.ts';

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

  const vectors: Float32Array[] = [];
  if (toEmbed.length > 0) {
    const embedder = await loadEmbedder(path.join(config.efsRoot, model.dir), { threads: config.embedThreads });
    const results = await embedder.embed(toEmbed.map((item) => item.text));
    results.forEach((result, i) => {
      const { key } = toEmbed[i]!;
      if (!result.ok) {
        entries.push({ ...key, kind: 'poison', reason: result.error });
      } else if (isEmptyEmbedding(result.vector)) {
        entries.push({ ...key, kind: 'poison', reason: 'no word of the content is known to the model' });
      } else {
        entries.push({ ...key, kind: 'vector', row: vectors.length });
        vectors.push(result.vector);
      }
    });
  }
  const flat = new Float32Array(vectors.length * model.dimensions);
  vectors.forEach((vector, row) => flat.set(vector, row * model.dimensions));
  return writeShard(config.efsRoot, run.execution, batch.batch, model.checksum, entries, flat);
}
