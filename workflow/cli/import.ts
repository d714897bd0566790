/**
 * `ddb-faiss import <file.jsonl>`: bulk-loads items marked pending. Each line is a JSON
 * object; the id, group and text fields are mappable by flags, and every other field is copied
 * onto the item as an attribute (scalar ones can then filter searches). Every line is judged on its
 * own: a bad line, or an item DynamoDB refuses (over 400 KB, a key too long, ...), is reported
 * by line number and skipped; every other line lands. Any bad line makes the exit code 1.
 */
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../../aws/item-size.ts';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolveEndpoints } from '../../local-stack/stack-info.ts';
import { marshall } from '@aws-sdk/util-dynamodb';
import { newVersionToken, ownAttributes } from '../../table/items.ts';
import { RESERVED_GROUP } from '../../table/reserved-items.ts';
import { type Command, println, UsageError } from './command.ts';
import { progressOutput } from './progress.ts';

const WRITE_BATCH = 25;
const CONCURRENT_WRITES = 8;

export const importCommand: Command = {
  name: 'import',
  summary: 'bulk-load items from a JSON-lines file, marked pending',
  usage:
    'ddb-faiss import <file.jsonl> [--id-field id] [--group-field group] [--text-field content] ' +
    '[--default-group default] [--json]',
  positionals: true,
  options: {
    'id-field': { type: 'string', default: 'id' },
    'group-field': { type: 'string', default: 'group' },
    'text-field': { type: 'string', default: 'content' },
    'default-group': { type: 'string', default: 'default' },
    json: { type: 'boolean' },
  },
  async run({ config, values, positionals }, io) {
    const { batchWriteItems } = await import('../../aws/dynamodb-batch.ts');
    const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
    const file = positionals[0];
    if (!file) throw new UsageError('import needs a JSON-lines file');
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const fields: LineFields = {
      id: String(values['id-field']),
      group: String(values['group-field']),
      text: String(values['text-field']),
      defaultGroup: String(values['default-group']),
      reserved: ownAttributes(config),
    };
    const clients = createAwsClients(config, await resolveEndpoints(config));
    const errors: { line: number; reason: string }[] = [];
    let imported = 0;
    const started = Date.now();
    const totalBytes = statSync(file).size;
    let readBytes = 0;
    const output = progressOutput(io.stdout);
    const progress = (final = false): void => {
      if (values['json']) return;
      const rate = imported / Math.max(0.001, (Date.now() - started) / 1000);
      const bad = errors.length ? `, ${errors.length} bad lines` : '';
      const text = `imported ${imported} items (${Math.round(rate)}/s)${bad}`;
      if (final) {
        output.done();
        println(io.stdout, text);
      } else if (io.stdout.isTTY) {
        output.live(`${text} `, Math.round((readBytes / Math.max(1, totalBytes)) * 100), 100);
      } else if (imported % 5000 === 0) {
        println(io.stdout, text);
      }
    };

    const write = async (requests: WriteRequest[], lines: number[]): Promise<void> => {
      const result = await batchWriteItems(clients.dynamodb, config.tableName, requests);
      for (const failure of result.failed)
        errors.push({ line: lines[failure.index]!, reason: `DynamoDB refused the item: ${failure.error}` });
      imported += result.written;
      progress();
    };

    const inFlight = new Set<Promise<void>>();
    let batch: WriteRequest[] = [];
    let batchLines: number[] = [];
    let keysInBatch = new Set<string>();
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const pending = write(batch, batchLines).finally(() => inFlight.delete(pending));
      inFlight.add(pending);
      batch = [];
      batchLines = [];
      keysInBatch = new Set();
      if (inFlight.size >= CONCURRENT_WRITES) await Promise.race(inFlight);
    };

    try {
      let lineNumber = 0;
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        lineNumber += 1;
        readBytes += Buffer.byteLength(line) + 1;
        if (line.trim() === '') continue;
        const item = parseLine(line, fields);
        if ('reason' in item) {
          errors.push({ line: lineNumber, reason: item.reason });
          continue;
        }
        const attributes: Record<string, AttributeValue> = {
          ...item.others,
          [config.groupAttribute]: { S: item.group },
          [config.idAttribute]: { S: item.id },
          [config.contentAttribute]: { S: item.text },
          [config.pendingAttribute]: { N: String(newVersionToken()) },
        };
        const size = itemSizeBytes(attributes);
        if (size > MAX_ITEM_BYTES) {
          errors.push({
            line: lineNumber,
            reason: `item is ${(size / 1024).toFixed(1)} KB; DynamoDB's item limit is ${MAX_ITEM_BYTES / 1024} KB`,
          });
          continue;
        }
        const key = `${item.group}\u0000${item.id}`;
        if (keysInBatch.has(key)) await flush(); // one request may not hold a key twice; the later line wins
        keysInBatch.add(key);
        batch.push({ PutRequest: { Item: attributes } });
        batchLines.push(lineNumber);
        if (batch.length === WRITE_BATCH) await flush();
      }
      await flush();
      await Promise.all(inFlight);
    } finally {
      await Promise.allSettled(inFlight); // after a failure, nothing may still be writing when the clients go
      destroyAwsClients(clients);
    }
    errors.sort((a, b) => a.line - b.line);
    if (values['json']) {
      println(io.stdout, JSON.stringify({ imported, skipped: errors.length, errors }));
    } else {
      progress(true);
      for (const error of errors.slice(0, 50)) println(io.stderr, `line ${error.line}: ${error.reason}`);
      if (errors.length > 50) println(io.stderr, `... and ${errors.length - 50} more bad lines`);
    }
    return errors.length > 0 ? 1 : 0;
  },
};

/** How a line's fields map onto an item. */
interface LineFields {
  readonly id: string;
  readonly group: string;
  readonly text: string;
  readonly defaultGroup: string;
  /** The table attributes ddb-faiss gives meaning to: a line may not set them as plain fields. */
  readonly reserved: readonly string[];
}

/** A line's item: its key, its text, and every other field as an attribute. */
interface LineItem {
  readonly id: string;
  readonly group: string;
  readonly text: string;
  readonly others: Record<string, AttributeValue>;
}

function parseLine(line: string, fields: LineFields): LineItem | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { reason: `not valid JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not a JSON object' };
  const { [fields.id]: id, [fields.group]: rawGroup, [fields.text]: text, ...rest } = value as Record<string, unknown>;
  if (typeof id !== 'string' && typeof id !== 'number')
    return { reason: `missing "${fields.id}" (a string or number)` };
  const group = rawGroup ?? fields.defaultGroup;
  if (typeof group !== 'string' && typeof group !== 'number')
    return { reason: `"${fields.group}" must be a string or number` };
  if (String(group) === RESERVED_GROUP) return { reason: `group "${RESERVED_GROUP}" is reserved for ddb-faiss` };
  if (typeof text !== 'string') return { reason: `missing "${fields.text}" (a string)` };
  if (String(id) === '' || String(group) === '') return { reason: 'id and group must not be empty' };
  const reserved = Object.keys(rest).filter((name) => fields.reserved.includes(name));
  if (reserved.length > 0)
    return { reason: `field "${reserved[0]}" is the name of an attribute ddb-faiss keeps itself; rename it` };
  // Every other field becomes an attribute of the item, as DynamoDB types it (null: NULL, list: L, object: M).
  const others = marshall(rest, { removeUndefinedValues: true });
  return { id: String(id), group: String(group), text, others };
}
