/**
 * ddb-faiss's own items in the table, all under one reserved partition key (so IAM can limit
 * writes to them with `dynamodb:LeadingKeys`, and no stage ever indexes them):
 * - the writer lease (`writer-lease`), which one run holds at a time;
 * - the index status (`index-status`), mirrored from the newest generation for `status`;
 * - poison records (`poison#<group>#<id>`), one per item that cannot be embedded;
 * - the running stage's progress (`run-progress`) and the clear stage's checkpoint (`clear-checkpoint`);
 * - in stream mode, change markers (`change#<group>#<id>`), one per item the stream said changed, and
 *   the run request (`run-request`) by which captured changes start one run, not one per batch.
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

/**
 * The sort-key prefix of change markers. A marker says "this item changed: read it again"; it
 * holds no content, so the index always reflects the item as the table holds it when a run reads
 * it. While pending it carries the pending attribute (so it feeds the same sparse index as a flag);
 * once a run has indexed the item, the clear stage removes that attribute and the marker stays,
 * keeping the newest stream sequence number it has seen (`sequence`), so an older record replayed
 * later is absorbed rather than starting work again.
 */
export const CHANGE_ID_PREFIX = 'change#';

/**
 * The key of the change marker of an item. The group is URI-encoded so the first `#` after the
 * prefix ends it, whatever the group and id hold.
 */
export const changeMarkerKey = (item: ItemKey): ItemKey => ({
  group: RESERVED_GROUP,
  id: `${CHANGE_ID_PREFIX}${encodeURIComponent(item.group)}#${item.id}`,
});

/** The item a change marker stands for, from the marker's key; undefined for any other key. */
export function itemOfChangeMarker(key: ItemKey): ItemKey | undefined {
  if (key.group !== RESERVED_GROUP || !key.id.startsWith(CHANGE_ID_PREFIX)) return undefined;
  const rest = key.id.slice(CHANGE_ID_PREFIX.length);
  const hash = rest.indexOf('#');
  if (hash < 0) return undefined;
  return { group: decodeURIComponent(rest.slice(0, hash)), id: rest.slice(hash + 1) };
}

/** The attribute of a change marker holding the newest stream sequence number captured for its item. */
export const MARKER_SEQUENCE_ATTRIBUTE = 'sequence';

/**
 * Stream sequence numbers are decimal strings of 21 to 40 digits, increasing per shard (and a key's
 * records stay in one shard's lineage). Padded to 40 digits they compare as DynamoDB compares strings.
 */
export const sortableSequence = (sequenceNumber: string): string => sequenceNumber.padStart(40, '0');

/**
 * The run request's key. Captured changes start a run only when they make this item a request (it
 * names the execution); the run's plan stage takes it before it reads what is pending (the item then
 * holds only when), so every change captured after that starts (at most) one more run, spaced from
 * this one, and a burst of captures starts one.
 */
export const RUN_REQUEST_KEY = { group: RESERVED_GROUP, id: 'run-request' } as const;
