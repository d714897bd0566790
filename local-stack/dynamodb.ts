/**
 * The DynamoDB stand-in (dynalite, persisted with LevelDB) and the idempotent creation of
 * the items table with its sparse pending GSI.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { DdbFaissConfig } from '../config/config.ts';
import { answerOnlyOwnHost } from './http-guard.ts';
import { closeServer, listenLocal } from './listen.ts';

export interface RunningService {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1, persisting under `path`. */
export async function startDynamoDb(path: string, port: number): Promise<RunningService> {
  const server: Server = answerOnlyOwnHost(dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }));
  const bound = await listenLocal(server, port, 'DynamoDB', 'dynamodb-port');
  return { endpoint: `http://127.0.0.1:${bound}`, close: () => closeServer(server) };
}

type TableConfig = Pick<
  DdbFaissConfig,
  'tableName' | 'groupAttribute' | 'idAttribute' | 'pendingAttribute' | 'pendingIndexName'
>;

/**
 * Creates the items table when it is missing: keys (group S, id S), on-demand, and the
 * sparse GSI on the pending attribute. The GSI has the id as sort key: dynalite keeps only a
 * 24-bit hash of the table key for a hash-only GSI, so items sharing one flag value would
 * collide and vanish from the index. A sort key is harmless on real DynamoDB.
 * @returns whether the table was created
 */
export async function ensureItemsTable(client: DynamoDBClient, config: TableConfig): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: config.tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: config.tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: config.groupAttribute, AttributeType: 'S' },
        { AttributeName: config.idAttribute, AttributeType: 'S' },
        { AttributeName: config.pendingAttribute, AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: config.groupAttribute, KeyType: 'HASH' },
        { AttributeName: config.idAttribute, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: config.pendingIndexName,
          KeySchema: [
            { AttributeName: config.pendingAttribute, KeyType: 'HASH' },
            { AttributeName: config.idAttribute, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: config.tableName });
  return true;
}
