/**
 * `ddb-faiss import <file.jsonl>`: bulk-loads items marked pending. Each line is a JSON
 * object; the id, group and text fields are mappable by flags, and every other field is copied
 * onto the item as an attribute (scalar ones can then filter searches). Every line is judged on its
 * own: a bad line, or an item DynamoDB refuses (over 400 KB, a key too long, ...), is reported
 * by line number and skipped; every other line lands. Any bad line makes the exit code 1.
 */
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { itemSizeBytes, MAX_ITEM_BYTES } from '../../aws/item-size.ts';
import { existsSync, statSync } from 'node:fs';
import { isTransient } from '../../aws/errors.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { marshall } from '@aws-sdk/util-dynamodb';
import { newVersionToken, ownAttributes } from '../../table/items.ts';
import { RESERVED_GROUP } from '../../table/reserved-items.ts';
import { type Command, JSON_OPTION, println, UsageError } from './command.ts';
import { readJsonLines } from './jsonl.ts';
import { progressOutput } from './progress.ts';

const WRITE_BATCH = 25;
const CONCURRENT_WRITES = 8;
/** Tries of a batch that fails as a whole (each already the SDK's attempts), and the first wait between them. */
const BATCH_ATTEMPTS = 5;
const BATCH_RETRY_MS = 1_000;

export const importCommand: Command = {
  name: 'import',
  summary: 'bulk-load items from a JSON-lines file, marked pending',
  arguments: '<file.jsonl>',
  options: {
    'id-field': { type: 'string', default: 'id', value: 'NAME', description: "the field holding each item's id" },
    'group-field': {
      type: 'string',
      default: 'group',
      value: 'NAME',
      description: "the field holding each item's content group",
    },
    'text-field': {
      type: 'string',
      default: 'content',
      value: 'NAME',
      description: 'the field holding the text to index',
    },
    'default-group': {
      type: 'string',
      default: 'default',
      value: 'G',
      description: 'the group of a line without a group field',
    },
    json: JSON_OPTION,
  },
  examples: [
    {
      run: 'ddb-faiss import items.jsonl',
      says: 'one JSON object per line: {"id": "a1", "group": "news", "content": "the text", "year": 2021}',
    },
    {
      run: 'ddb-faiss import products.jsonl --id-field sku --group-field category --text-field description',
      says: 'lines whose fields have other names',
    },
  ],
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
        const [scale, unit] = totalBytes >= 10e6 ? [1e6, 'MB read'] : [1e3, 'KB read'];
        output.live(`${text} `, Math.round(readBytes / scale), Math.round(totalBytes / scale), unit);
      } else if (imported % 5000 === 0) {
        println(io.stdout, text);
      }
    };

    // A batch is written, and its writes refused by DynamoDB reported, before it settles; one that
    // fails as a whole (throttled past the SDK's attempts) is written again, and its lines are
    // reported only when every attempt failed. An import never stops for it.
    const shapes = new LineShapes();
    const write = async (requests: WriteRequest[], lines: number[]): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await batchWriteItems(clients.dynamodb, config.tableName, requests);
          for (const failure of result.failed)
            errors.push({ line: lines[failure.index]!, reason: `DynamoDB refused the item: ${failure.error}` });
          imported += result.written;
          progress();
          return;
        } catch (error) {
          if (!isTransient(error)) throw error;
          if (attempt === BATCH_ATTEMPTS) {
            const reason =
              `DynamoDB did not take the write after ${BATCH_ATTEMPTS} tries (${(error as Error).name}: ` +
              `${(error as Error).message}); import the line again`;
            for (const line of lines) errors.push({ line, reason });
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, BATCH_RETRY_MS * 2 ** (attempt - 1)));
        }
      }
    };

    // The last line of an id wins, as the file orders them: a line waits for any earlier line of
    // its key still being written (its batch in flight, retries included) before it is batched.
    const inFlight = new Set<Promise<void>>();
    const writingKeys = new Map<string, Promise<void>>();
    let batch: WriteRequest[] = [];
    let batchLines: number[] = [];
    let batchKeys: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const keys = batchKeys;
      const pending: Promise<void> = write(batch, batchLines).finally(() => {
        inFlight.delete(pending);
        for (const key of keys) if (writingKeys.get(key) === pending) writingKeys.delete(key);
      });
      inFlight.add(pending);
      for (const key of keys) writingKeys.set(key, pending);
      batch = [];
      batchLines = [];
      batchKeys = [];
      if (inFlight.size >= CONCURRENT_WRITES) await Promise.race(inFlight);
    };

    try {
      for await (const line of readJsonLines(file)) {
        readBytes = line.bytesRead;
        if (line.text === undefined) {
          errors.push({ line: line.number, reason: line.problem ?? 'unreadable' });
          continue;
        }
        if (line.text.trim() === '') continue;
        const item = parseLine(line.text, fields);
        shapes.add(item);
        if ('reason' in item) {
          errors.push({ line: line.number, reason: item.reason });
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
            line: line.number,
            reason: `item is ${(size / 1024).toFixed(1)} KB; DynamoDB's item limit is ${MAX_ITEM_BYTES / 1024} KB`,
          });
          continue;
        }
        const key = `${item.group}\u0000${item.id}`;
        if (batchKeys.includes(key)) await flush(); // one request may not hold a key twice
        const earlier = writingKeys.get(key);
        if (earlier) await earlier;
        batchKeys.push(key);
        batch.push({ PutRequest: { Item: attributes } });
        batchLines.push(line.number);
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
      // When every line misses a field the same way, the field is named otherwise: say which flag
      // names it, with the fields every line has, rather than fifty lines of the same reason.
      const hints = shapes.hints(fields);
      const shown = hints.length > 0 ? 3 : 50;
      for (const error of errors.slice(0, shown)) println(io.stderr, `line ${error.line}: ${error.reason}`);
      if (errors.length > shown) println(io.stderr, `... and ${errors.length - shown} more bad lines`);
      for (const hint of hints) println(io.stderr, hint);
    }
    return errors.length > 0 ? 1 : 0;
  },
};

