/**
 * Merge stage: fold the shards into the index and publish a new generation, then record
 * what the index now holds in clear lists for the clear stage. Replacing is by key (remove
 * the old vector, add the new one), so a batch merged twice (a retry, or a rerun after a
 * crash before the flags were cleared) never duplicates a vector.
 *
 * A run of more than {@link MERGE_WINDOW_ROWS} rows (a backfill of a large table) is merged a
 * window of shards per invocation: each window is an incremental change to what the run's earlier
 * windows wrote (unpublished), so memory and time per invocation stay those of one window whatever
 * the table's size, and readers see nothing of the run until the last window publishes it all.
 */
import type { ClearEntry } from './run-files.ts';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
  clearListFile,
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
  readonly complete: true;
  /** Invocations the merge took: one a window of at most `windowRows` rows. */
  readonly windows: number;
  /** Entries of the run's clear lists (one a window, `clearListFile`), settled in order by the clear stage. */
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
 * What one entry of a run counts as, given whether the index held its item before the run: a
 * vector adds or replaces; anything else removes a held item, except in a rebuild (backfill),
 * where what is removed is every held item not given a vector again.
 */
export function contributionOf(
  kind: ShardEntry['kind'],
  wasHeld: boolean,
  rebuild: boolean,
): keyof IndexChange | undefined {
  if (kind === 'vector') return wasHeld ? 'replaced' : 'added';
  return wasHeld && !rebuild ? 'removed' : undefined;
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
  const change = { added: 0, replaced: 0, removed: 0 };
  for (const entry of entries) {
    const counted = contributionOf(entry.kind, held.has(entryKey(entry)), rebuild);
    if (counted) change[counted] += 1;
  }
  if (rebuild) change.removed = held.size - change.replaced;
  return change;
}

/** Rows one merge invocation folds in at most: what the rest of the run's rows wait for is the next. */
export const MERGE_WINDOW_ROWS = MAX_SEGMENT_ROWS;

/** Options of {@link mergeShards}. */
export interface MergeOptions {
  /**
   * Rows (vectors, deletes and poison entries) one invocation merges at most: a larger run is merged
   * a window of shards at a time, one invocation each, and published after the last.
   * @default MERGE_WINDOW_ROWS
   */
  readonly windowRows?: number;
}

/**
 * How a merge that spans several invocations goes: after a window that is not the last, the state
 * machine calls the merge again.
 */
export interface MergeWindowResult {
  readonly complete: false;
  /** Windows merged so far (none of them published yet). */
  readonly windowsMerged: number;
  readonly windows: number;
}

/** What one merge invocation answers: the next window to come, or the whole run's merge. */
export type MergeStepResult = MergeResult | MergeWindowResult;

/**
 * Merges the run's shards into the index, a window of at most `windowRows` rows an invocation, and
 * publishes a new generation after the last window. Between windows, what the run has written so far
 * (its unpublished segments and tombstones, its counts and clear lists) is kept in the run's folder,
 * written atomically once a window is done: a window that fails or times out is merged again from
 * the start, and the published index is never touched until the run's whole change is ready.
 *
 * @example
 * ```ts
 * let step = await mergeShards(context, run, model, plan, shards);
 * while (!step.complete) step = await mergeShards(context, run, model, plan, shards);
 * console.log(`generation ${step.generation}: ${step.added} added`);
 * ```
 */
export async function mergeShards(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  plan: Pick<PlanResult, 'batchCount'>,
  shards: readonly (ShardDescriptor | FailedBatch)[],
  options: MergeOptions = {},
): Promise<MergeStepResult> {
  // The lease is renewed while the window is read and written, and confirmed before anything is
  // kept (the merge state, a publication): its round trip is then off a small merge's critical path.
  const leased = renewLease(context, run);
  leased.catch(() => undefined);
  try {
    return await mergeHoldingLease(context, run, model, plan, shards, options, leased);
  } catch (error) {
    // Work done without the lease may fail for that reason (files another run swept): say so.
    await leased;
    throw error;
  }
}

