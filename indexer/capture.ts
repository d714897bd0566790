/**
 * Capture step (stream mode): turns the table's stream records into pending work, without ever
 * rewriting a writer's item.
 *
 * A record whose item's indexed view changed (its text, a filterable attribute, or the item is
 * gone) becomes a *change marker* (`table/reserved-items.ts`): a small item under the reserved
 * group carrying the pending attribute, so it feeds the same sparse index a flag does. A record
 * whose writer set a fresh pending flag (`import`, a writer from flags mode) is pending already:
 * it needs a run, not a marker. A marker
 * holds no content: the run reads the item as the table holds it then (a consistent read), so
 * the index never reflects anything older than the newest change captured. Every other record
 * (the text and filterable attributes unchanged, e.g. a flag cleared; ddb-faiss's own items;
 * an item that never had text) is nothing: no change ddb-faiss makes ever starts more work.
 *
 * Order and versions: a marker write is conditional on the record's stream sequence number being
 * newer than the one the marker holds, so an old record replayed after a retry is absorbed. The
 * sequence number, not the approximate creation time, is the version: it is unique and increases
 * along a key's shard lineage, while creation times are approximate and two writes in the same
 * instant tie.
 *
 * A batch that wrote markers or saw fresh flags asks for a run (`tasks/capture-run.ts`); the plan stage takes the
 * run request ({@link takeRunRequest}) before it reads what is pending.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { forEachConcurrently } from '../aws/concurrency.ts';
import {
  DELETE_MARKER_ATTRIBUTE,
  filterableAttributes,
  type ItemAttributes,
  type ItemKey,
  keyAttributes,
  newVersionToken,
  readKey,
} from '../table/items.ts';
import {
  changeMarkerKey,
  isReservedKey,
  MARKER_SEQUENCE_ATTRIBUTE,
  RUN_REQUEST_KEY,
  sortableSequence,
} from '../table/reserved-items.ts';
import type { IndexerContext } from './context.ts';
import { entryKey } from '../index-store/index-entry.ts';

/** One DynamoDB stream record as Lambda passes it (and as the local follower builds it). */
export interface StreamRecord {
  readonly eventID?: string;
  readonly eventName?: string;
  readonly dynamodb?: {
    readonly Keys?: Record<string, AttributeValue>;
    readonly NewImage?: Record<string, AttributeValue>;
    readonly OldImage?: Record<string, AttributeValue>;
    readonly SequenceNumber?: string;
    /** Seconds since the epoch (Lambda's event). */
    readonly ApproximateCreationDateTime?: number;
  };
  /** Set on records of deletes DynamoDB made itself (TTL). */
  readonly userIdentity?: { readonly type?: string; readonly principalId?: string };
}

/** The Lambda event of a stream batch. */
export interface StreamEvent {
  readonly Records: readonly StreamRecord[];
}

/** What a record means for the index. */
export type ChangeDecision =
  | { readonly kind: 'change'; readonly key: ItemKey; readonly sequence: string }
  /** The writer set a fresh pending flag (flags mode's protocol): the flag is the pending work. */
  | { readonly kind: 'flagged' }
  | { readonly kind: 'ignore'; readonly reason: IgnoreReason };

export type IgnoreReason = 'own item' | 'unchanged' | 'no text' | 'soft delete' | 'unreadable';

/** What a captured batch did, counted. */
export interface CaptureResult {
  /** Records in the batch. */
  readonly records: number;
  /** Records that changed an item's indexed view (the user changes). */
  readonly changes: number;
  /** Change markers written (records of one key in one batch share one). */
  readonly markers: number;
  /** Changes whose writer set a fresh pending flag: pending already, they need a run but no marker. */
  readonly flagged: number;
  /** Records older than the marker's newest: absorbed. */
  readonly stale: number;
  /** Records that mean nothing to the index, by reason. */
  readonly ignored: Readonly<Partial<Record<IgnoreReason, number>>>;
  /** Sequence numbers of records whose marker could not be written: the batch's failures. */
  readonly failed: readonly string[];
  /** Age in seconds of the batch's oldest record when captured (the stream's iterator age). */
  readonly oldestRecordAgeSeconds?: number;
}

/** Marker writes in flight at once. */
const CONCURRENCY = 16;

/** The part of an item the index reflects: its text and filterable attributes, as canonical JSON. */
function indexedView(
  config: ItemAttributes & { readonly filterAttributes: readonly string[] | '*' },
  image: Readonly<Record<string, AttributeValue>> | undefined,
): string | undefined {
  const content = image?.[config.contentAttribute];
  if (!image || !content) return undefined;
  const attributes = filterableAttributes(config, config.filterAttributes, image) ?? {};
  const sorted = Object.keys(attributes)
    .sort()
    .map((name) => [name, attributes[name]]);
  return JSON.stringify([content, sorted]);
}

/**
 * What one stream record means for the index.
 *
 * @example
 * ```ts
 * decideChange(config, { eventName: 'REMOVE', dynamodb: { Keys, OldImage, SequenceNumber: '100' } });
 * // { kind: 'change', key: { group: 'g', id: 'a' }, sequence: '100' }
 * ```
 */
