/** Attribute filters: the request's form, the CLI's, the columns kept with the index, exact filtered search. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUnitVectors } from '../../bench/random.ts';
import {
  AttributeColumns,
  type AttributeFilter,
  encodeAttributeColumns,
  type ItemScalars,
} from '../../index-store/attribute-columns.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { onePassage, writeSegments } from '../../index-store/index-writer.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { tempDir } from '../helpers/scratch.ts';
import { filterFromExpressions, filterProblems, matchesItem, parseFilter } from '../../search/filter.ts';
import { loadConfig } from '../../config/config.ts';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { filterableAttributes } from '../../table/items.ts';

const MODEL = { name: 'test', checksum: 'c'.repeat(64), dimensions: 16 };
const d = MODEL.dimensions;

/** The problems of a filter that does not parse. */
function refusal(raw: unknown): string {
  const parsed = parseFilter(raw);
  assert.ok('problems' in parsed, 'the filter was accepted');
  return parsed.problems.join('\n');
}

describe('a search filter', () => {
  it('reads values as equality, and eq, in and ranges as conditions', () => {
    // Act
    const parsed = parseFilter({ author: 'ann', year: { gte: 2020, lt: 2024 }, lang: { in: ['en', 'de'] }, ok: true });
    // Assess
    assert.deepEqual(parsed, {
      filter: {
        author: { in: ['ann'] },
        year: { gte: 2020, lt: 2024 },
        lang: { in: ['en', 'de'] },
        ok: { in: [true] },
      },
    });
  });

  it('names every problem by where it is: bad operators, wrong types, empty lists, bad names', () => {
    // Act
    const message = refusal({
      year: { ge: 2020 },
      month: { gte: 'may' },
      lang: { in: [] },
      tags: ['a'],
      'bad name': 1,
      size: {},
    });
    // Assess
    assert.match(message, /filter\.year\.ge: unknown operator; use eq, in, gt, gte, lt, lte/);
    assert.match(message, /filter\.month\.gte: must be a number \(ranges compare numbers\), got "may"/);
    assert.match(message, /filter\.lang\.in: must list at least one value/);
    assert.match(message, /filter\.tags: must be a string, a number or true\/false, got \["a"\]/);
    assert.match(message, /filter\.bad name: not an attribute name/);
    assert.match(message, /filter\.size: needs a condition/);
    assert.match(refusal('year=2020'), /filter must be an object of attribute conditions/);
  });

  it('is checked against what the index keeps: unknown attributes, values of a kind never held, the allowed list', () => {
    // Prepare
    const kinds = new Map([
      ['author', { strings: true, numbers: false, booleans: false }],
      ['year', { strings: false, numbers: true, booleans: false }],
    ]);
    const parsed = parseFilter({ author: { gte: 3 }, year: 'x', colour: 'red' });
    assert.ok('filter' in parsed);
    // Act
    const problems = filterProblems(parsed.filter, { kinds, allowed: '*' });
    const narrowed = filterProblems(parsed.filter, { kinds, allowed: ['year'] });
    // Assess
    assert.deepEqual(problems, [
      'filter.author: ranges compare numbers, and author holds strings',
      'filter.year: year holds numbers, not strings like "x"',
      'filter.colour: no indexed item has this attribute (attributes kept with the index: author, year)',
    ]);
    assert.match(narrowed[0]!, /filter\.author: not a filterable attribute; the setting filterAttributes allows year/);
  });

  it('checks an item read back from the table the same way', () => {
    // Prepare
    const parsed = parseFilter({ author: 'ann', year: { gte: 2020 } });
    assert.ok('filter' in parsed);
    // Act + Assess
    assert.equal(matchesItem(parsed.filter, { author: { S: 'ann' }, year: { N: '2021' } }), true);
    assert.equal(matchesItem(parsed.filter, { author: { S: 'ann' }, year: { N: '2019' } }), false);
    assert.equal(matchesItem(parsed.filter, { author: { S: 'ann' }, year: { S: '2021' } }), false);
    assert.equal(matchesItem(parsed.filter, { author: { S: 'ann' } }), false, 'an absent attribute meets nothing');
  });

  it("reads the CLI's form: name=value, ranges, and one name given twice as either value", () => {
    // Act
    const parsed = filterFromExpressions([
      'author=ann',
      'year>=2020',
      'year<2024',
      'lang=en',
      'lang=de',
      'zip="02134"',
    ]);
    // Assess
    assert.deepEqual(parsed, {
      filter: { author: 'ann', year: { gte: 2020, lt: 2024 }, lang: { in: ['en', 'de'] }, zip: '02134' },
    });
    assert.deepEqual(filterFromExpressions(['year>soon', 'author']), {
      problems: [
        '--filter "year>soon": > compares numbers',
        '--filter "author": expected name=value or name>=number (also >, <=, <)',
      ],
    });
  });

  it('comes from the filterAttributes setting: * or a list of names', () => {
    // Act + Assess
    assert.equal(loadConfig({ env: {}, cwd: '/nonexistent-dir' }).filterAttributes, '*');
    const listed = loadConfig({ env: { DDB_FAISS_FILTER_ATTRIBUTES: 'author, year' }, cwd: '/nonexistent-dir' });
    assert.deepEqual(listed.filterAttributes, ['author', 'year']);
    assert.throws(
      () => loadConfig({ env: { DDB_FAISS_FILTER_ATTRIBUTES: 'author,bad name' }, cwd: '/nonexistent-dir' }),
      /filterAttributes \(env DDB_FAISS_FILTER_ATTRIBUTES\): must be \* or attribute names \(letters, digits, _ \. -\): "bad name" is not/,
    );
  });
});