async function mergeHoldingLease(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  plan: Pick<PlanResult, 'batchCount'>,
  shards: readonly (ShardDescriptor | FailedBatch)[],
  options: MergeOptions,
  leased: Promise<void>,
): Promise<MergeStepResult> {
  const { config } = context;
  const failed = shards.filter((shard): shard is FailedBatch => shard.failed === true);
  const done = shards.filter((shard): shard is ShardDescriptor => shard.failed !== true);
  if (done.length === 0) {
    throw new PermanentError(
      `all ${plan.batchCount} batches failed; first: ${failed[0]?.error ?? 'unknown'}: ${failed[0]?.cause ?? ''}`,
    );
  }
  const windowRows = options.windowRows ?? MERGE_WINDOW_ROWS;
  // Every shard is in some window, even one of nothing but `gone` entries.
  const windows = shardWindows(
    done.map((shard) => Math.max(1, shard.rows + shard.deletes + shard.poison)),
    windowRows,
  );
  const stateFile = path.join(config.efsRoot, runDir(run.execution), 'merge-state.json');
  const state = readMergeState(stateFile, shardsFingerprint(done, windowRows));
  // Two passes over each shard: its entries are read, then its vectors are written into segments.
  const cost = (shard: ShardDescriptor): number => 2 * shard.vectors + shard.deletes + shard.poison;
  const total = done.reduce((sum, shard) => sum + cost(shard), 0);
  const window = windows[state.windowsMerged];
  if (window) {
    const before = windows.slice(0, state.windowsMerged).flat();
    const start = before.reduce((sum, index) => sum + cost(done[index]!), 0);
    const progress = reportStageProgress(context, run, 'merge', total, 'items read and vectors written', start);
    await mergeWindow(context, run, model, state, {
      shards: window.map((index) => done[index]!),
      progress,
      start,
    });
    await leased;
    writeFileAtomic(stateFile, JSON.stringify(state));
    if (state.windowsMerged < windows.length) {
      await progress.finish();
      return { complete: false, windowsMerged: state.windowsMerged, windows: windows.length };
    }
    await progress.finish(total);
  }
  await leased;
  return finishMerge(context, run, model, state, { failed, windows: windows.length });
}

/**
 * What a run's merge has done so far, kept in its folder between invocations. Plain JSON: it is
 * read back by the next invocation.
 */
export interface MergeState {
  /** The shards and window size it was made for: another list (a redriven Map) starts over. */
  readonly shards: string;
  windowsMerged: number;
  /** Each index the run changes: its segments as they will be published. */
  readonly scopes: ScopeState[];
  clearItems: number;
  poison: number;
  readonly replacedUnreadable: string[];
  /**
   * Versions an earlier window indexed and a later one replaced with a newer version of the same
   * item (edited while plan paged): their entries in the earlier clear lists are marked superseded
   * before the clear stage reads them, as one merge would have listed them.
   */
  readonly supersededEarlier: ItemVersion[];
}

/** An item's version, as a clear list names it. */
type ItemVersion = Pick<ShardEntry, 'group' | 'id' | 'version'>;

export interface ScopeState {
  /** The group of a per-group index; null for the global one. */
  readonly group: string | null;
  segments: SegmentRef[];
  /** Items the index held before the run: a backfill removes all it does not give a vector again. */
  readonly heldBefore: number;
  readonly change: Record<keyof IndexChange, number>;
}

/** The state of a merge that has merged nothing yet, for these shards. */
export const newMergeState = (shards = ''): MergeState => ({
  shards,
  windowsMerged: 0,
  scopes: [],
  clearItems: 0,
  poison: 0,
  replacedUnreadable: [],
  supersededEarlier: [],
});

function readMergeState(file: string, shards: string): MergeState {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as MergeState;
    if (saved.shards === shards) return saved;
  }
  return newMergeState(shards);
}

/**
 * The run's change so far, over every index it changes. A rebuild (backfill) removes every item an
 * index held before and not given a vector again.
 */
export function mergedChange(state: Pick<MergeState, 'scopes'>, rebuild: boolean): IndexChange {
  const change = { added: 0, replaced: 0, removed: 0 };
  for (const scope of state.scopes) {
    change.added += scope.change.added;
    change.replaced += scope.change.replaced;
    change.removed += rebuild ? scope.heldBefore - scope.change.replaced : scope.change.removed;
  }
  return change;
}

function shardsFingerprint(done: readonly ShardDescriptor[], windowRows: number): string {
  const shards = done.map((shard) => [shard.file, shard.rows, shard.vectors, shard.deletes, shard.poison]);
  return createHash('sha256').update(JSON.stringify({ windowRows, shards })).digest('hex');
}

