/**
 * Runs for captured changes (stream mode): a batch that wrote change markers asks for a run, and
 * one run comes for every burst. The batch that creates the reserved run request item starts an
 * execution (named `captured-...`, with the debounce in its input, or the rest of the run spacing when
 * the last run took what was pending less than `captureRunSpacing` ago); while the request waits,
 * other batches start nothing; the run's plan stage takes it (`takeRunRequest`: it stays, marked
 * with when) before it reads what is pending, so changes captured from then on ask for the next run.
 *
 * @example
 * ```ts
 * const executionArn = await requestRun({ config, clients, stateMachineArn: () => arn });
 * ```
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionNameFor } from '../asl/run-origins.ts';
import { parseDuration } from '../config/duration.ts';
import type { IndexerContext } from '../indexer/context.ts';
import { executionState } from '../indexer/lease.ts';
import { keyAttributes } from '../table/items.ts';
import { RUN_REQUEST_KEY } from '../table/reserved-items.ts';

/** Where captured work goes: the table, and the state machine a batch with changes starts. */
export interface CaptureContext extends IndexerContext {
  /** The indexer state machine's ARN (asked at each run started: a local stack may create it later). */
  readonly stateMachineArn: () => string;
}

/** A run request older than this is taken to be lost (its execution never started, or failed early). */
export const RUN_REQUEST_TTL_MS = 15 * 60 * 1000;

/** The execution ARN a name will have under a state machine. */
const executionArnOf = (stateMachineArn: string, name: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** How long a run request may name an execution that does not exist yet (between the put and the start). */
const START_GRACE_MS = 10_000;

/**
 * Starts a run for captured changes unless one is already requested and not yet planning. A request
 * whose execution has ended without planning (failed early, aborted, lost with a local stack that
 * was killed) is taken over, as the writer lease is: its run will never take what is pending.
 * @returns the execution's ARN when this call started one
 */
export async function requestRun(context: CaptureContext, now = Date.now()): Promise<string | undefined> {
  const { config, clients } = context;
  const key = keyAttributes(config, RUN_REQUEST_KEY);
  const name = executionNameFor('captured');
  const executionArn = executionArnOf(context.stateMachineArn(), name);
  const put = (condition: string, values: Record<string, AttributeValue>) =>
    clients.dynamodb.send(
      new PutItemCommand({
        ReturnValues: 'ALL_OLD',
        TableName: config.tableName,
        Item: {
          ...key,
          execution: { S: executionArn },
          requestedAt: { N: String(now) },
          expiresAt: { N: String(now + RUN_REQUEST_TTL_MS) },
        },
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#g': config.groupAttribute },
        ExpressionAttributeValues: values,
      }),
    );
  // Free: no request, the last one taken by its run's plan (no `execution`), or one lost.
  let lastTakenAt: number | undefined;
  try {
    const { Attributes: previous } = await put(
      'attribute_not_exists(#g) OR attribute_not_exists(execution) OR expiresAt < :now',
      { ':now': { N: String(now) } },
    );
    lastTakenAt = previous?.['takenAt']?.N === undefined ? undefined : Number(previous['takenAt'].N);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const { Item: held } = await clients.dynamodb.send(
      new GetItemCommand({ TableName: config.tableName, Key: key, ConsistentRead: true }),
    );
    const heldArn = held?.['execution']?.S;
    const requestedAt = Number(held?.['requestedAt']?.N ?? now);
    if (!heldArn || now - requestedAt < START_GRACE_MS) return undefined; // a run is on its way
    if ((await executionState(context, heldArn)).state !== 'ended') return undefined;
    try {
      await put('#g = :g AND execution = :held', {
        ':g': key[config.groupAttribute]!,
        ':held': { S: heldArn },
      });
    } catch (takeover) {
      if (takeover instanceof ConditionalCheckFailedException) return undefined; // another batch took it over
      throw takeover;
    }
  }
  try {
    await clients.stepFunctions.send(
      new StartExecutionCommand({
        stateMachineArn: context.stateMachineArn(),
        name,
        input: JSON.stringify(captureRunInput(config, lastTakenAt === undefined ? undefined : now - lastTakenAt)),
      }),
    );
    return executionArn;
  } catch (error) {
    // No run will plan: the next batch must be free to ask again.
    await clients.dynamodb
      .send(new DeleteItemCommand({ TableName: config.tableName, Key: key }))
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Starts a run when anything is pending (a change marker or a flag): what a capture that starts
 * after a crash does, since the markers written before it may have lost their run, and the stream
 * holds nothing new to ask for one.
 * @returns the execution's ARN when this call started one
 */
export async function requestRunForPending(context: CaptureContext): Promise<string | undefined> {
  const { config, clients } = context;
  const { Count: pending = 0 } = await clients.dynamodb.send(
    new ScanCommand({ TableName: config.tableName, IndexName: config.pendingIndexName, Limit: 1, Select: 'COUNT' }),
  );
  return pending > 0 ? requestRun(context) : undefined;
}

/**
 * The input of a run started by captured changes: it waits the debounce, or longer when the last run
 * took what was pending less than `captureRunSpacing` ago (`sinceLastRunMs`), so under a steady
 * trickle of changes runs come that far apart, each carrying what gathered.
 */
export const captureRunInput = (
  config: Pick<IndexerContext['config'], 'captureDebounce' | 'captureRunSpacing'>,
  sinceLastRunMs?: number,
) => {
  const debounce = parseDuration(config.captureDebounce) / 1000;
  const spacingLeft =
    sinceLastRunMs === undefined ? 0 : Math.ceil((parseDuration(config.captureRunSpacing) - sinceLastRunMs) / 1000);
  return { mode: 'incremental', trigger: 'capture', debounceSeconds: Math.max(debounce, spacingLeft) } as const;
};