/** What the lines' objects have in common: the fields every one has, and the key fields every one lacks. */
class LineShapes {
  private objects = 0;
  private common: Set<string> | undefined;
  /** Every field any line has. */
  private readonly seen = new Set<string>();

  add(line: LineItem | LineProblem): void {
    if (line.fields === undefined) return; // not an object
    this.objects += 1;
    this.common = this.common ? new Set(line.fields.filter((field) => this.common!.has(field))) : new Set(line.fields);
    for (const field of line.fields) this.seen.add(field);
  }

  /** A hint for each key field that every line lacks, when every line has some other fields. */
  hints(fields: LineFields): string[] {
    const common = [...(this.common ?? [])];
    if (this.objects === 0 || common.length === 0) return [];
    const flags: [string, string][] = [
      [fields.id, 'id-field'],
      [fields.text, 'text-field'],
    ];
    return flags
      .filter(([field]) => !this.seen.has(field))
      .map(
        ([field, flag]) =>
          `hint: no line has "${field}"; every line has ${common.map((name) => `"${name}"`).join(', ')}: ` +
          `name the field with --${flag} (e.g. --${flag} ${common[0]})` +
          (flag === 'id-field' ? ', and the group with --group-field' : ''),
      );
  }
}

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
  /** The line's fields. */
  readonly fields: readonly string[];
}

/** Why a line is refused, and, for an object, its fields. */
interface LineProblem {
  readonly reason: string;
  readonly fields?: readonly string[];
}

/** The text a key field would be stored as: a string as it is, a JSON number in its shortest form. */
const keyText = (value: string | number): string => String(value);

/** A number in a key field whose text would change when stored. */
interface AlteredKey {
  /** As the line writes it (when the runtime tells: Node 22 does). */
  readonly written?: string;
  readonly stored: string;
  /** Whether digits are lost (an integer past 2^53). */
  readonly lost: boolean;
}

