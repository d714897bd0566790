/**
 * The stream stream mode follows, on a table ddb-faiss did not create: turned on where it is off
 * (new and old images), refused with what to do where it is on with images the capture step
 * cannot compare. Used by `ddb-faiss deploy` over an existing table.
 *
 * @example
 * ```ts
 * const { streamArn, enabled } = await ensureTableStream(dynamodb, 'orders');
 * ```
 */
import {
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';

/** Thrown when a table's stream exists with a view the capture step cannot use. */
export class TableStreamError extends Error {
  override readonly name = 'TableStreamError';
}

/**
 * The table's stream ARN, turning the stream on (NEW_AND_OLD_IMAGES) when it is off.
 * @returns the ARN, and whether this call enabled it
 * @throws {TableStreamError} when the stream shows less than both images
 */
export async function ensureTableStream(
  client: DynamoDBClient,
  tableName: string,
): Promise<{ streamArn: string; enabled: boolean }> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const spec = Table?.StreamSpecification;
  if (spec?.StreamEnabled && Table?.LatestStreamArn) {
    if (spec.StreamViewType !== 'NEW_AND_OLD_IMAGES')
      throw new TableStreamError(
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
    throw new TableStreamError(`table ${tableName}: its stream was enabled but has no ARN yet; deploy again`);
  return { streamArn, enabled: true };
}
