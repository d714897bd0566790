/**
 * Merge stage: fold the shards into the index and publish a new generation, then record
 * what the index now holds in a clear list for the clear stage. Replacing is by key (remove
 * the old vector, add the new one), so a batch merged twice (a retry, or a rerun after a
 * crash before the flags were cleared) never duplicates a vector.
 */
import type { ClearEntry } from './run-files.ts';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { type GenerationMeta, GenerationStore, indexedGroups, type SegmentRef } from '../index-store/generations.ts';
import { entryKey } from '../index-store/index-entry.ts';
import {
  HeldItems,
  heldBeforeBackfill,
  type ItemVectors,
  MAX_SEGMENT_ROWS,
  tombstoneItems,
  trainedIndexOf,
  writeSegments,
} from '../index-store/index-writer.ts';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import type { IndexerContext, ModelDescriptor, RunInfo } from './context.ts';
import { PermanentError } from '../aws/errors.ts';
import { ModelMismatchError } from './errors.ts';
import { type IndexChange, indexStatusItem, type IndexStatusRecord } from '../table/reserved-items.ts';

export type { IndexChange };
import { renewLease } from './lease.ts';
import {
  type FailedBatch,
  readShardEntries,
  readShardTerms,
  readShardVectors,
  runDir,
  type ShardDescriptor,
  type ShardEntry,
  type VectorEntry,
} from './run-files.ts';
import type { PlanResult } from './plan.ts';
import { reportStageProgress } from './stage-progress.ts';

/** Failed batches a merge result names, and how much of each one's error it keeps. */
export const FAILED_BATCH_SAMPLES = 10;
export const CAUSE_CHARS = 1_000;

export interface MergeResult extends IndexChange {
  readonly generation: number;
  /** Vectors the index holds: one per passage of each item. */
  readonly vectors: number;
  /** Items the index holds. */
  readonly items: number;
  readonly poison: number;
  /** How many batches failed for good (their items stay pending). */
  readonly failedBatchCount: number;
  /** The first {@link FAILED_BATCH_SAMPLES} of them, causes cut at {@link CAUSE_CHARS}: the result stays small. */
  readonly failedBatches: { readonly batch: number; readonly error: string; readonly cause: string }[];
  /** The clear list (relative to the EFS root) and its length. */
  readonly clearFile: string;
  readonly clearItems: number;
  /**
   * A backfill that replaced an index it could not read (damaged): why. Every item then counts
   * as added, since what the old index held is unknown.
   */
  readonly replacedDamagedIndex?: string;
}

/**
 * One item per key, its newest version: an item edited while plan paged through the pending
 * index can be seen twice in one run (its new token moves it within the index).
 */
export function latestPerItem(entries: readonly ShardEntry[]): ShardEntry[] {
  const latest = new Map<string, ShardEntry>();
  for (const entry of entries) {
    const key = entryKey(entry);
    const seen = latest.get(key);
    if (!seen || entry.version > seen.version) latest.set(key, entry);
  }
  return [...latest.values()];
}

/**
 * Groups shards, in order, into windows of at most `maxRows` rows (one shard with more is a
 * window of its own); shards without rows are left out.
 * @returns each window's shard indexes
 */
export function shardWindows(rows: readonly number[], maxRows: number): number[][] {
  const windows: number[][] = [];
  let current: number[] = [];
  let held = 0;
  rows.forEach((count, index) => {
    if (count === 0) return;
    if (current.length > 0 && held + count > maxRows) {
      windows.push(current);
      current = [];
      held = 0;
    }
    current.push(index);
    held += count;
  });
  if (current.length > 0) windows.push(current);
  return windows;
}

/**
 * What folding these entries (one per item) into an index that held `held` changes. A rebuild
 * (backfill) starts from nothing, so every key held before and not given a vector again is removed.
 */
