/**
 * The local stack's DynamoDB (AWS's DynamoDB Local: `dynamodb-local.ts`) and the idempotent
 * creation of the items table, as the core defines it.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, type ItemsTableSettings, itemsTableDefinition } from '../table/definition.ts';
import { prepareExistingTable } from '../table/existing-table.ts';

/** A stand-in the local stack started: where it answers, and how to stop it. */
export interface RunningService {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Creates the items table from the core's definition (`table/definition.ts`) when it is missing; in
 * stream mode with its stream (off otherwise, as on AWS: a stream makes every write a little slower
 * on DynamoDB Local; turned on when a stack starts in stream mode over the table).
 * A table that is already there is adopted: keys checked, pending index (and in stream mode the
 * stream) added where missing.
 * @returns whether the table was created, and what was added to one that was there
 */
export async function ensureItemsTable(
  client: DynamoDBClient,
  config: ItemsTableSettings & { readonly tableName: string },
): Promise<{ created: boolean; changes: string[] }> {
  try {
    await client.send(new DescribeTableCommand({ TableName: config.tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await client.send(new CreateTableCommand(createTableInput(config.tableName, itemsTableDefinition(config))));
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: config.tableName });
    return { created: true, changes: [] };
  }
  return {
    created: false,
    changes: await prepareExistingTable(client, config, { stream: config.changeCapture === 'stream' }),
  };
}
