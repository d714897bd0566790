/**
 * What `ddb-faiss status` (and the monitor) report, read through the AWS APIs only, so it
 * works against the local stack and a deployed one: the current index generation (mirrored
 * into the table by the merge stage), the pending backlog, poison items, recent executions.
 * Every read can be bounded: the monitor polls, and its cost must not grow with the backlog.
 */
import {
  type AttributeValue,
  DescribeTableCommand,
  GetItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import type { AwsClients } from '../aws/clients.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { keyAttributes } from '../table/items.ts';
import {
  INDEX_STATUS_KEY,
  type IndexStatusRecord,
  POISON_ID_PREFIX,
  readIndexStatusItem,
  type PoisonRecord,
  readPoisonRecordItem,
  readRunProgressItem,
  RESERVED_GROUP,
  RUN_PROGRESS_KEY,
  type RunProgressRecord,
} from '../table/reserved-items.ts';
import { readPublishedManifest } from '../embedding/published-model.ts';
import type { IndexModel } from '../index-store/generations.ts';
import { originOf } from './indexer-client.ts';
import { type CaptureStatus, readCaptureStatus } from './capture-status.ts';
import { outcomeOf, type RunOutcome } from './run-progress.ts';

/** The pending backlog, counted up to a cap. */
export interface Backlog {
  /** Items waiting to be indexed; when `pendingCapped`, at least this many. */
  readonly pending: number;
  /** Whether counting stopped at the cap. */
  readonly pendingCapped: boolean;
  /**
   * When capped: DynamoDB's own item count of the pending index (DescribeTable, free, but
   * refreshed by DynamoDB only about every six hours).
   */
  readonly pendingEstimate?: number;
  readonly poison: PoisonRecord[];
  /** Whether more poison records exist than were read. */
  readonly poisonCapped: boolean;
}

export interface RecentExecution {
  readonly name: string;
  /** Step Functions' status; a run that found the index held by another ends SUCCEEDED with `outcome.skipped`. */
  readonly status: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly origin: string;
  /** What it did (items indexed, or why it did nothing), when asked for and it has ended. */
  readonly outcome?: RunOutcome;
}

/** A model as the status names it. */
export type ModelIdentity = Pick<IndexModel, 'name' | 'checksum'>;

export interface IndexStatus extends Backlog {
  readonly index: IndexStatusRecord | null;
  /**
   * The model the next run embeds with (the bundle published in S3), or null when none is
   * published. When it is not the index's model, runs are refused until a backfill.
   */
  readonly activeModel: ModelIdentity | null;
  readonly executions: RecentExecution[];
  /** Why the recent executions could not be read (the rest of the status still was). */
  readonly executionsError?: string;
  /** A stack in stream mode: how the capture step is doing. */
  readonly capture?: CaptureStatus;
  /** Why the capture's status could not be read (the rest of the status still was). */
  readonly captureError?: string;
}

/** Bounds of one status read. */
export interface StatusBounds {
  /** Most pending keys counted. @default no limit (an exact count) */
  readonly pendingCap?: number;
  /** Most poison records read. @default no limit */
  readonly poisonLimit?: number;
  /** Whether to read each recent run's outcome (a request per run). @default false */
  readonly outcomes?: boolean;
}

export async function readIndexRecord(
  config: DdbFaissConfig,
  clients: Pick<AwsClients, 'dynamodb'>,
): Promise<IndexStatusRecord | null> {
  const statusItem = await clients.dynamodb.send(
    new GetItemCommand({
      TableName: config.tableName,
      Key: keyAttributes(config, INDEX_STATUS_KEY),
      ConsistentRead: true,
    }),
  );
  return readIndexStatusItem(statusItem.Item);
}

/** The running stage's live counts (merge, clear), as the stage last wrote them; null when none. */
export async function readRunProgress(
  config: DdbFaissConfig,
  clients: Pick<AwsClients, 'dynamodb'>,
): Promise<RunProgressRecord | null> {
  const progressItem = await clients.dynamodb.send(
    new GetItemCommand({ TableName: config.tableName, Key: keyAttributes(config, RUN_PROGRESS_KEY) }),
  );
  return readRunProgressItem(progressItem.Item);
}

/**
 * Counts pending keys by scanning the sparse index (keys only), reading at most `cap` of them.
 * Beyond the cap DynamoDB's own estimate is added.
 */
export async function readBacklog(
  config: DdbFaissConfig,
  clients: Pick<AwsClients, 'dynamodb'>,
  bounds: StatusBounds = {},
): Promise<Backlog> {
  const cap = bounds.pendingCap ?? Number.POSITIVE_INFINITY;
  let pending = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const left = cap - pending;
    const page: ScanCommandOutput = await clients.dynamodb.send(
      new ScanCommand({
        TableName: config.tableName,
        IndexName: config.pendingIndexName,
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
        ...(Number.isFinite(left) ? { Limit: Math.min(left, 1000) } : {}),
      }),
    );
    pending += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey && pending < cap);
  const pendingCapped = startKey !== undefined;
  const pendingEstimate = pendingCapped ? await pendingIndexItemCount(config, clients) : undefined;

  const poisonLimit = bounds.poisonLimit ?? Number.POSITIVE_INFINITY;
  const poison: PoisonRecord[] = [];
  startKey = undefined;
  do {
    const left = poisonLimit - poison.length;
    const page: QueryCommandOutput = await clients.dynamodb.send(
      new QueryCommand({
        TableName: config.tableName,
        KeyConditionExpression: '#g = :g AND begins_with(#i, :poison)',
        ExpressionAttributeNames: { '#g': config.groupAttribute, '#i': config.idAttribute },
        ExpressionAttributeValues: { ':g': { S: RESERVED_GROUP }, ':poison': { S: POISON_ID_PREFIX } },
        ExclusiveStartKey: startKey,
        ...(Number.isFinite(left) ? { Limit: left } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      poison.push(readPoisonRecordItem(item));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && poison.length < poisonLimit);
  return {
    pending,
    pendingCapped,
    ...(pendingEstimate !== undefined ? { pendingEstimate } : {}),
    poison,
    poisonCapped: startKey !== undefined,
  };
}

async function pendingIndexItemCount(
  config: DdbFaissConfig,
  clients: Pick<AwsClients, 'dynamodb'>,
): Promise<number | undefined> {
  const { Table: table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: config.tableName }));
  return table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === config.pendingIndexName)?.ItemCount;
}

/** The most recent executions; a failure to read them is reported in `error`, not hidden. */
export interface RecentExecutions {
  readonly executions: RecentExecution[];
  readonly error?: string;
}

/**
 * The `recent` newest executions; with `outcomes`, each ended one's outcome too (one
 * DescribeExecution each: for `status`, not for a page that polls).
 */
export async function readRecentExecutions(
  clients: Pick<AwsClients, 'stepFunctions'>,
  stateMachineArn: string,
  recent: number,
  outcomes = false,
): Promise<RecentExecutions> {
  try {
    const listed = await clients.stepFunctions.send(new ListExecutionsCommand({ stateMachineArn, maxResults: recent }));
    const executions = await Promise.all(
      (listed.executions ?? []).map(async (execution) => {
        const ended = execution.status === 'SUCCEEDED' && outcomes && execution.executionArn;
        const described = ended
          ? await clients.stepFunctions.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }))
          : undefined;
        return {
          name: execution.name ?? '',
          status: execution.status ?? '',
          ...(execution.startDate ? { startDate: execution.startDate.toISOString() } : {}),
          ...(execution.stopDate ? { stopDate: execution.stopDate.toISOString() } : {}),
          origin: originOf(execution.name ?? ''),
          ...(described ? { outcome: outcomeOf(described.output) } : {}),
        };
      }),
    );
    return { executions };
  } catch (error) {
    return { executions: [], error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/**
 * The whole status. `stateMachineArn` is undefined when there is no state machine to ask
 * (then there are no executions to list, which is not an error).
 */
export async function readIndexStatus(
  config: DdbFaissConfig,
  clients: AwsClients,
  stateMachineArn: string | undefined,
  recent = 10,
  bounds: StatusBounds = {},
): Promise<IndexStatus> {
  const none: RecentExecutions = { executions: [] };
  const [index, activeModel, backlog, runs, capture] = await Promise.all([
    readIndexRecord(config, clients),
    readPublishedManifest(clients.s3, config),
    readBacklog(config, clients, bounds),
    stateMachineArn ? readRecentExecutions(clients, stateMachineArn, recent, bounds.outcomes) : none,
    // Whatever this command's flags say: the local stack that follows the stream leaves its state
    // in the data directory; a deployed one names its failure queue in its outputs.
    readCaptureStatus(config).then(
      (status) => (status ? { capture: status } : {}),
      (error: Error) => ({ captureError: `${error.name}: ${error.message}` }),
    ),
  ]);
  return {
    index,
    activeModel: activeModel && { name: activeModel.name, checksum: activeModel.checksum },
    ...backlog,
    executions: runs.executions,
    ...(runs.error ? { executionsError: runs.error } : {}),
    ...capture,
  };
}
