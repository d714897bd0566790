/**
 * `npm run bench:capture-cost`: the write units ddb-faiss spends per change, in each change
 * capture mode, for a 1 KB and a 300 KB item (DynamoDB charges a write by the larger of the item's
 * old and new size, rounded up to 1 KB). Measured with `ReturnConsumedCapacity: TOTAL` on the local
 * DynamoDB (AWS's DynamoDB Local), issuing the very requests the stages make:
 * - flags: the writer's write carries the flag (the same write it makes anyway), and the clear
 *   stage removes the flag from the item, conditional on its version: a write of the whole item;
 * - stream: the capture step writes the item's change marker (conditional on the stream's order),
 *   and the clear stage removes the marker's pending attribute: two writes of a small item.
 * The writer's own write and the embed stage's read of the item cost the same in both modes.
 */
import { type AttributeValue, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { writeFileSync, readFileSync } from 'node:fs';
import { changeMarkerKey, MARKER_SEQUENCE_ATTRIBUTE } from '../table/reserved-items.ts';
import { keyAttributes } from '../table/items.ts';
import { startLocalStack } from '../local-stack/stack.ts';
import { freePortConfig, tempDir } from '../test/helpers/scratch.ts';

const dir = tempDir('ddb-faiss-bench-cost-');
const config = freePortConfig(dir.path);
const stack = await startLocalStack({ config, handlers: new Map() });
const ddb = stack.clients.dynamodb;
const units = (output: { ConsumedCapacity?: { CapacityUnits?: number } }): number =>
  output.ConsumedCapacity?.CapacityUnits ?? Number.NaN;

/** The clear stage's write: the pending attribute removed if its version is still the one indexed. */
const clearPending = async (key: Record<string, AttributeValue>, version: number): Promise<number> =>
  units(
    await ddb.send(
      new UpdateItemCommand({
        TableName: config.tableName,
        Key: key,
        UpdateExpression: 'REMOVE #p',
        ConditionExpression: '#p = :v',
        ExpressionAttributeNames: { '#p': config.pendingAttribute },
        ExpressionAttributeValues: { ':v': { N: String(version) } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    ),
  );

const results: Record<string, Record<string, number>> = {};
try {
  for (const [label, bytes] of [
    ['1KB', 900], // with its key and attribute names, just under 1 KB
    ['300KB', 300_000],
  ] as const) {
    const key = { group: 'g', id: `item-${label}` };
    const item = { ...keyAttributes(config, key), [config.contentAttribute]: { S: 'x'.repeat(bytes) } };
    const writerFlagged = units(
      await ddb.send(
        new PutItemCommand({
          TableName: config.tableName,
          Item: { ...item, [config.pendingAttribute]: { N: '1' } },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const flagClear = await clearPending(keyAttributes(config, key), 1);
    const writerPlain = units(
      await ddb.send(new PutItemCommand({ TableName: config.tableName, Item: item, ReturnConsumedCapacity: 'TOTAL' })),
    );
    const marker = keyAttributes(config, changeMarkerKey(key));
    const markerWrite = units(
      await ddb.send(
        new UpdateItemCommand({
          TableName: config.tableName,
          Key: marker,
          UpdateExpression: 'SET #p = :token, #s = :sequence, itemGroup = :group, itemId = :id',
          ConditionExpression: 'attribute_not_exists(#s) OR #s < :sequence',
          ExpressionAttributeNames: { '#p': config.pendingAttribute, '#s': MARKER_SEQUENCE_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':token': { N: '1796531346347000' },
            ':sequence': { S: '0'.repeat(39) + '1' },
            ':group': { S: key.group },
            ':id': { S: key.id },
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const markerClear = await clearPending(marker, 1796531346347000);
    // What ddb-faiss adds to a change: in flags mode the flag on the writer's write (its sparse
    // index entry) and the flag's clear; in stream mode the marker's write and its clear.
    results[label] = {
      writer_write_plain: writerPlain,
      writer_write_with_flag: writerFlagged,
      flag_clear: flagClear,
      marker_write: markerWrite,
      marker_clear: markerClear,
      flags_mode_added_per_change: writerFlagged - writerPlain + flagClear,
      stream_mode_added_per_change: markerWrite + markerClear,
    };
  }
} finally {
  await stack.close();
  dir.remove();
}
const file = new URL('./results.json', import.meta.url);
writeFileSync(
  file,
  `${JSON.stringify(
    { ...JSON.parse(readFileSync(file, 'utf8')), capture_write_units_per_change: results },
    null,
    2,
  )}\n`,
);
console.log(JSON.stringify(results, null, 2));
