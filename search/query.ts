/**
 * Text in, the most similar items out: embed the query with the model that built the index,
 * search the index, and read the items back from DynamoDB in batched calls (items deleted
 * since indexing are dropped, not returned stale).
 */
import { type AttributeValue, BatchGetItemCommand, type BatchGetItemCommandOutput, type KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import type { IndexerContext } from '../indexer/context.ts';
import { modelDirFor } from '../indexer/bootstrap.ts';
import { keyAttributes } from '../indexer/items.ts';
import { entryKey } from '../index-store/index-state.ts';
import { loadEmbedder } from '../embedding/runtime.ts';
import type { IndexReader } from './index-reader.ts';

export interface SearchHit {
  readonly group: string;
  readonly id: string;
  readonly score: number;
  readonly content: string;
}

export interface SearchResult {
  readonly hits: SearchHit[];
  readonly generation: number;
  readonly model: string;
}

/** Thrown when no index has been published yet. */
export class NoIndexError extends Error {
  override readonly name = 'NoIndexError';
}

export async function searchText(context: IndexerContext, reader: IndexReader, text: string, k: number): Promise<SearchResult> {
  const loaded = reader.current();
  if (!loaded) throw new NoIndexError('no index has been published yet: import items and run the indexer');
  const modelDir = path.join(context.config.efsRoot, modelDirFor(context.config.modelName, loaded.meta.model.checksum));
  const embedder = await loadEmbedder(modelDir, { threads: context.config.embedThreads });
  const [query] = await embedder.embed([text]);
  if (!query?.ok) throw new Error(`cannot embed the query: ${query?.ok === false ? query.error : 'no result'}`);
  // Ask for a few more than k: some may have been deleted since they were indexed.
  const found = loaded.state.search(query.vector, Math.ceil(k * 1.5) + 2);
  const items = await hydrate(context, found.map((hit) => hit.entry));
  const hits = found.flatMap((hit) => {
    const item = items.get(entryKey(hit.entry));
    const content = item?.[context.config.contentAttribute]?.S;
    return content === undefined ? [] : [{ group: hit.entry.group, id: hit.entry.id, score: hit.score, content }];
  });
  return { hits: hits.slice(0, k), generation: loaded.meta.generation, model: loaded.meta.model.name };
}

const KEYS_PER_GET = 100;

async function hydrate(context: IndexerContext, keys: readonly { group: string; id: string }[]): Promise<Map<string, Record<string, AttributeValue>>> {
  const { config, clients } = context;
  const items = new Map<string, Record<string, AttributeValue>>();
  for (let start = 0; start < keys.length; start += KEYS_PER_GET) {
    let request: Record<string, KeysAndAttributes> | undefined = { [config.tableName]: { Keys: keys.slice(start, start + KEYS_PER_GET).map((key) => keyAttributes(config, key)) } };
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt === 5) throw new Error('DynamoDB left keys unprocessed after 5 attempts');
      const response: BatchGetItemCommandOutput = await clients.dynamodb.send(new BatchGetItemCommand({ RequestItems: request }));
      for (const item of response.Responses?.[config.tableName] ?? []) {
        items.set(entryKey({ group: item[config.groupAttribute]!.S!, id: item[config.idAttribute]!.S! }), item);
      }
      request = response.UnprocessedKeys;
    }
  }
  return items;
}
