/**
 * Merge stage: fold the shards into the index and publish a new generation, then record
 * what the index now holds in a clear list for the clear stage. Replacing is by key (remove
 * the old vector, add the new one), so a batch merged twice (a retry, or a rerun after a
 * crash before the flags were cleared) never duplicates a vector.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { type GenerationMeta, GenerationStore, indexedGroups } from '../index-store/generations.ts';
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
  await renewLease(context, run);
  const failed = shards.filter((shard): shard is FailedBatch => shard.failed === true);
  const done = shards.filter((shard): shard is ShardDescriptor => shard.failed !== true);
  if (done.length === 0) {
    throw new PermanentError(`all ${plan.batchCount} batches failed; first: ${failed[0]?.error ?? 'unknown'}: ${failed[0]?.cause ?? ''}`);
  }

  // Which index each shard entry belongs to: the global one, or its group's own.
  const perGroup = config.indexLayout === 'per-group';
  const scopes = new Map<string | undefined, { entries: ShardEntry[]; vectors: Float32Array[] }>();
  const scopeOf = (group: string): { entries: ShardEntry[]; vectors: Float32Array[] } => {
    const key = perGroup ? group : undefined;
    let scope = scopes.get(key);
    if (!scope) scopes.set(key, (scope = { entries: [], vectors: [] }));
    return scope;
  };
  const clearList: ShardEntry[] = [];
  for (const descriptor of done) {
    const shard = readShard(config.efsRoot, descriptor);
    if (shard.model !== model.checksum) throw new PermanentError(`shard ${descriptor.file} was embedded by another model`);
    for (const entry of shard.entries) {
      const scope = scopeOf(entry.group);
      scope.entries.push(entry);
      if (entry.kind === 'vector') scope.vectors.push(shard.vectors.subarray(entry.row * model.dimensions, (entry.row + 1) * model.dimensions));
    }
    clearList.push(...shard.entries);
  }
  // A backfill rebuilds every index: groups that no longer have items get an empty one.
  if (perGroup && run.mode === 'backfill') for (const group of indexedGroups(config.efsRoot)) scopeOf(group);

  let added = 0;
  let removed = 0;
  let published: GenerationMeta | undefined;
  for (const [group, scope] of scopes) {
    const store = new GenerationStore(config.efsRoot, group);
    const current = store.current();
    let state: IndexState;
    if (run.mode === 'backfill' || !current) {
      state = IndexState.empty(model.dimensions);
    } else {
      const loaded = store.load(current);
      if (loaded.meta.model.checksum !== model.checksum) {
        throw new ModelMismatchError(`the index${group === undefined ? '' : ` of group "${group}"`} was built by model ${loaded.meta.model.name} (${loaded.meta.model.checksum.slice(0, 12)}), this run uses ${model.name} (${model.checksum.slice(0, 12)}): start a backfill to switch models`);
      }
      state = loaded.state;
    }
    removed += state.remove(scope.entries.map(entryKey));
    const fresh = scope.entries.filter((entry) => entry.kind === 'vector');
    const vectors = new Float32Array(fresh.length * model.dimensions);
    scope.vectors.forEach((vector, i) => vectors.set(vector, i * model.dimensions));
    state.add(fresh.map((entry): IndexEntry => ({ group: entry.group, id: entry.id, version: entry.version })), vectors);
    added += fresh.length;
    const meta = store.publish(state, { name: model.name, checksum: model.checksum, dimensions: model.dimensions }, run.execution);
    if (!published || meta.generation > published.generation) published = meta;
  }
  const poison = clearList.filter((entry) => entry.kind === 'poison').length;

  const status = indexStatusOf(config.efsRoot, perGroup, published!);
  await recordIndexStatus(context, status);
  const clearFile = path.join(runDir(run.execution), 'clear.json');
  writeFileAtomic(path.join(config.efsRoot, clearFile), JSON.stringify(clearList));
  return {
    generation: status.generation,
    vectors: status.vectors,
    added,
    removed: Math.max(0, removed - added),
    poison,
    failedBatches: failed.map((batch) => ({ batch: batch.batch.batch, error: batch.error, cause: batch.cause })),
    clearFile,
    clearItems: clearList.length,
  };
}

/** What the index holds now: the global generation, or totals over every group's index. */
function indexStatusOf(efsRoot: string, perGroup: boolean, latest: GenerationMeta): IndexStatusRecord {
  if (!perGroup) return { ...latest, layout: 'global' };
  const groups = indexedGroups(efsRoot).map((group) => {
    const store = new GenerationStore(efsRoot, group);
    return store.meta(store.current()!);
  });
  return { ...latest, layout: 'per-group', groups: groups.filter((meta) => meta.vectors > 0).length, vectors: groups.reduce((sum, meta) => sum + meta.vectors, 0) };
}

/** The index status mirrored into the table. */
export type IndexStatusRecord = GenerationMeta & { readonly layout: 'global' | 'per-group'; readonly groups?: number };

/** Mirrors the current generation into the table, where `ddb-faiss status` reads it from anywhere. */
async function recordIndexStatus({ config, clients }: IndexerContext, meta: IndexStatusRecord): Promise<void> {
  await clients.dynamodb.send(new PutItemCommand({
    TableName: config.tableName,
    Item: { ...keyAttributes(config, INDEX_STATUS_KEY), status: { S: JSON.stringify(meta) } },
  }));
}