/** Folds one window of shards into the state: tombstones, new segments, counts and a clear list. */
async function mergeWindow(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  state: MergeState,
  { shards, progress, start }: { shards: readonly ShardDescriptor[]; progress: Progress; start: number },
): Promise<void> {
  const { config } = context;
  const perGroup = config.indexLayout === 'per-group';
  const read = readShards(config.efsRoot, shards, model, progress, start);
  const scopes = scopesOf(read.entries, perGroup);
  // A backfill rebuilds every index: groups that no longer have items get an empty one.
  if (perGroup && run.mode === 'backfill' && state.windowsMerged === 0)
    for (const group of indexedGroups(config.efsRoot)) scopes.of(group);
  const changes = planChanges(config.efsRoot, run, model, scopes.all, read.shardOf, shards.length, state);
  await writeVectors(config.efsRoot, model, shards, changes, { perGroup, progress, read: read.count + start });
  for (const [group, { segments }] of changes.work) scopeStateOf(state, group)!.segments = segments;
  writeFileAtomic(
    path.join(config.efsRoot, clearListFile(run.execution, state.windowsMerged)),
    JSON.stringify(changes.clearList),
  );
  state.clearItems += changes.clearList.length;
  state.poison += changes.clearList.filter((entry) => entry.kind === 'poison').length;
  state.replacedUnreadable.push(...changes.replacedUnreadable);
  state.windowsMerged += 1;
}

/** Publishes every index the run changed, records the status, and answers the whole run's merge. */
async function finishMerge(
  context: IndexerContext,
  run: RunInfo,
  model: ModelDescriptor,
  state: MergeState,
  { failed, windows }: { failed: readonly FailedBatch[]; windows: number },
): Promise<MergeResult> {
  const { config } = context;
  const perGroup = config.indexLayout === 'per-group';
  const change = mergedChange(state, run.mode === 'backfill');
  markSupersededEarlier(config.efsRoot, run.execution, state);
  const work = new Map(
    state.scopes.map((scope) => [
      scope.group ?? undefined,
      { store: new GenerationStore(config.efsRoot, scope.group ?? undefined), segments: scope.segments },
    ]),
  );
  const published = publishGenerations(work, model, run);
  const status = indexStatusOf(config.efsRoot, perGroup, published);
  await recordIndexStatus(context, { ...status, change: { ...change, execution: run.execution } });
  return {
    complete: true,
    windows,
    generation: status.generation,
    vectors: status.vectors,
    items: status.items ?? status.vectors,
    ...change,
    poison: state.poison,
    failedBatchCount: failed.length,
    failedBatches: failed.slice(0, FAILED_BATCH_SAMPLES).map((batch) => ({
      batch: batch.batch.batch,
      error: batch.error.slice(0, CAUSE_CHARS),
      cause: batch.cause.slice(0, CAUSE_CHARS),
    })),
    clearItems: state.clearItems,
    ...(state.replacedUnreadable.length > 0
      ? { replacedDamagedIndex: state.replacedUnreadable[0]!.slice(0, CAUSE_CHARS) }
      : {}),
  };
}

/**
 * Marks, in the clear lists of the windows before the last, each entry a later window superseded
 * (see {@link MergeState.supersededEarlier}): its flag is then settled as superseded, not counted as
 * kept pending. Rare (items edited while plan paged); a list is rewritten only when it changes.
 */
function markSupersededEarlier(efsRoot: string, execution: string, state: MergeState): void {
  if (state.supersededEarlier.length === 0) return;
  const superseded = new Set(state.supersededEarlier.map((item) => `${entryKey(item)}\u0000${item.version}`));
  for (let window = 0; window < state.windowsMerged - 1; window++) {
    const file = path.join(efsRoot, clearListFile(execution, window));
    const list = JSON.parse(readFileSync(file, 'utf8')) as ClearEntry[];
    let marked = 0;
    const updated = list.map((entry): ClearEntry => {
      if (entry.kind === 'superseded' || !superseded.has(`${entryKey(entry)}\u0000${entry.version}`)) return entry;
      marked += 1;
      const { group, id, version, marker } = entry;
      return { group, id, version, ...(marker ? { marker } : {}), kind: 'superseded' };
    });
    if (marked > 0) writeFileAtomic(file, JSON.stringify(updated));
  }
}

type Progress = ReturnType<typeof reportStageProgress>;