export function decideChange(config: IndexerContext['config'], record: StreamRecord): ChangeDecision {
  const data = record.dynamodb;
  const key = data?.Keys ? readKey(config, data.Keys) : undefined;
  if (!key || !data?.SequenceNumber) return { kind: 'ignore', reason: 'unreadable' };
  if (isReservedKey(key)) return { kind: 'ignore', reason: 'own item' };
  const change: ChangeDecision = { kind: 'change', key, sequence: data.SequenceNumber };
  // A stream without images (KEYS_ONLY) cannot say what changed: reading the item again is safe.
  if (!data.OldImage && !data.NewImage && record.eventName !== 'INSERT') return change;
  // A soft delete's removal is the run's own: the flag that asked for it already removed the vector.
  if (record.eventName === 'REMOVE' && data.OldImage?.[DELETE_MARKER_ATTRIBUTE]?.BOOL === true)
    return { kind: 'ignore', reason: 'soft delete' };
  // A writer that sets a fresh pending flag (as `import` does, or a writer from flags mode) has made
  // the item pending itself: a marker as well would index it twice. A flag cleared (the clear
  // stage's own write) asks for nothing. A write that leaves an older flag as it was is judged by
  // what it changed: that flag's run may have read the item before it.
  const flag = data.NewImage?.[config.pendingAttribute]?.N;
  if (flag !== undefined && flag !== data.OldImage?.[config.pendingAttribute]?.N) return { kind: 'flagged' };
  const before = indexedView(config, data.OldImage);
  const after = record.eventName === 'REMOVE' ? undefined : indexedView(config, data.NewImage);
  if (before === undefined && after === undefined) return { kind: 'ignore', reason: 'no text' };
  if (before === after) return { kind: 'ignore', reason: 'unchanged' };
  return change;
}

/**
 * Captures one batch of stream records as change markers. A record whose marker cannot be written
 * is reported (its sequence number), never thrown, so the records behind it are still captured.
 */
export async function captureChanges(
  context: IndexerContext,
  records: readonly StreamRecord[],
): Promise<CaptureResult> {
  const { config, clients } = context;
  const ignored: Partial<Record<IgnoreReason, number>> = {};
  // Per key, the newest change in the batch and every record it stands for.
  const newest = new Map<string, { key: ItemKey; sequence: string; records: string[] }>();
  let changes = 0;
  let flagged = 0;
  let oldestCreation = Number.POSITIVE_INFINITY;
  for (const record of records) {
    const created = record.dynamodb?.ApproximateCreationDateTime;
    if (created !== undefined) oldestCreation = Math.min(oldestCreation, created);
    const decision = decideChange(config, record);
    if (decision.kind === 'ignore') {
      ignored[decision.reason] = (ignored[decision.reason] ?? 0) + 1;
      continue;
    }
    changes += 1;
    if (decision.kind === 'flagged') {
      flagged += 1;
      continue;
    }
    const id = entryKey(decision.key);
    const seen = newest.get(id);
    const sequence = sortableSequence(decision.sequence);
    if (!seen) newest.set(id, { key: decision.key, sequence, records: [decision.sequence] });
    else {
      seen.records.push(decision.sequence);
      if (sequence > seen.sequence) seen.sequence = sequence;
    }
  }

  let markers = 0;
  let stale = 0;
  const failed: string[] = [];
  await forEachConcurrently([...newest.values()], CONCURRENCY, async ({ key, sequence, records: sequences }) => {
    try {
      await clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: config.tableName,
          Key: keyAttributes(config, changeMarkerKey(key)),
          UpdateExpression: 'SET #p = :token, #s = :sequence, itemGroup = :group, itemId = :id',
          ConditionExpression: 'attribute_not_exists(#s) OR #s < :sequence',
          ExpressionAttributeNames: { '#p': config.pendingAttribute, '#s': MARKER_SEQUENCE_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':token': { N: String(newVersionToken()) },
            ':sequence': { S: sequence },
            ':group': { S: key.group },
            ':id': { S: key.id },
          },
        }),
      );
      markers += 1;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) stale += sequences.length;
      else failed.push(...sequences);
    }
  });

  const age = Number.isFinite(oldestCreation)
    ? { oldestRecordAgeSeconds: Math.max(0, Date.now() / 1000 - oldestCreation) }
    : {};
  return {
    records: records.length,
    changes,
    markers,
    flagged,
    stale,
    ignored,
    failed,
    ...age,
  };
}

/**
 * Takes the run request: the plan stage does, before it reads what is pending, so changes captured
 * from then on ask for the next run. The item stays, holding when it was taken (`takenAt`), so the
 * next request can space its run from this one (`captureRunSpacing`).
 */
export async function takeRunRequest(context: IndexerContext, now = Date.now()): Promise<void> {
  const { config, clients } = context;
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: config.tableName,
      Item: { ...keyAttributes(config, RUN_REQUEST_KEY), takenAt: { N: String(now) } },
    }),
  );
}
