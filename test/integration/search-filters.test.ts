import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newVersionToken } from '../../table/items.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

const AUTHORS = ['ann', 'bob', 'cy', 'dee'];
const LANGS = ['en', 'de', 'fr'];
const TOPICS = ['cooking pasta at home', 'training a young dog', 'repairing an old bike', 'planting tomatoes'];

/** Item i of the import file: its attributes follow from i, so a test can count what a filter admits. */
const line = (i: number) => ({
  id: `doc-${i}`,
  group: `g${i % 2}`,
  content: `note ${i} about ${TOPICS[i % TOPICS.length]}`,
  author: AUTHORS[i % AUTHORS.length],
  year: 2000 + (i % 25),
  lang: LANGS[i % LANGS.length],
  reviewed: i % 5 === 0,
  tags: ['a', `t${i % 3}`],
  meta: { source: 'test' },
  ...(i % 97 === 3 ? { rare: 'yes' } : {}),
});
type Line = ReturnType<typeof line>;
const LINES = Array.from({ length: 600 }, (_, i) => line(i));
const count = (admit: (item: Line) => boolean): number => LINES.filter(admit).length;

interface Hit {
  group: string;
  id: string;
  score: number;
  attributes?: Record<string, unknown>;
}
const byId = (id: string): Line => LINES[Number(id.slice(4))]!;