export function countChange(
  held: { has(key: string): boolean; readonly size: number },
  entries: readonly ShardEntry[],
  rebuild: boolean,
): IndexChange {
  let added = 0;
  let replaced = 0;
  let removed = 0;
  for (const entry of entries) {
    const wasHeld = held.has(entryKey(entry));
    if (entry.kind === 'vector') {
      if (wasHeld) replaced += 1;
      else added += 1;
    } else if (wasHeld) {
      removed += 1;
    }
  }
  return { added, replaced, removed: rebuild ? held.size - replaced : removed };
}

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
    throw new PermanentError(
      `all ${plan.batchCount} batches failed; first: ${failed[0]?.error ?? 'unknown'}: ${failed[0]?.cause ?? ''}`,
    );
  }
  const perGroup = config.indexLayout === 'per-group';
  // Two passes: every shard's entries are read, then its vectors are written into segments.
  const total = done.reduce((sum, shard) => sum + 2 * shard.vectors + shard.deletes + shard.poison, 0);
  const progress = reportStageProgress(context, run, 'merge', total, 'items read and vectors written');

  const read = readShards(config.efsRoot, done, model, progress);
  const scopes = scopesOf(read.entries, perGroup);
  // A backfill rebuilds every index: groups that no longer have items get an empty one.
  if (perGroup && run.mode === 'backfill') for (const group of indexedGroups(config.efsRoot)) scopes.of(group);
  const changes = planChanges(config.efsRoot, run, model, scopes.all, read.shardOf, done.length);
  await writeVectors(config.efsRoot, model, done, changes, { perGroup, progress, read: read.count });
  const published = publishGenerations(changes.work, model, run);
  await progress.finish(total);

  const status = indexStatusOf(config.efsRoot, perGroup, published);
  await recordIndexStatus(context, { ...status, change: { ...changes.change, execution: run.execution } });
  const clearFile = path.join(runDir(run.execution), 'clear.json');
  writeFileAtomic(path.join(config.efsRoot, clearFile), JSON.stringify(changes.clearList));
  return {
    generation: status.generation,
    vectors: status.vectors,
    items: status.items ?? status.vectors,
    ...changes.change,
    poison: changes.clearList.filter((entry) => entry.kind === 'poison').length,
    failedBatchCount: failed.length,
    failedBatches: failed.slice(0, FAILED_BATCH_SAMPLES).map((batch) => ({
      batch: batch.batch.batch,
      error: batch.error.slice(0, CAUSE_CHARS),
      cause: batch.cause.slice(0, CAUSE_CHARS),
    })),
    clearFile,
    clearItems: changes.clearList.length,
    ...(changes.replacedUnreadable.length > 0
      ? { replacedDamagedIndex: changes.replacedUnreadable[0]!.slice(0, CAUSE_CHARS) }
      : {}),
  };
}

type Progress = ReturnType<typeof reportStageProgress>;

/** Every shard's entries, each vector entry with the shard that holds its vectors. */
function readShards(
  efsRoot: string,
  done: readonly ShardDescriptor[],
  model: ModelDescriptor,
  progress: Progress,
): { entries: ShardEntry[]; shardOf: Map<ShardEntry, number>; count: number } {
  const entries: ShardEntry[] = [];
  const shardOf = new Map<ShardEntry, number>();
  let count = 0;
  for (const [index, descriptor] of done.entries()) {
    const shard = readShardEntries(efsRoot, descriptor);
    if (shard.model !== model.checksum)
      throw new PermanentError(`shard ${descriptor.file} was embedded by another model`);
    for (const entry of shard.entries) {
      entries.push(entry);
      if (entry.kind === 'vector') shardOf.set(entry, index);
    }
    progress.update((count += shard.entries.length));
  }
  return { entries, shardOf, count };
}

