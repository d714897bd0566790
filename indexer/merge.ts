/**
 * Merge stage: fold the shards into the index and publish a new generation, then record
 * what the index now holds in a clear list for the clear stage. Replacing is by key (remove
 * the old vector, add the new one), so a batch merged twice (a retry, or a rerun after a
 * crash before the flags were cleared) never duplicates a vector.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { type GenerationMeta, GenerationStore } from '../index-store/generations.ts';
import { entryKey, type IndexEntry, IndexState } from '../index-store/index-state.ts';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import { ModelMismatchError, PermanentError } from './errors.ts';
import { keyAttributes, RESERVED_GROUP } from './items.ts';
import { renewLease } from './lease.ts';
import { type FailedBatch, readShard, runDir, type ShardDescriptor, type ShardEntry } from './run-files.ts';
import type { PlanResult } from './plan.ts';

export interface MergeResult {
  readonly generation: number;
  readonly vectors: number;
  readonly added: number;
  readonly removed: number;
  readonly poison: number;
  readonly failedBatches: { readonly batch: number; readonly error: string; readonly cause: string }[];
  /** The clear list (relative to the EFS root) and its length. */
  readonly clearFile: string;
  readonly clearItems: number;
}

export const INDEX_STATUS_KEY = { group: RESERVED_GROUP, id: 'index-status' };

export async function mergeShards(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  plan: Pick<PlanResult, 'batchCount'>,
  shards: readonly (ShardDescriptor | FailedBatch)[],
): Promise<MergeResult> {
  const { config } = context;
  await renewLease(context, run.execution);
  const failed = shards.filter((shard): shard is FailedBatch => shard.failed === true);
  const done = shards.filter((shard): shard is ShardDescriptor => shard.failed !== true);
  if (done.length === 0) {
    throw new PermanentError(`all ${plan.batchCount} batches failed; first: ${failed[0]?.error ?? 'unknown'}: ${failed[0]?.cause ?? ''}`);
  }

  const store = new GenerationStore(config.efsRoot);
  const current = store.current();
  let state: IndexState;
  if (run.mode === 'backfill' || !current) {
    state = IndexState.empty(model.dimensions);
  } else {
    const loaded = store.load(current);
    if (loaded.meta.model.checksum !== model.checksum) {
      throw new ModelMismatchError(`the index was built by model ${loaded.meta.model.name} (${loaded.meta.model.checksum.slice(0, 12)}), this run uses ${model.name} (${model.checksum.slice(0, 12)}): start a backfill to switch models`);
    }
    state = loaded.state;
  }

  let added = 0;
  let removed = 0;
  let poison = 0;
  const clearList: ShardEntry[] = [];
  for (const descriptor of done) {
    const shard = readShard(config.efsRoot, descriptor);
    if (shard.model !== model.checksum) throw new PermanentError(`shard ${descriptor.file} was embedded by another model`);
    removed += state.remove(shard.entries.map(entryKey));
    const fresh = shard.entries.filter((entry): entry is Extract<ShardEntry, { kind: 'vector' }> => entry.kind === 'vector');
    const vectors = new Float32Array(fresh.length * model.dimensions);
    fresh.forEach((entry, i) => vectors.set(shard.vectors.subarray(entry.row * model.dimensions, (entry.row + 1) * model.dimensions), i * model.dimensions));
    state.add(fresh.map((entry): IndexEntry => ({ group: entry.group, id: entry.id, version: entry.version })), vectors);
    added += fresh.length;
    poison += shard.entries.filter((entry) => entry.kind === 'poison').length;
    clearList.push(...shard.entries);
  }

  const meta: GenerationMeta = store.publish(state, { name: model.name, checksum: model.checksum, dimensions: model.dimensions }, run.execution);
  await recordIndexStatus(context, meta);
  const clearFile = path.join(runDir(run.execution), 'clear.json');
  writeFileAtomic(path.join(config.efsRoot, clearFile), JSON.stringify(clearList));
  return {
    generation: meta.generation,
    vectors: meta.vectors,
    added,
    removed: Math.max(0, removed - added),
    poison,
    failedBatches: failed.map((batch) => ({ batch: batch.batch.batch, error: batch.error, cause: batch.cause })),
    clearFile,
    clearItems: clearList.length,
  };
}

/** Mirrors the current generation into the table, where `ddb-faiss status` reads it from anywhere. */
async function recordIndexStatus({ config, clients }: IndexerContext, meta: GenerationMeta): Promise<void> {
  await clients.dynamodb.send(new PutItemCommand({
    TableName: config.tableName,
    Item: { ...keyAttributes(config, INDEX_STATUS_KEY), status: { S: JSON.stringify(meta) } },
  }));
}
