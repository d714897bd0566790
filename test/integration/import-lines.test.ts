/**
 * `ddb-faiss import` takes a file as its bytes say: the last line of an id wins whatever batch
 * each line lands in (retries of a refused neighbour included), invalid UTF-8 and numeric keys
 * that would be stored as another text are refused by line number, and a byte order mark is
 * dropped.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../local-stack/stack.ts';
import { startLocalStack } from '../../local-stack/stack.ts';
import { localStackProps } from '../../workflow/local-stack-props.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir, testConfig } from '../helpers/local-stack.ts';

describe('import, line by line', () => {
  const dir = tempDir();
  let stack: LocalStack;
  before(async () => {
    stack = await startLocalStack(localStackProps(testConfig(dir.path)));
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  const content = async (group: string, id: string): Promise<string | undefined> => {
    const { config } = stack;
    const { Item } = await stack.clients.dynamodb.send(
      new GetItemCommand({
        TableName: config.tableName,
        Key: { [config.groupAttribute]: { S: group }, [config.idAttribute]: { S: id } },
        ConsistentRead: true,
      }),
    );
    return Item?.[config.contentAttribute]?.S;
  };
  const importFile = async (name: string, bytes: string | Buffer) => {
    const file = path.join(dir.path, name);
    writeFileSync(file, bytes);
    const run = await runCli(['import', file, '--json', '--data-dir', dir.path]);
    return {
      code: run.code,
      result: JSON.parse(run.stdout) as { imported: number; errors: { line: number; reason: string }[] },
    };
  };

  it('keeps the last line of an id, even when a line refused beside an earlier one makes its batch write again', async () => {
    // Prepare: line 3's id is over the 1,024-byte sort key limit, so its batch of 25 is refused
    // whole and written again line by line; line 5 and line 40 name the same item
    const lines = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({ id: `order-${i + 1}`, group: 'order', content: `line ${i + 1}` }),
    );
    lines[2] = JSON.stringify({ id: 'x'.repeat(1_025), group: 'order', content: 'refused' });
    lines[4] = JSON.stringify({ id: 'same', group: 'order', content: 'the earlier line' });
    lines[39] = JSON.stringify({ id: 'same', group: 'order', content: 'the later line' });
    // Act
    const { code, result } = await importFile('order.jsonl', lines.join('\n'));
    // Assess
    assert.equal(code, 1);
    assert.deepEqual(
      result.errors.map((error) => error.line),
      [3],
    );
    assert.equal(result.imported, 59);
    assert.equal(await content('order', 'same'), 'the later line');
  });

  it('refuses invalid UTF-8 by line number, never storing U+FFFD in its place', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${JSON.stringify({ id: 'utf-1', group: 'utf', content: 'fine' })}\n`),
      Buffer.from('{"id": "utf-2", "group": "utf", "content": "caf'),
      Buffer.from([0xe9]), // Latin-1 é: not UTF-8
      Buffer.from('"}\n'),
      Buffer.from(`${JSON.stringify({ id: 'utf-3', group: 'utf', content: 'café' })}\n`),
    ]);
    const { result } = await importFile('utf.jsonl', bytes);
    assert.deepEqual(result.errors, [{ line: 2, reason: 'not valid UTF-8 (byte 48 of the line, 0xe9)' }]);
    assert.equal(await content('utf', 'utf-2'), undefined);
    assert.equal(await content('utf', 'utf-3'), 'café');
  });

  it('refuses numeric ids stored as another text than the line shows, and says how to keep them', async () => {
    const { result } = await importFile(
      'numbers.jsonl',
      [
        '{"id": 12345678901234567890, "group": "n", "content": "past 2^53"}',
        '{"id": 12345678901234567891, "group": "n", "content": "past 2^53, one more"}',
        '{"id": 1.50, "group": "n", "content": "a trailing zero"}',
        '{"id": 42, "group": "n", "content": "a plain number"}',
        '{"id": "43", "group": 7, "content": "a string id and a numeric group"}',
      ].join('\n'),
    );
    const lost = (digits: string) =>
      `"id" is the number ${digits}, which would be stored as "12345678901234567000" (past 2^53, digits are lost); ` +
      'quote it to keep it as written';
    assert.deepEqual(
      result.errors.map((error) => [error.line, error.reason]),
      [
        [1, lost('12345678901234567890')],
        [2, lost('12345678901234567891')],
        [3, '"id" is the number 1.50, which would be stored as "1.5"; quote it to keep it as written'],
      ],
    );
    assert.equal(await content('n', '42'), 'a plain number', '42 and "42" name the same item');
    assert.equal(await content('7', '43'), 'a string id and a numeric group');
  });

  it('says which flag names the key fields when no line has them, instead of fifty lines of one reason', async () => {
    // Prepare: products whose fields have other names
    const file = path.join(dir.path, 'products.jsonl');
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ sku: `p${i}`, category: 'tools', description: `tool number ${i}`, price: i }),
    );
    writeFileSync(file, lines.join('\n'));
    // Act
    const run = await runCli(['import', file, '--data-dir', dir.path]);
    // Assess
    assert.equal(run.code, 1);
    const said = run.stderr.split('\n').filter(Boolean);
    assert.equal(said.filter((line) => line.startsWith('line ')).length, 3, run.stderr);
    assert.match(run.stderr, /^\.\.\. and 97 more bad lines$/m);
    assert.match(
      run.stderr,
      /^hint: no line has "id"; every line has "sku", "category", "description", "price": name the field with --id-field \(e\.g\. --id-field sku\), and the group with --group-field$/m,
    );
    assert.match(run.stderr, /^hint: no line has "content"; .*--text-field/m);
    const fixed = await runCli([
      'import',
      file,
      '--id-field',
      'sku',
      '--group-field',
      'category',
      '--text-field',
      'description',
      '--data-dir',
      dir.path,
    ]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /imported 100 items/);
  });

  it('drops a byte order mark, and says what a field of the wrong kind is', async () => {
    const { result } = await importFile(
      'bom.jsonl',
      `\ufeff${JSON.stringify({ id: 'bom-1', group: 'bom', content: 'first line' })}\n` +
        '{"id": "bom-2", "group": "bom", "content": 12345}\n',
    );
    assert.deepEqual(result.errors, [{ line: 2, reason: '"content" must be a string, got a number (12345)' }]);
    assert.equal(await content('bom', 'bom-1'), 'first line');
  });
});