/** Every shard's entries, each vector entry with the shard that holds its vectors. */
function readShards(
  efsRoot: string,
  done: readonly ShardDescriptor[],
  model: ModelDescriptor,
  progress: Progress,
  start: number,
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
    progress.update(start + (count += shard.entries.length));
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

/** What a window changes in each index: its clear list, and the segments and vectors to write. */
export interface PlannedChanges {
  readonly clearList: ClearEntry[];
  /** Why an old index a backfill replaced could not be read (its counts then start from nothing). */
  readonly replacedUnreadable: string[];
  /** Each index's store and the segments its next generation holds (tombstoned, new ones appended). */
  readonly work: Map<string | undefined, { store: GenerationStore; segments: SegmentRef[] }>;
  /** The vector entries that go into the index, by the shard that holds their vectors. */
  readonly toWrite: VectorEntry[][];
}

const scopeStateOf = (state: MergeState, group: string | undefined): ScopeState | undefined =>
  state.scopes.find((scope) => scope.group === (group ?? null));

/**
 * Each scope's change in this window: its newest entry per item (and newer than what an earlier
 * window of the run wrote), tombstones for every item the run's segments hold of them, the counts
 * (into `state`), and the clear list (each entry settled, a superseded one as such).
 */
export function planChanges(
  efsRoot: string,
  run: RunInfo,
  model: ModelDescriptor,
  scopes: ReadonlyMap<string | undefined, readonly ShardEntry[]>,
  shardOf: ReadonlyMap<ShardEntry, number>,
  shardCount: number,
  state: MergeState,
): PlannedChanges {
  const planned: PlannedChanges = {
    clearList: [],
    replacedUnreadable: [],
    work: new Map(),
    toWrite: Array.from({ length: shardCount }, (): VectorEntry[] => []),
  };
  const backfill = run.mode === 'backfill';
  for (const [group, scope] of scopes) {
    const store = new GenerationStore(efsRoot, group);
    // A backfill starts from nothing: every segment of the old generations goes at the next prune.
    // An incremental run checks the index it adds to (every file's size, and the checksums of
    // the key maps and tombstones it reads) and fails naming any damage: a backfill never reads
    // the old index but to count what it replaces, so it heals any damage.
    const current = backfill ? undefined : store.current();
    const meta = current && sameModel(store.meta(current), model, group);
    const original = meta ? meta.segments : [];
    let scopeState = scopeStateOf(state, group);
    if (!scopeState && meta) store.checkSizes(meta);
    // The run's segments so far (the index's own, in its first window), and what the index held
    // before the run: the same segments in an incremental run's first window, read once.
    const held = new HeldItems(store, scopeState?.segments ?? original);
    const before = backfill ? heldBeforeBackfill(store) : scopeState ? new HeldItems(store, original) : held;
    if (!scopeState) {
      if ('unreadable' in before && before.unreadable !== undefined) planned.replacedUnreadable.push(before.unreadable);
      scopeState = {
        group: group ?? null,
        segments: [...original],
        heldBefore: before.size,
        change: { added: 0, replaced: 0, removed: 0 },
      };
      state.scopes.push(scopeState);
    }
    const runSegments = new Set(scopeState.segments.map((segment) => segment.id));
    for (const segment of original) runSegments.delete(segment.id);
    const kept: ShardEntry[] = [];
    for (const entry of latestPerItem(scope)) {
      const location = held.locate(entry.group, entry.id);
      const wroteIt = location !== undefined && runSegments.has(held.segments[location.segment]!.id);
      if (wroteIt) {
        const written = held.entryAt(location);
        // An earlier window of the run wrote a version at least as new: this one is superseded.
        if (written.version >= entry.version) continue;
        state.supersededEarlier.push({ group: written.group, id: written.id, version: written.version });
      }
      kept.push(entry);
      const wasHeld = before.has(entryKey(entry));
      // What an earlier window already counted for the item: its vector, or (incremental) its removal.
      const prior = wroteIt
        ? contributionOf('vector', wasHeld, backfill)
        : !backfill && wasHeld && !location
          ? 'removed'
          : undefined;
      const next = contributionOf(entry.kind, wasHeld, backfill);
      if (prior) scopeState.change[prior] -= 1;
      if (next) scopeState.change[next] += 1;
    }
    planned.work.set(group, { store, segments: tombstoneItems(store, held, kept) });
    for (const entry of kept) if (entry.kind === 'vector') planned.toWrite[shardOf.get(entry)!]!.push(entry);
    for (const entry of kept) planned.clearList.push(entry); // a spread of a million arguments overflows the stack
    const settled = new Set<ShardEntry>(kept);
    for (const entry of scope) {
      if (settled.has(entry)) continue;
      const { group: entryGroup, id, version, marker } = entry;
      planned.clearList.push({ group: entryGroup, id, version, ...(marker ? { marker } : {}), kind: 'superseded' });
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