describe('attribute filters on the real workflow (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  const flags = (): string[] => ['--data-dir', h.config.dataDir];

  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'batch-size': '100' });
    const file = path.join(dir.path, 'items.jsonl');
    writeFileSync(file, LINES.map((item) => JSON.stringify(item)).join('\n'));
    const imported = await runCli(['import', file, '--json', ...flags()]);
    assert.equal(imported.code, 0, imported.stderr);
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it("import copies every other field of a line onto the item, as DynamoDB's types", async () => {
    // Act
    const { Item } = await h.stack.clients.dynamodb.send(
      new GetItemCommand({
        TableName: h.config.tableName,
        Key: { [h.config.groupAttribute]: { S: 'g1' }, [h.config.idAttribute]: { S: 'doc-3' } },
      }),
    );
    // Assess
    assert.deepEqual(Item?.['author'], { S: 'dee' });
    assert.deepEqual(Item?.['year'], { N: '2003' });
    assert.deepEqual(Item?.['reviewed'], { BOOL: false });
    assert.deepEqual(Item?.['tags'], { L: [{ S: 'a' }, { S: 't0' }] });
    assert.deepEqual(Item?.['meta'], { M: { source: { S: 'test' } } });
    assert.deepEqual(Item?.['rare'], { S: 'yes' });
  });

  it('gives k hits that all meet the filter when at least k items do, and all of them when fewer do', async () => {
    // Prepare
    const filter = { author: 'ann', year: { gte: 2010 }, lang: { in: ['en', 'de'] } };
    const admitted = (item: Line) => item.author === 'ann' && item.year >= 2010 && item.lang !== 'fr';
    // Act
    const wide = await h.search({ q: 'cooking pasta', k: 20, filter, attributes: ['author', 'year', 'lang'] });
    const rare = await h.search({ q: 'cooking pasta', k: 20, filter: { rare: 'yes' } });
    const grouped = await h.search({ q: 'a dog', k: 50, group: 'g1', filter: { reviewed: true } });
    const groups = await h.search({ q: 'a dog', k: 50, filter: { content_group: { in: ['g0', 'g1'] }, year: 2001 } });
    // Assess
    assert.equal(wide.status, 200, wide.text);
    assert.ok(count(admitted) >= 20);
    assert.equal(wide.body.hits.length, 20);
    for (const hit of wide.body.hits as Hit[]) {
      assert.ok(admitted(byId(hit.id)), `${hit.id} meets the filter`);
      assert.deepEqual(hit.attributes, { author: 'ann', year: byId(hit.id).year, lang: byId(hit.id).lang });
    }
    assert.equal(
      rare.body.hits.length,
      count((item) => 'rare' in item),
      'every rare item, no other',
    );
    assert.ok((rare.body.hits as Hit[]).every((hit) => 'rare' in byId(hit.id)));
    assert.equal(grouped.body.hits.length, 50);
    assert.ok(count((item) => item.group === 'g1' && item.reviewed) > 50);
    assert.ok((grouped.body.hits as Hit[]).every((hit) => hit.group === 'g1' && byId(hit.id).reviewed));
    assert.equal(
      groups.body.hits.length,
      count((item) => item.year === 2001),
      'the group is a filterable attribute too',
    );
    const scores = (wide.body.hits as Hit[]).map((hit) => hit.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
      'best first',
    );
  });

  it('takes the filter as JSON in a GET, and as --filter in the CLI (whose --json keeps the hits list)', async () => {
    // Act
    const get = await h.search(
      `q=${encodeURIComponent('planting tomatoes')}&k=5&filter=${encodeURIComponent('{"year":{"lt":2003}}')}`,
    );
    const cli = await runCli([
      'search',
      'planting tomatoes',
      '-k',
      '7',
      '--filter',
      'author=bob',
      '--filter',
      'year>=2020',
      '--filter',
      'lang=en',
      '--filter',
      'lang=fr',
      '--json',
      ...flags(),
    ]);
    const text = await runCli(['search', 'planting tomatoes', '--filter', 'author=cy', ...flags()]);
    // Assess
    assert.equal(get.status, 200, get.text);
    assert.equal(get.body.hits.length, 5);
    assert.ok((get.body.hits as Hit[]).every((hit) => byId(hit.id).year < 2003));
    assert.equal(cli.code, 0, cli.stderr);
    const hits = JSON.parse(cli.stdout).hits as Hit[];
    assert.equal(hits.length, 7);
    for (const hit of hits) {
      const item = byId(hit.id);
      assert.ok(item.author === 'bob' && item.year >= 2020 && item.lang !== 'de', hit.id);
    }
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^10 hits/);
  });

  it('answers a filter the index cannot apply with a 400 that names the problem', async () => {
    // Act
    const unknown = await h.search({ q: 'dog', filter: { colour: 'red' } });
    const operator = await h.search({ q: 'dog', filter: { year: { ge: 2020 } } });
    const kind = await h.search({ q: 'dog', filter: { year: 'recent', author: { gt: 3 } } });
    const nested = await h.search({ q: 'dog', filter: { tags: 'a' } });
    const cli = await runCli(['search', 'dog', '--filter', 'year>later', ...flags()]);
    // Assess
    assert.equal(unknown.status, 400);
    assert.match(
      unknown.body.message,
      /filter\.colour: no indexed item has this attribute \(attributes kept with the index: author, content_group, lang, rare, reviewed, year\)/,
    );
    assert.equal(operator.status, 400);
    assert.match(operator.body.message, /filter\.year\.ge: unknown operator; use eq, in, gt, gte, lt, lte/);
    assert.equal(kind.status, 400);
    assert.match(kind.body.message, /filter\.year: year holds numbers, not strings like "recent"/);
    assert.match(kind.body.message, /filter\.author: ranges compare numbers, and author holds strings/);
    assert.equal(nested.status, 400, 'lists and maps are not kept for filtering');
    assert.match(nested.body.message, /filter\.tags: no indexed item has this attribute/);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /--filter "year>later": > compares numbers/);
  });

  it('never returns an item whose attributes changed so that it no longer meets the filter, and finds it once reindexed', async () => {
    // Prepare: doc-8 is ann's; it becomes bob's, first without a fresh pending token
    const setAuthor = (author: string, pending: boolean) =>
      h.stack.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: h.config.tableName,
          Key: { [h.config.groupAttribute]: { S: 'g0' }, [h.config.idAttribute]: { S: 'doc-8' } },
          UpdateExpression: pending ? 'SET author = :a, #p = :p' : 'SET author = :a',
          ExpressionAttributeValues: {
            ':a': { S: author },
            ...(pending ? { ':p': { N: String(newVersionToken()) } } : {}),
          },
          ...(pending ? { ExpressionAttributeNames: { '#p': h.config.pendingAttribute } } : {}),
        }),
      );
    // Six items are ann's from 2008: doc-8, doc-108, ..., doc-508
    const ids = async (author: string): Promise<string[]> =>
      ((await h.search({ q: 'cooking pasta', k: 10, filter: { author, year: 2008 } })).body.hits as Hit[]).map(
        (hit) => hit.id,
      );
    assert.ok((await ids('ann')).includes('doc-8'));
    // Act
    await setAuthor('bob', false);
    const stale = { ann: await ids('ann'), bob: await ids('bob') };
    await setAuthor('bob', true);
    const run = await h.run();
    const reindexed = { ann: await ids('ann'), bob: await ids('bob') };
    // Assess
    assert.equal(stale.ann.includes('doc-8'), false, 'read back, it is no longer ann');
    assert.equal(stale.ann.length, 5, 'the other five');
    assert.equal(stale.bob.length, 6);
    assert.equal(stale.bob.includes('doc-8'), false, 'the index still says ann until it is reindexed');
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(reindexed.ann.includes('doc-8'), false);
    assert.equal(reindexed.bob.length, 7, "bob's six from 2008, and doc-8");
    assert.ok(reindexed.bob.includes('doc-8'));
  });

  it('keeps the attributes through compaction', async () => {
    // Prepare: enough runs of small changes for the compaction policy to fold the segments
    for (let round = 0; round < 5; round++) {
      await h.edit(`doc-${100 + round * 4}`, `note ${100 + round * 4} about ${TOPICS[0]} again`, 'g0');
      const run = await h.run();
      assert.equal(run.status, 'SUCCEEDED', run.cause);
    }
    // Act
    const result = await h.search({ q: 'cooking pasta', k: 30, filter: { author: 'ann', year: { lt: 2005 } } });
    // Assess
    const { segments } = JSON.parse((await runCli(['status', '--json', ...flags()])).stdout).index as {
      segments: number;
    };
    assert.ok(segments < 6, `${segments} segments: compaction folded them`);
    assert.equal(
      result.body.hits.length,
      count((item) => item.author === 'ann' && item.year < 2005),
    );
  });
});

