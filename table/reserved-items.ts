/**
 * ddb-faiss's own items in the table, all under one reserved partition key (so IAM can limit
 * writes to them with `dynamodb:LeadingKeys`, and no stage ever indexes them):
 * - the writer lease (`writer-lease`), which one run holds at a time;
 * - the index status (`index-status`), mirrored from the newest generation for `status`;
 * - poison records (`poison#<group>#<id>`), one per item that cannot be embedded;
 * - the running stage's progress (`run-progress`) and the clear stage's checkpoint (`clear-checkpoint`).
 * Their keys, attributes and codecs live here and nowhere else.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { GenerationMeta } from '../index-store/generations.ts';
import { type ItemAttributes, type ItemKey, keyAttributes } from './items.ts';

/** The partition key of every reserved item; imports refuse it as a content group. */
export const RESERVED_GROUP = '__ddb-faiss__';

/** The writer lease's key. Its attributes: `holder`, `holderArn`, `expiresAt` (see `indexer/lease.ts`). */
export const LEASE_KEY = { group: RESERVED_GROUP, id: 'writer-lease' } as const;

/** The index status record's key. */
export const INDEX_STATUS_KEY = { group: RESERVED_GROUP, id: 'index-status' } as const;

/** The sort-key prefix of poison records. */
export const POISON_ID_PREFIX = 'poison#';

type Item = Record<string, AttributeValue>;

/** Whether a key is one of ddb-faiss's own items. */
export const isReservedKey = (key: ItemKey): boolean => key.group === RESERVED_GROUP;

/** What a merge changed in the index, counted apart. */
export interface IndexChange {
  /** Items that had no vector and have one now. */
  readonly added: number;
  /** Items whose vector was replaced by a newly embedded one (edits, re-flagged items, a backfill). */
  readonly replaced: number;
  /** Items whose vector is gone: deleted, vanished from the table, or become poison. */
  readonly removed: number;
}

/** The index status mirrored into the table, with what the run that published it changed. */
export type IndexStatusRecord = Omit<GenerationMeta, 'segments' | 'items'> & {
  /** Items the index holds (each has a vector per passage); absent in a record written before passages. */
  readonly items?: number;
  /** Segments the index is made of (over every group's index under the per-group layout); absent before 0.2. */
  readonly segments?: number;
  /** Vectors kept in segments though their item was replaced or removed, until compaction drops them. */
  readonly deadVectors?: number;
  readonly layout: 'global' | 'per-group';
  readonly groups?: number;
  readonly change?: IndexChange & { readonly execution: string };
};

/** The index status record as a table item. */
export function indexStatusItem(config: ItemAttributes, record: IndexStatusRecord): Item {
  return { ...keyAttributes(config, INDEX_STATUS_KEY), status: { S: JSON.stringify(record) } };
}

/** The index status a record item holds, or null when none is recorded. */
export function readIndexStatusItem(item: Item | undefined): IndexStatusRecord | null {
  const text = item?.['status']?.S;
  return text ? (JSON.parse(text) as IndexStatusRecord) : null;
}

/** An item that cannot be embedded, as its poison record says. */
export interface PoisonRecord {
  readonly group: string;
  readonly id: string;
  readonly reason: string;
  readonly recordedAt: string;
}

/** The key of the poison record of an item. */
export const poisonRecordKey = (item: ItemKey): ItemKey => ({
  group: RESERVED_GROUP,
  id: `${POISON_ID_PREFIX}${item.group}#${item.id}`,
});

/** A poison record as a table item. */
export function poisonRecordItem(config: ItemAttributes, record: PoisonRecord & { readonly execution: string }): Item {
  return {
    ...keyAttributes(config, poisonRecordKey(record)),
    itemGroup: { S: record.group },
    itemId: { S: record.id },
    reason: { S: record.reason },
    recordedAt: { S: record.recordedAt },
    execution: { S: record.execution },
  };
}

/** Reads a poison record item. */
export function readPoisonRecordItem(item: Item): PoisonRecord {
  return {
    group: item['itemGroup']?.S ?? '',
    id: item['itemId']?.S ?? '',
    reason: item['reason']?.S ?? '',
    recordedAt: item['recordedAt']?.S ?? '',
  };
}

/**
 * The clear checkpoint's key: how far the clear stage of a run got, so that a retry of the stage
 * resumes there. One record serves, as for run progress; it names its execution.
 */
export const CLEAR_CHECKPOINT_KEY = { group: RESERVED_GROUP, id: 'clear-checkpoint' } as const;

/** A clear checkpoint as a table item (its record as JSON: the stage alone reads it). */
export const clearCheckpointItem = (config: ItemAttributes, record: unknown): Item => ({
  ...keyAttributes(config, CLEAR_CHECKPOINT_KEY),
  checkpoint: { S: JSON.stringify(record) },
});

/** The record a clear checkpoint item holds, or undefined. */
export const readClearCheckpointItem = (item: Item | undefined): unknown =>
  item?.['checkpoint']?.S === undefined ? undefined : JSON.parse(item['checkpoint'].S);

/**
 * The run-progress record's key: live counts of the stage running now. One record serves,
 * since one run at a time holds the writer lease; it names the execution it belongs to.
 */
export const RUN_PROGRESS_KEY = { group: RESERVED_GROUP, id: 'run-progress' } as const;

/** How far the running stage of an execution is, e.g. 1,200 of 4,000 flags cleared. */
export interface RunProgressRecord {
  readonly execution: string;
  /** The task reporting (`merge`, `clear`). */
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** What is counted, plural: "items merged", "flags cleared". */
  readonly unit: string;
  readonly updatedAt: string;
}

/** The run-progress record as a table item. */
export function runProgressItem(config: ItemAttributes, record: RunProgressRecord): Item {
  return { ...keyAttributes(config, RUN_PROGRESS_KEY), progress: { S: JSON.stringify(record) } };
}

/** The run progress an item holds, or null when none is recorded. */
export function readRunProgressItem(item: Item | undefined): RunProgressRecord | null {
  const text = item?.['progress']?.S;
  return text ? (JSON.parse(text) as RunProgressRecord) : null;
}