/** The entries by the index they belong to: the global one (`undefined`), or each group's own. */
function scopesOf(
  entries: readonly ShardEntry[],
  perGroup: boolean,
): { all: Map<string | undefined, ShardEntry[]>; of: (group: string) => ShardEntry[] } {
  const all = new Map<string | undefined, ShardEntry[]>();
  const of = (group: string): ShardEntry[] => {
    const key = perGroup ? group : undefined;
    let scope = all.get(key);
    if (!scope) all.set(key, (scope = []));
    return scope;
  };
  for (const entry of entries) of(entry.group).push(entry);
  return { all, of };
}

/** What a run changes in each index: its counts, its clear list, and the segments and vectors to write. */
export interface PlannedChanges {
  readonly change: { added: number; replaced: number; removed: number };
  readonly clearList: ClearEntry[];
  /** Why an old index a backfill replaced could not be read (its counts then start from nothing). */
  readonly replacedUnreadable: string[];
  /** Each index's store and the segments its next generation holds (tombstoned, new ones appended). */
  readonly work: Map<string | undefined, { store: GenerationStore; segments: SegmentRef[] }>;
  /** The vector entries that go into the index, by the shard that holds their vectors. */
  readonly toWrite: VectorEntry[][];
}

/**
 * Each scope's change: its newest entry per item, tombstones for every item it held of them, the
 * counts, and the clear list (each entry settled, a superseded one as such).
 */
export function planChanges(
  efsRoot: string,
  run: RunInfo,
  model: ModelDescriptor,
  scopes: ReadonlyMap<string | undefined, readonly ShardEntry[]>,
  shardOf: ReadonlyMap<ShardEntry, number>,
  shardCount: number,
): PlannedChanges {
  const planned: PlannedChanges = {
    change: { added: 0, replaced: 0, removed: 0 },
    clearList: [],
    replacedUnreadable: [],
    work: new Map(),
    toWrite: Array.from({ length: shardCount }, (): VectorEntry[] => []),
  };
  for (const [group, scope] of scopes) {
    const entries = latestPerItem(scope);
    const store = new GenerationStore(efsRoot, group);
    // A backfill starts from nothing: every segment of the old generations goes at the next prune.
    // An incremental run checks the index it adds to (every file's size, and the checksums of
    // the key maps and tombstones it reads) and fails naming any damage: a backfill never reads
    // the old index but to count what it replaces, so it heals any damage.
    const backfill = run.mode === 'backfill';
    const current = backfill ? undefined : store.current();
    const meta = current && sameModel(store.meta(current), model, group);
    if (meta) store.checkSizes(meta);
    const held = new HeldItems(store, meta ? meta.segments : []);
    const before = backfill ? heldBeforeBackfill(store) : held;
    if ('unreadable' in before && before.unreadable !== undefined) planned.replacedUnreadable.push(before.unreadable);
    const scopeChange = countChange(before, entries, backfill);
    planned.work.set(group, { store, segments: tombstoneItems(store, held, entries) });
    for (const entry of entries) if (entry.kind === 'vector') planned.toWrite[shardOf.get(entry)!]!.push(entry);
    planned.change.added += scopeChange.added;
    planned.change.replaced += scopeChange.replaced;
    planned.change.removed += scopeChange.removed;
    for (const entry of entries) planned.clearList.push(entry); // a spread of a million arguments overflows the stack
    if (entries.length < scope.length) {
      const kept = new Set<ShardEntry>(entries);
      for (const entry of scope) {
        if (kept.has(entry)) continue;
        const { group: entryGroup, id, version, marker } = entry;
        planned.clearList.push({ group: entryGroup, id, version, ...(marker ? { marker } : {}), kind: 'superseded' });
      }
    }
  }
  return planned;
}

/**
 * The vectors, a window of shards at a time: at most a segment's worth of rows in memory, written
 * as a new segment of each scope the window holds items of.
 */