describe('filterAttributes narrows what is kept', () => {
  it('refuses a filter on an attribute it does not list, and applies one it does', async () => {
    // Prepare
    const dir = tempDir();
    const h = await IndexerHarness.start(dir.path, { 'filter-attributes': 'author' });
    try {
      await h.put([{ id: 'a', text: 'a recipe for pasta' }]);
      await h.stack.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: h.config.tableName,
          Key: { [h.config.groupAttribute]: { S: 'g' }, [h.config.idAttribute]: { S: 'a' } },
          UpdateExpression: 'SET author = :a, #y = :y',
          ExpressionAttributeNames: { '#y': 'year' },
          ExpressionAttributeValues: { ':a': { S: 'ann' }, ':y': { N: '2024' } },
        }),
      );
      await h.run();
      // Act
      const year = await h.search({ q: 'pasta', filter: { year: 2024 } });
      const author = await h.search({ q: 'pasta', filter: { author: 'ann' } });
      // Assess
      assert.equal(year.status, 400);
      assert.match(
        year.body.message,
        /filter\.year: not a filterable attribute; the setting filterAttributes allows author/,
      );
      assert.deepEqual(
        (author.body.hits as Hit[]).map((hit) => hit.id),
        ['a'],
      );
    } finally {
      await h.close();
      dir.remove();
    }
  });
});
