/**
 * The items table ddb-faiss keeps an index of, defined once: keys (group, id: strings), the sparse
 * pending index (pending attribute, then id; keys only) and, in stream mode, the stream with old and
 * new images. The CDK app builds its table from this definition, the local stack creates its table
 * from it, and an adopted table is checked against it.
 *
 * The pending index has the id as its sort key, so one flag value shared by many items still pages in
 * a stable order (and a stand-in that hashes hash-only GSI keys loses none); on DynamoDB it costs
 * nothing.
 *
 * @example
 * ```ts
 * const table = itemsTableDefinition(config);
 * await dynamodb.send(new CreateTableCommand(createTableInput('items', table)));
 * ```
 */
import type { CreateTableCommandInput, GlobalSecondaryIndex, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import type { DdbFaissConfig } from '../config/config.ts';

/** An attribute a key is made of, with its DynamoDB scalar type. */
export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

/** A partition key and a sort key. */
export interface KeyPair {
  readonly partition: KeyAttribute;
  readonly sort: KeyAttribute;
}

/** The items table as ddb-faiss needs it. */
export interface ItemsTableDefinition {
  /** The table's own keys: group, then id. */
  readonly keys: KeyPair;
  /** The sparse index over the pending attribute; it projects keys only. */
  readonly pendingIndex: KeyPair & { readonly name: string };
  /** The stream the capture step reads (stream mode only): old and new images tell what a write changed. */
  readonly stream?: 'NEW_AND_OLD_IMAGES';
}

/** The settings the definition is made from (without `changeCapture`, a table without a stream). */
export type ItemsTableSettings = Pick<
  DdbFaissConfig,
  'groupAttribute' | 'idAttribute' | 'pendingAttribute' | 'pendingIndexName'
> & { readonly changeCapture?: DdbFaissConfig['changeCapture'] };

/** The items table for these settings. */
export function itemsTableDefinition(config: ItemsTableSettings): ItemsTableDefinition {
  const id: KeyAttribute = { name: config.idAttribute, type: 'S' };
  return {
    keys: { partition: { name: config.groupAttribute, type: 'S' }, sort: id },
    pendingIndex: { name: config.pendingIndexName, partition: { name: config.pendingAttribute, type: 'N' }, sort: id },
    ...(config.changeCapture === 'stream' ? { stream: 'NEW_AND_OLD_IMAGES' as const } : {}),
  };
}

function keySchema(keys: KeyPair): KeySchemaElement[] {
  return [
    { AttributeName: keys.partition.name, KeyType: 'HASH' },
    { AttributeName: keys.sort.name, KeyType: 'RANGE' },
  ];
}

/** The pending index as `CreateTable` and `UpdateTable` take it (without capacity: on demand). */
export function pendingIndexInput(table: ItemsTableDefinition): GlobalSecondaryIndex {
  return {
    IndexName: table.pendingIndex.name,
    KeySchema: keySchema(table.pendingIndex),
    Projection: { ProjectionType: 'KEYS_ONLY' },
  };
}

/** The attribute definitions of a set of keys, each attribute once. */
export function attributeDefinitions(...pairs: KeyPair[]): { AttributeName: string; AttributeType: 'S' | 'N' }[] {
  const byName = new Map<string, 'S' | 'N'>();
  for (const pair of pairs) for (const key of [pair.partition, pair.sort]) byName.set(key.name, key.type);
  return [...byName].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

/** The whole table as `CreateTable` takes it: on demand, with its pending index and (stream mode) stream. */
export function createTableInput(tableName: string, table: ItemsTableDefinition): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    ...(table.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream } } : {}),
    AttributeDefinitions: attributeDefinitions(table.keys, table.pendingIndex),
    KeySchema: keySchema(table.keys),
    GlobalSecondaryIndexes: [pendingIndexInput(table)],
  };
}
