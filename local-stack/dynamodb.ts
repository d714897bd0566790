/**
 * The local stack's DynamoDB (AWS's DynamoDB Local: `dynamodb-local.ts`) and the idempotent
 * creation of the items table with its sparse pending GSI.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { prepareExistingTable } from '../aws/existing-table.ts';
import type { DdbFaissConfig } from '../config/config.ts';

/** A stand-in the local stack started: where it answers, and how to stop it. */
export interface RunningService {
  readonly endpoint: string;
  close(): Promise<void>;
}

type TableConfig = Pick<
  DdbFaissConfig,
  'tableName' | 'groupAttribute' | 'idAttribute' | 'pendingAttribute' | 'pendingIndexName' | 'changeCapture'
>;

/** The stream the capture step reads: old and new images, so it can tell what a write changed. */
export const ITEMS_STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

/**
 * Creates the items table when it is missing: keys (group S, id S), on-demand, in stream mode its
 * stream (new and old images; off otherwise, as on AWS: a stream makes every write a little
 * slower on DynamoDB Local; turned on when a stack starts in stream mode over the table), and the
 * sparse GSI on the pending attribute. The GSI has the id as sort key, so one flag value shared by
 * many items still pages in a stable order (and a stand-in that hashes hash-only GSI keys, as
 * dynalite did, loses none); on DynamoDB it costs nothing.
 * A table that is already there is adopted: keys checked, pending index (and in stream mode the
 * stream) added where missing.
 * @returns whether the table was created, and what was added to one that was there
 */
export async function ensureItemsTable(
  client: DynamoDBClient,
  config: TableConfig,
): Promise<{ created: boolean; changes: string[] }> {
  try {
    await client.send(new DescribeTableCommand({ TableName: config.tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await createItemsTable(client, config);
    return { created: true, changes: [] };
  }
  // A table that is already there (ddb-faiss's own from before streams, or one of the user's that
  // the settings point at): its keys checked, its pending index and stream added where missing.
  return {
    created: false,
    changes: await prepareExistingTable(client, config, { stream: config.changeCapture === 'stream' }),
  };
}

async function createItemsTable(client: DynamoDBClient, config: TableConfig): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: config.tableName,
      BillingMode: 'PAY_PER_REQUEST',
      ...(config.changeCapture === 'stream' ? { StreamSpecification: ITEMS_STREAM } : {}),
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
}
