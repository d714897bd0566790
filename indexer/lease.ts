/**
 * One writer at a time: a lease item in the table (reserved group) naming the execution that
 * holds the index and when its hold expires. A crashed run's lease simply expires.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { IndexerContext } from './context.ts';
import { LeaseLostError } from './errors.ts';
import { keyAttributes, RESERVED_GROUP } from './items.ts';

/** How long a lease lasts without renewal; longer than any one stage's timeout. */
export const LEASE_MS = 30 * 60 * 1000;
const LEASE_KEY = { group: RESERVED_GROUP, id: 'writer-lease' };

export type LeaseResult = { readonly acquired: true } | { readonly acquired: false; readonly holder: string; readonly expiresAt: number };

export async function acquireLease({ config, clients }: IndexerContext, execution: string, now = Date.now()): Promise<LeaseResult> {
  try {
    await clients.dynamodb.send(new PutItemCommand({
      TableName: config.tableName,
      Item: { ...keyAttributes(config, LEASE_KEY), holder: { S: execution }, expiresAt: { N: String(now + LEASE_MS) } },
      ConditionExpression: 'attribute_not_exists(#g) OR expiresAt < :now OR holder = :me',
      ExpressionAttributeNames: { '#g': config.groupAttribute },
      ExpressionAttributeValues: { ':now': { N: String(now) }, ':me': { S: execution } },
    }));
    return { acquired: true };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const lease = await clients.dynamodb.send(new GetItemCommand({ TableName: config.tableName, Key: keyAttributes(config, LEASE_KEY), ConsistentRead: true }));
    return { acquired: false, holder: lease.Item?.['holder']?.S ?? 'unknown', expiresAt: Number(lease.Item?.['expiresAt']?.N ?? 0) };
  }
}

/** Extends this run's lease. @throws {LeaseLostError} when another run holds it now */
export async function renewLease({ config, clients }: IndexerContext, execution: string): Promise<void> {
  try {
    await clients.dynamodb.send(new UpdateItemCommand({
      TableName: config.tableName,
      Key: keyAttributes(config, LEASE_KEY),
      UpdateExpression: 'SET expiresAt = :until',
      ConditionExpression: 'holder = :me',
      ExpressionAttributeValues: { ':until': { N: String(Date.now() + LEASE_MS) }, ':me': { S: execution } },
    }));
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new LeaseLostError(`execution ${execution} no longer holds the writer lease; the index was not changed`);
    throw error;
  }
}

export async function releaseLease({ config, clients }: IndexerContext, execution: string): Promise<void> {
  try {
    await clients.dynamodb.send(new DeleteItemCommand({
      TableName: config.tableName,
      Key: keyAttributes(config, LEASE_KEY),
      ConditionExpression: 'holder = :me',
      ExpressionAttributeValues: { ':me': { S: execution } },
    }));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