/**
 * Parses a line, catching numbers in the key fields whose text is not their shortest form
 * (`12345678901234567890` past 2^53, `1.50`, `1e3`): such a key would be stored as another text
 * than the line shows, and two lines could become one item.
 */
function parseWithKeySources(
  line: string,
  keyFields: readonly string[],
): { value: unknown; altered: Map<string, AlteredKey> } {
  const holders = new WeakMap<object, Map<string, AlteredKey>>();
  const value: unknown = JSON.parse(
    line,
    function (this: object, key: string, field: unknown, context?: { source?: string }) {
      if (typeof field !== 'number' || !keyFields.includes(key)) return field;
      const stored = String(field);
      const lost = Number.isInteger(field) && !Number.isSafeInteger(field);
      // Node 22 gives each number's source text; without it, only lost digits can be told.
      if (context?.source !== undefined ? context.source !== stored : lost) {
        let fields = holders.get(this);
        if (!fields) holders.set(this, (fields = new Map()));
        fields.set(key, { ...(context?.source !== undefined ? { written: context.source } : {}), stored, lost });
      }
      return field;
    },
  );
  const altered = typeof value === 'object' && value !== null ? holders.get(value) : undefined;
  return { value, altered: altered ?? new Map() };
}

function parseLine(line: string, fields: LineFields): LineItem | LineProblem {
  let parsed: ReturnType<typeof parseWithKeySources>;
  try {
    parsed = parseWithKeySources(line, [fields.id, fields.group]);
  } catch (error) {
    return { reason: `not valid JSON (${(error as Error).message})` };
  }
  const { value, altered } = parsed;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const own = (name: string): unknown => (Object.hasOwn(record, name) ? record[name] : undefined);
  const id = own(fields.id);
  const rawGroup = own(fields.group);
  const text = own(fields.text);
  const rest = Object.fromEntries(
    Object.entries(record).filter(([name]) => name !== fields.id && name !== fields.group && name !== fields.text),
  );
  if (id === undefined) return { reason: `missing "${fields.id}" (a string or number)`, fields: keys };
  if (typeof id !== 'string' && typeof id !== 'number')
    return { reason: `"${fields.id}" must be a string or number, got ${describe(id)}`, fields: keys };
  for (const [field, { written, stored, lost }] of altered)
    return {
      fields: keys,
      reason:
        `"${field}" is the number ${written ?? 'given'}, which would be stored as "${stored}"` +
        `${lost ? ' (past 2^53, digits are lost)' : ''}; quote it to keep it as written`,
    };
  const group = rawGroup ?? fields.defaultGroup;
  if (typeof group !== 'string' && typeof group !== 'number')
    return { reason: `"${fields.group}" must be a string or number, got ${describe(group)}`, fields: keys };
  if (keyText(group) === RESERVED_GROUP)
    return { reason: `group "${RESERVED_GROUP}" is reserved for ddb-faiss`, fields: keys };
  if (text === undefined) return { reason: `missing "${fields.text}" (a string)`, fields: keys };
  if (typeof text !== 'string')
    return { reason: `"${fields.text}" must be a string, got ${describe(text)}`, fields: keys };
  if (keyText(id) === '' || keyText(group) === '') return { reason: 'id and group must not be empty', fields: keys };
  const reserved = Object.keys(rest).filter((name) => fields.reserved.includes(name));
  if (reserved.length > 0)
    return {
      reason: `field "${reserved[0]}" is the name of an attribute ddb-faiss keeps itself; rename it`,
      fields: keys,
    };
  // Every other field becomes an attribute of the item, as DynamoDB types it (null: NULL, list: L, object: M).
  const others = marshall(rest, { removeUndefinedValues: true });
  return { id: keyText(id), group: keyText(group), text, others, fields: keys };
}

/** A JSON value's kind and a glimpse of it, for a message. */
function describe(value: unknown): string {
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'a list'
        : typeof value === 'object'
          ? 'an object'
          : `a ${typeof value}`;
  const shown = JSON.stringify(value) ?? String(value);
  return `${kind} (${shown.length > 40 ? `${shown.slice(0, 40)}...` : shown})`;
}
