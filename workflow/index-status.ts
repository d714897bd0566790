/**
 * What `ddb-faiss status` (and the monitor) report, read through the AWS APIs only, so it
 * works against the local stack and a deployed one: the current index generation (mirrored
 * into the table by the merge stage), the pending backlog, poison items, recent executions.
 */
import { type AttributeValue, GetItemCommand, QueryCommand, type QueryCommandOutput, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import type { AwsClients } from '../aws/clients.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { keyAttributes, RESERVED_GROUP } from '../indexer/items.ts';
import { INDEX_STATUS_KEY, type IndexStatusRecord } from '../indexer/merge.ts';

export interface PoisonItem {
  readonly group: string;
  readonly id: string;
  readonly reason: string;
  readonly recordedAt: string;
}

export interface IndexStatus {
  readonly index: IndexStatusRecord | null;
  readonly pending: number;
  readonly poison: PoisonItem[];
  readonly executions: { name: string; status: string; startDate?: string; stopDate?: string; origin: string }[];
}

export async function readIndexStatus(config: DdbFaissConfig, clients: AwsClients, stateMachineArn: string | undefined, recent = 10): Promise<IndexStatus> {
  const statusItem = await clients.dynamodb.send(new GetItemCommand({ TableName: config.tableName, Key: keyAttributes(config, INDEX_STATUS_KEY), ConsistentRead: true }));
  const index = statusItem.Item?.['status']?.S ? (JSON.parse(statusItem.Item['status'].S) as IndexStatusRecord) : null;

  let pending = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page: ScanCommandOutput = await clients.dynamodb.send(new ScanCommand({ TableName: config.tableName, IndexName: config.pendingIndexName, Select: 'COUNT', ExclusiveStartKey: startKey }));
    pending += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  const poison: PoisonItem[] = [];
  startKey = undefined;
  do {
    const page: QueryCommandOutput = await clients.dynamodb.send(new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: '#g = :g AND begins_with(#i, :poison)',
      ExpressionAttributeNames: { '#g': config.groupAttribute, '#i': config.idAttribute },
      ExpressionAttributeValues: { ':g': { S: RESERVED_GROUP }, ':poison': { S: 'poison#' } },
      ExclusiveStartKey: startKey,
    }));
    for (const item of page.Items ?? []) {
      poison.push({ group: item['itemGroup']?.S ?? '', id: item['itemId']?.S ?? '', reason: item['reason']?.S ?? '', recordedAt: item['recordedAt']?.S ?? '' });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  const executions = stateMachineArn
    ? ((await clients.stepFunctions.send(new ListExecutionsCommand({ stateMachineArn, maxResults: recent }))).executions ?? []).map((execution) => ({
        name: execution.name ?? '',
        status: execution.status ?? '',
        ...(execution.startDate ? { startDate: execution.startDate.toISOString() } : {}),
        ...(execution.stopDate ? { stopDate: execution.stopDate.toISOString() } : {}),
        origin: /^(manual|backfill|scheduled)-/.exec(execution.name ?? '')?.[1] ?? 'other',
      }))
    : [];
  return { index, pending, poison, executions };
}
