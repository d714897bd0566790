/**
 * A table ddb-faiss did not create, made ready for it (adopting it): its keys checked against the
 * group and id settings, its sparse pending index created where missing, and, for stream mode, its
 * stream turned on (new and old images) where it is off; what cannot be changed safely (keys, a
 * stream with fewer images, an index of the same name on other keys) is refused with what to do.
 * Used by the local stack over a table that is already there and by `ddb-faiss deploy` over
 * `existingTableName`.
 *
 * @example
 * ```ts
 * const done = await prepareExistingTable(dynamodb, config, { stream: true });
 * // ['created the sparse index faiss_pending-index', 'enabled the stream (new and old images)']
 * ```
 */
import {
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { UserFacingError } from '../config/errors.ts';
import {
  attributeDefinitions,
  type ItemsTableSettings,
  itemsTableDefinition,
  pendingIndexInput,
} from './definition.ts';

/** Thrown when a table cannot serve ddb-faiss as it is, with what to do. */
export class TableSetupError extends UserFacingError {
  override readonly name = 'TableSetupError';
  readonly code = 'table-setup';
}

type TableSettings = ItemsTableSettings & { readonly tableName: string };

/** How long an index being built may take before we stop waiting (DynamoDB backfills it from the table). */
const INDEX_WAIT_MS = 30 * 60_000;

/**
 * Checks that the table is keyed by the group (partition key, string) and id (sort key, string)
 * settings. @throws {TableSetupError} naming its keys and the flags that match them
 */
export function checkTableKeys(table: TableDescription, config: TableSettings): void {
  const keyOf = (type: 'HASH' | 'RANGE') => table.KeySchema?.find((key) => key.KeyType === type)?.AttributeName;
  const typeOf = (name: string | undefined) =>
    table.AttributeDefinitions?.find((definition) => definition.AttributeName === name)?.AttributeType;
  const [hash, range] = [keyOf('HASH'), keyOf('RANGE')];
  if (!range)
    throw new TableSetupError(
      `table ${config.tableName} has a partition key (${hash}) and no sort key: ddb-faiss keys items by a ` +
        'group (partition key) and an id (sort key), both strings',
    );
  if (typeOf(hash) !== 'S' || typeOf(range) !== 'S')
    throw new TableSetupError(
      `table ${config.tableName} is keyed by ${hash} (${typeOf(hash)}) and ${range} (${typeOf(range)}): ddb-faiss ` +
        'needs string keys',
    );
  if (hash !== config.groupAttribute || range !== config.idAttribute)
    throw new TableSetupError(
      `table ${config.tableName} is keyed by ${hash} and ${range}, not ${config.groupAttribute} and ` +
        `${config.idAttribute}: pass --group-attribute ${hash} --id-attribute ${range}`,
    );
}

/**
 * Creates the sparse pending index (pending attribute, then id; keys only) when the table has none,
 * and waits until DynamoDB has built it. A provisioned table's index gets the table's write capacity
 * (every flag or marker is a write to it; fewer would throttle the table) and 5 read units.
 * @returns whether it was created
 * @throws {TableSetupError} when an index of that name has other keys
 */
export async function ensurePendingIndex(
  client: DynamoDBClient,
  table: TableDescription,
  config: TableSettings,
): Promise<boolean> {
  const { pendingIndex: wanted } = itemsTableDefinition(config);
  const existing = table.GlobalSecondaryIndexes?.find((index) => index.IndexName === wanted.name);
  if (existing) {
    const [hash, range] = ['HASH', 'RANGE'].map(
      (type) => existing.KeySchema?.find((key) => key.KeyType === type)?.AttributeName,
    );
    if (hash !== wanted.partition.name || range !== wanted.sort.name)
      throw new TableSetupError(
        `table ${config.tableName} has an index ${wanted.name} on ${hash}/${range}, not on ` +
          `${wanted.partition.name}/${wanted.sort.name}: name another with --pending-index`,
      );
    return false;
  }
  const provisioned =
    table.BillingModeSummary?.BillingMode === 'PROVISIONED' || table.ProvisionedThroughput?.WriteCapacityUnits;
  const definition = itemsTableDefinition(config);
  await client.send(
    new UpdateTableCommand({
      TableName: config.tableName,
      AttributeDefinitions: attributeDefinitions(definition.pendingIndex),
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            ...pendingIndexInput(definition),
            ...(provisioned
              ? {
                  ProvisionedThroughput: {
                    ReadCapacityUnits: 5,
                    WriteCapacityUnits: table.ProvisionedThroughput?.WriteCapacityUnits ?? 5,
                  },
                }
              : {}),
          },
        },
      ],
    }),
  );
  const deadline = Date.now() + INDEX_WAIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: config.tableName }));
    const status = Table?.GlobalSecondaryIndexes?.find(
      (index) => index.IndexName === config.pendingIndexName,
    )?.IndexStatus;
    if (status === 'ACTIVE') return true;
    if (Date.now() > deadline)
      throw new TableSetupError(`the index ${config.pendingIndexName} of ${config.tableName} is still ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

/**
 * Makes an existing table ready: keys checked, pending index created where missing, and with
 * `stream`, its stream on. @returns what it changed, for people
 */
export async function prepareExistingTable(
  client: DynamoDBClient,
  config: TableSettings,
  options: { readonly stream: boolean },
): Promise<string[]> {
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: config.tableName }));
  if (!table) throw new TableSetupError(`table ${config.tableName} was not found`);
  checkTableKeys(table, config);
  const done: string[] = [];
  if (await ensurePendingIndex(client, table, config)) done.push(`created the sparse index ${config.pendingIndexName}`);
  if (options.stream && (await ensureTableStream(client, config.tableName)).enabled)
    done.push('enabled the stream (new and old images)');
  return done;
}

/**
 * The table's stream ARN, turning the stream on (NEW_AND_OLD_IMAGES) when it is off.
 * @returns the ARN, and whether this call enabled it
 * @throws {TableSetupError} when the stream shows less than both images
 */
export async function ensureTableStream(
  client: DynamoDBClient,
  tableName: string,
): Promise<{ streamArn: string; enabled: boolean }> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const spec = Table?.StreamSpecification;
  if (spec?.StreamEnabled && Table?.LatestStreamArn) {
    if (spec.StreamViewType !== 'NEW_AND_OLD_IMAGES')
      throw new TableSetupError(
        `table ${tableName} has a stream of ${spec.StreamViewType}: stream mode needs NEW_AND_OLD_IMAGES to tell ` +
          'what a write changed. A table has one stream: if nothing else reads it, turn it off and on with both ' +
          `images (\`aws dynamodb update-table --table-name ${tableName} ` +
          '--stream-specification StreamEnabled=false`, ' +
          `then \`... StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES\`); otherwise keep changeCapture=flags`,
      );
    return { streamArn: Table.LatestStreamArn, enabled: false };
  }
  const { TableDescription } = await client.send(
    new UpdateTableCommand({
      TableName: tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 300, minDelay: 2 }, { TableName: tableName });
  const streamArn =
    TableDescription?.LatestStreamArn ??
    (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.LatestStreamArn;
  if (!streamArn)
    throw new TableSetupError(`table ${tableName}: its stream was enabled but has no ARN yet; deploy again`);
  return { streamArn, enabled: true };
}