describe('attribute columns', () => {
  it('keep each item its values, and a filter is one mask over the items', () => {
    // Prepare
    const items: (ItemScalars | undefined)[] = [
      { author: 'ann', year: 2021, lang: 'en', draft: false },
      { author: 'bob', year: 2019, lang: 'de' },
      undefined,
      { author: 'ann', year: '2022', lang: 'fr', draft: true },
      { author: 'cy', year: 2023.5 },
    ];
    // Act
    const columns = AttributeColumns.decode(encodeAttributeColumns(items));
    const mask = (filter: AttributeFilter): number[] => [...columns.match(filter)];
    // Assess
    assert.deepEqual(
      items.map((_, i) => columns.valuesOf(i)),
      items,
    );
    assert.deepEqual(columns.names, ['author', 'draft', 'lang', 'year']);
    assert.deepEqual(columns.kinds('year'), { strings: true, numbers: true, booleans: false });
    assert.deepEqual(mask({ author: { in: ['ann'] } }), [1, 0, 0, 1, 0]);
    assert.deepEqual(mask({ year: { gte: 2020 } }), [1, 0, 0, 0, 1], 'a range never admits a string');
    assert.deepEqual(mask({ year: { in: [2019, '2022'] } }), [0, 1, 0, 1, 0]);
    assert.deepEqual(mask({ lang: { in: ['en', 'de'] }, year: { lt: 2020 } }), [0, 1, 0, 0, 0]);
    assert.deepEqual(mask({ draft: { in: [false] } }), [1, 0, 0, 0, 0]);
    assert.deepEqual(mask({ colour: { in: ['red'] } }), [0, 0, 0, 0, 0]);
    assert.deepEqual(mask({ author: { in: ['nobody'] } }), [0, 0, 0, 0, 0]);
  });

  it('keep an attribute named like an inherited property (__proto__, constructor) as the attribute it is', () => {
    // Prepare: an item as DynamoDB returns it may have any attribute name
    const config = loadConfig({ env: {}, flags: {} });
    const item = JSON.parse(
      '{"content_group": {"S": "g"}, "content_id": {"S": "a"}, "__proto__": {"S": "x"}, "constructor": {"N": "3"}}',
    ) as Record<string, AttributeValue>;
    // Act
    const scalars = filterableAttributes(config, '*', item)!;
    const columns = AttributeColumns.decode(encodeAttributeColumns([scalars]));
    // Assess
    assert.deepEqual(Object.keys(scalars).sort(), ['__proto__', 'constructor', 'content_group']);
    assert.equal(Object.getPrototypeOf(scalars), Object.prototype);
    assert.deepEqual(Object.entries(columns.valuesOf(0)!).sort(), [
      ['__proto__', 'x'],
      ['constructor', 3],
      ['content_group', 'g'],
    ]);
    const filter = parseFilter(JSON.parse('{"__proto__": "y"}'));
    assert.ok('filter' in filter);
    assert.deepEqual(Object.keys(filter.filter), ['__proto__'], 'a key of the filter, not its prototype');
    assert.deepEqual([...columns.match(filter.filter)], [0]);
  });
});

describe('filtered search over segments', () => {
  it('gives the exact k nearest of the items that meet the filter, selective or not, with groups and dead rows', async () => {
    // Prepare: 3,000 items; `tag` admits 1 in 300, `band` 1 in 3
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const vectors = randomUnitVectors(3_000, d, 31);
      const all = Array.from({ length: 3_000 }, (_, i) => ({
        ...onePassage({ group: `g${i % 4}`, id: `i${i}`, version: 1 }, vectors.subarray(i * d, (i + 1) * d)),
        attributes: { band: i % 3, ...(i % 300 === 7 ? { tag: 'rare' } : {}) },
      }));
      const first = await writeSegments(store, all.slice(0, 2_000), d);
      const second = await writeSegments(store, all.slice(2_000), d);
      const meta = store.publish([...first, ...second], MODEL, 'test');
      const index = SegmentedIndex.open(store, meta);
      const queries = randomUnitVectors(10, d, 32);
      const exact = (query: Float32Array, k: number, admit: (i: number) => boolean): string[] =>
        all
          .map((item, i) => ({ i, score: item.vectors.reduce((sum, x, j) => sum + x * query[j]!, 0) }))
          .filter(({ i }) => admit(i))
          .sort((a, b) => b.score - a.score)
          .slice(0, k)
          .map(({ i }) => `i${i}`);
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        // Act
        const rare = index.select({ filter: { tag: { in: ['rare'] } } });
        const band = index.select({ groups: ['g1'], filter: { band: { in: [2] } } });
        // Assess
        assert.equal(rare.items, 10);
        assert.deepEqual(
          index.search(query, 20, rare).map((hit) => hit.entry.id),
          exact(query, 20, (i) => i % 300 === 7),
          'k hits when fewer match: all of them',
        );
        assert.deepEqual(
          index.search(query, 10, band).map((hit) => hit.entry.id),
          exact(query, 10, (i) => i % 4 === 1 && i % 3 === 2),
        );
      }
    } finally {
      dir.remove();
    }
  });
});