async function writeVectors(
  efsRoot: string,
  model: ModelDescriptor,
  done: readonly ShardDescriptor[],
  { toWrite, work }: Pick<PlannedChanges, 'toWrite' | 'work'>,
  { perGroup, progress, read }: { perGroup: boolean; progress: Progress; read: number },
): Promise<void> {
  let written = 0;
  const rowsOf = (entries: readonly VectorEntry[]): number => entries.reduce((sum, e) => sum + e.passages.length, 0);
  for (const shards of shardWindows(toWrite.map(rowsOf), MAX_SEGMENT_ROWS)) {
    const window = new Map<string | undefined, ItemVectors[]>();
    for (const index of shards) {
      const vectors = readShardVectors(efsRoot, done[index]!);
      const terms = readShardTerms(efsRoot, done[index]!);
      for (const entry of toWrite[index]!) {
        const scope = perGroup ? entry.group : undefined;
        let items = window.get(scope);
        if (!items) window.set(scope, (items = []));
        const { dimensions } = model;
        items.push({
          entry: { group: entry.group, id: entry.id, version: entry.version },
          passages: entry.passages,
          ...(entry.attributes ? { attributes: entry.attributes } : {}),
          ...(terms.length > 0 ? { terms: terms.slice(entry.row, entry.row + entry.passages.length) } : {}),
          vectors: vectors.subarray(entry.row * dimensions, (entry.row + entry.passages.length) * dimensions),
        });
      }
    }
    for (const [group, items] of window) {
      const scope = work.get(group)!;
      const base = written;
      const trained = trainedIndexOf(scope.store, scope.segments);
      const onRows = (rows: number): void => progress.update(read + (written = base + rows));
      for (const ref of await writeSegments(scope.store, items, model.dimensions, onRows, trained))
        scope.segments.push(ref);
    }
  }
}

/** Publishes each index's next generation. @returns the newest of them */
function publishGenerations(work: PlannedChanges['work'], model: ModelDescriptor, run: RunInfo): GenerationMeta {
  let published: GenerationMeta | undefined;
  for (const { store, segments } of work.values()) {
    const meta = store.publish(
      segments,
      { name: model.name, checksum: model.checksum, dimensions: model.dimensions },
      run.execution,
    );
    if (!published || meta.generation > published.generation) published = meta;
  }
  return published!;
}

/** The current generation, refused when another model built it (only a backfill may switch). */
function sameModel(meta: GenerationMeta, model: ModelDescriptor, group: string | undefined): GenerationMeta {
  if (meta.model.checksum !== model.checksum) {
    const index = group === undefined ? 'the index' : `the index of group "${group}"`;
    const built = `${meta.model.name} (${meta.model.checksum.slice(0, 12)})`;
    throw new ModelMismatchError(
      `${index} was built by model ${built}, this run uses ${model.name} (${model.checksum.slice(0, 12)}): ` +
        'start a backfill to switch models',
    );
  }
  return meta;
}

/** What the index holds now: the global generation, or totals over every group's index. */
export function indexStatusOf(
  efsRoot: string,
  perGroup: boolean,
  latest: GenerationMeta,
): Omit<IndexStatusRecord, 'change'> {
  const { segments: _segments, ...meta } = latest;
  const metas = perGroup
    ? indexedGroups(efsRoot).map((group) => {
        const store = new GenerationStore(efsRoot, group);
        return store.meta(store.current()!);
      })
    : [latest];
  const all = metas.flatMap((group) => group.segments);
  return {
    ...meta,
    layout: perGroup ? 'per-group' : 'global',
    ...(perGroup ? { groups: metas.filter((group) => group.vectors > 0).length } : {}),
    vectors: metas.reduce((sum, group) => sum + group.vectors, 0),
    items: metas.reduce((sum, group) => sum + group.items, 0),
    segments: all.length,
    deadVectors: all.reduce((sum, segment) => sum + segment.dead, 0),
  };
}

/** Mirrors the current generation into the table, where `ddb-faiss status` reads it from anywhere. */
export async function recordIndexStatus({ config, clients }: IndexerContext, meta: IndexStatusRecord): Promise<void> {
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: config.tableName,
      Item: indexStatusItem(config, meta),
    }),
  );
}
