/**
 * One writer at a time: a lease item in the table (reserved group) naming the execution that
 * holds the index and when its hold expires.
 *
 * Taking the lease is the first work a run does. A run that finds it held asks Step Functions
 * (DescribeExecution) whether the holder still runs: a holder that has ended (succeeded,
 * failed, timed out, aborted, e.g. by a crash of the local stack) can never renew or release
 * it, so its lease is taken over at once, by a compare-and-swap on the old holder and expiry.
 * A running holder keeps the index: it renews the lease at every stage and every embed batch,
 * so a live run is never robbed. The expiry is the last resort, for a holder whose status
 * cannot be read.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import type { IndexerContext, RunInfo } from './context.ts';
import { LeaseLostError } from './errors.ts';
import { keyAttributes } from '../table/items.ts';
import { LEASE_KEY } from '../table/reserved-items.ts';

/** Who held the lease before a takeover, and how their execution had ended. */
export interface PreviousHolder {
  readonly holder: string;
  readonly status: string;
}

export type LeaseResult =
  | { readonly acquired: true; readonly expiresAt: number; readonly tookOverFrom?: PreviousHolder }
  | {
      readonly acquired: false;
      readonly holder: string;
      readonly expiresAt: number;
      /** Why this run does nothing, for people: who holds the index and until when. */
      readonly skipped: string;
    };

interface HeldLease {
  readonly holder: string;
  readonly holderArn: string | undefined;
  readonly expiresAt: number;
}

/** Attempts at taking the lease when it changes hands while we look (a release or another takeover). */
const ATTEMPTS = 3;

const leaseMs = ({ config }: IndexerContext): number => config.leaseSeconds * 1000;

/**
 * Takes the writer lease for this run: when it is free, expired, already ours, or held by an
 * execution that has ended.
 */
export async function acquireLease(context: IndexerContext, run: RunInfo, now = Date.now()): Promise<LeaseResult> {
  const until = now + leaseMs(context);
  let seen: HeldLease | undefined;
  let holder: ExecutionState = { state: 'running', status: 'RUNNING' };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (await putLease(context, run, until, freeOrOurs(now, run))) return { acquired: true, expiresAt: until };
    seen = await readLease(context);
    if (!seen) continue; // released in the meantime: try again
    holder = await executionState(context, seen.holderArn);
    if (holder.state !== 'ended') break;
    if (await putLease(context, run, until, stillHeldBy(seen))) {
      return { acquired: true, expiresAt: until, tookOverFrom: { holder: seen.holder, status: holder.status } };
    }
  }
  const name = seen?.holder ?? 'unknown';
  const expiresAt = seen?.expiresAt ?? 0;
  const status = holder.state === 'running' ? 'still running' : holder.status;
  return {
    acquired: false,
    holder: name,
    expiresAt,
    skipped: `another run (${name}, ${status}) holds the index until ${new Date(expiresAt).toISOString()}`,
  };
}

/** Extends this run's lease. @throws {LeaseLostError} when another run holds it now */
export async function renewLease(context: IndexerContext, run: Pick<RunInfo, 'execution'>): Promise<void> {
  const { config, clients } = context;
  try {
    await clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.tableName,
        Key: keyAttributes(config, LEASE_KEY),
        UpdateExpression: 'SET expiresAt = :until',
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: {
          ':until': { N: String(Date.now() + leaseMs(context)) },
          ':me': { S: run.execution },
        },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      // A redriven run comes here when another run has indexed since it failed: its work is stale.
      throw new LeaseLostError(
        `execution ${run.execution} no longer holds the writer lease: another run has taken it (after this one ` +
          'failed or stopped, if it was redriven); the index was not changed. Start a new run: the items this one ' +
          'left pending are indexed by that run or the next.',
      );
    }
    throw error;
  }
}

/** Gives the lease back if this run holds it (a run that never took it has nothing to release). */
export async function releaseLease(
  { config, clients }: IndexerContext,
  run: Pick<RunInfo, 'execution'>,
): Promise<void> {
  try {
    await clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: config.tableName,
        Key: keyAttributes(config, LEASE_KEY),
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: { ':me': { S: run.execution } },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

interface LeaseCondition {
  readonly expression: string;
  readonly values: Record<string, AttributeValue>;
}

const freeOrOurs = (now: number, run: RunInfo): LeaseCondition => ({
  expression: 'attribute_not_exists(holder) OR expiresAt < :now OR holder = :me',
  values: { ':now': { N: String(now) }, ':me': { S: run.execution } },
});

/** The compare-and-swap of a takeover: only if nobody renewed or took the lease since we read it. */
const stillHeldBy = (lease: HeldLease): LeaseCondition => ({
  expression: 'holder = :old AND expiresAt = :oldExpiry',
  values: { ':old': { S: lease.holder }, ':oldExpiry': { N: String(lease.expiresAt) } },
});

/** Writes the lease for this run if the condition holds. @returns whether it was written */
async function putLease(
  { config, clients }: IndexerContext,
  run: RunInfo,
  until: number,
  condition: LeaseCondition,
): Promise<boolean> {
  try {
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: config.tableName,
        Item: {
          ...keyAttributes(config, LEASE_KEY),
          holder: { S: run.execution },
          holderArn: { S: run.executionArn },
          expiresAt: { N: String(until) },
        },
        ConditionExpression: condition.expression,
        ExpressionAttributeValues: condition.values,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

async function readLease({ config, clients }: IndexerContext): Promise<HeldLease | undefined> {
  const { Item: item } = await clients.dynamodb.send(
    new GetItemCommand({ TableName: config.tableName, Key: keyAttributes(config, LEASE_KEY), ConsistentRead: true }),
  );
  if (!item) return undefined;
  return {
    holder: item['holder']?.S ?? 'unknown',
    holderArn: item['holderArn']?.S,
    expiresAt: Number(item['expiresAt']?.N ?? 0),
  };
}

/**
 * Whether an execution still runs, as Step Functions' DescribeExecution says: `ended` (a lease
 * holder can never renew or release the lease, a requested run never plans) for a closed execution
 * or one that does not exist, `unknown` when its status cannot be read (then left to its expiry).
 */
export interface ExecutionState {
  readonly state: 'running' | 'ended' | 'unknown';
  /** The execution status (e.g. ABORTED), DOES_NOT_EXIST, or why it is unknown. */
  readonly status: string;
}

export async function executionState(
  { clients }: Pick<IndexerContext, 'clients'>,
  executionArn: string | undefined,
): Promise<ExecutionState> {
  if (!executionArn)
    return { state: 'unknown', status: "UNKNOWN (the lease does not name the holder's execution ARN)" };
  try {
    const { status } = await clients.stepFunctions.send(new DescribeExecutionCommand({ executionArn }));
    if (!status) return { state: 'unknown', status: 'UNKNOWN (no status)' };
    return { state: status === 'RUNNING' || status === 'PENDING_REDRIVE' ? 'running' : 'ended', status };
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return { state: 'ended', status: 'DOES_NOT_EXIST' };
    return { state: 'unknown', status: `UNKNOWN (${(error as Error).name}: ${(error as Error).message})` };
  }
}
