/** The lexical index: analysis, the segment file, BM25 over segments with dead rows and filters, rank fusion. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUnitVectors } from '../../bench/random.ts';
import { foldSegments } from '../../index-store/compaction.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { applyChange, HeldItems, type ItemVectors, writeSegments } from '../../index-store/index-writer.ts';
import { LexicalBuilder, LexicalIndex } from '../../index-store/lexical-index.ts';
import { lexicalTerms, termCounts } from '../../index-store/lexical-terms.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { tempDir } from '../helpers/scratch.ts';
import { fuseRanks } from '../../search/query.ts';

const MODEL = { name: 'test', checksum: 'c'.repeat(64), dimensions: 16 };
const d = MODEL.dimensions;

describe('lexical analysis', () => {
  it('keeps words as lower-case Porter stems, without stop words, lone letters or blobs', () => {
    // Act + Assess
    assert.deepEqual(lexicalTerms("The dogs were RUNNING to the dog's bowl, 3 times."), [
      'dog',
      'were',
      'run',
      'dog',
      'bowl',
      '3',
      'time',
    ]);
    assert.deepEqual(lexicalTerms('Zürich ｆｕｌｌｗｉｄｔｈ 日本語 XJ-9000'), [
      'zürich',
      'fullwidth',
      '日本語',
      'xj',
      '9000',
    ]);
    assert.deepEqual(lexicalTerms(`id ${'q'.repeat(65)} end`), ['id', 'end']);
    assert.deepEqual(termCounts('a cat and a cat').terms, new Map([['cat', 2]]));
  });
});

describe('a segment lexical index', () => {
  it('finds each term by binary search over its bytes and gives its postings, lengths and each row its terms', () => {
    // Prepare: terms whose UTF-16 and UTF-8 orders differ ('\uff41' sorts before '\u{1F600}' in UTF-8 only)
    const rows = ['apple pie', 'zürich apple', '', 'ｇame \u{1F600}x apple apple', 'pie'];
    const builder = new LexicalBuilder();
    for (const text of rows) builder.addRow(text === '' ? undefined : termCounts(text));
    // Act
    const index = LexicalIndex.decode(builder.encode());
    // Assess
    const postings = (term: string) => {
      const found = index.postings(index.lookup(term));
      return [...found.rows].map((row, i) => [row, found.counts[i]]);
    };
    assert.deepEqual(postings('appl'), [
      [0, 1],
      [1, 1],
      [3, 2],
    ]);
    assert.deepEqual(postings('pie'), [
      [0, 1],
      [4, 1],
    ]);
    assert.deepEqual(postings('zürich'), [[1, 1]]);
    assert.equal(index.lookup('nothing'), -1);
    assert.deepEqual(postings('nothing'), []);
    for (const term of lexicalTerms(rows.join(' '))) assert.ok(index.lookup(term) >= 0, term);
    assert.equal(index.rowLength(3), 3, 'game apple apple: no emoji, no lone x');
    assert.equal(index.totalLength, 2 + 2 + 0 + 3 + 1);
    assert.deepEqual(index.termsOf(3), termCounts(rows[3]!));
    assert.deepEqual(index.termsOf(2), { terms: new Map(), length: 0 });
  });
});

/** Okapi BM25 (k1 1.2, b 0.75), written out plainly over the live passages: what the index must agree with. */
function bruteBm25(passages: readonly { id: string; text: string }[], query: string, k: number) {
  const docs = passages.map((passage) => ({ ...passage, ...termCounts(passage.text) }));
  const average = docs.reduce((sum, doc) => sum + doc.length, 0) / docs.length;
  const best = new Map<string, number>();
  for (const doc of docs) {
    let score = 0;
    for (const term of new Set(lexicalTerms(query))) {
      const df = docs.filter((other) => other.terms.has(term)).length;
      const tf = doc.terms.get(term) ?? 0;
      if (df === 0 || tf === 0) continue;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * doc.length) / average));
    }
    if (score > 0 && score > (best.get(doc.id) ?? 0)) best.set(doc.id, score);
  }
  return [...best]
    .map(([id, score]) => ({ id, score: Number(score.toFixed(9)) }))
    .sort(byScore)
    .slice(0, k);
}

/** Best first; equal scores by id, so that tied rankings compare. */
const byScore = (a: { id: string; score: number }, b: { id: string; score: number }): number =>
  b.score - a.score || (a.id < b.id ? -1 : 1);

const WORDS = 'river bank money loan water fish boat rate interest stream bridge city'.split(' ');

/** Items of 1 to 3 passages of pseudo-random words, with their texts. */
function wordyItems(count: number, seed: number, version = 1) {
  let state = seed;
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const vectors = randomUnitVectors(count * 3, d, seed);
  return Array.from({ length: count }, (_, i) => {
    const texts = Array.from({ length: 1 + (i % 3) }, () =>
      Array.from({ length: 3 + Math.floor(next() * 8) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '),
    );
    const item: ItemVectors = {
      entry: { group: `g${i % 2}`, id: `doc${i}`, version },
      passages: texts.map((_, p) => [p * 100, p * 100 + 50] as const),
      terms: texts.map((text) => termCounts(text)),
      attributes: { odd: i % 2 === 1 },
      vectors: vectors.subarray(i * 3 * d, (i * 3 + texts.length) * d),
    };
    return { item, texts };
  });
}

describe('BM25 over segments', () => {
  it('ranks items by their best passage exactly as BM25 over the live passages, after updates, deletes and compaction', async () => {
    // Prepare: two segments; then doc3 is rewritten and doc4 and doc7 removed
    const dir = tempDir();
    try {
      const store = new GenerationStore(dir.path);
      const all = wordyItems(60, 41);
      const first = await writeSegments(
        store,
        all.slice(0, 30).map(({ item }) => item),
        d,
      );
      const second = await writeSegments(
        store,
        all.slice(30).map(({ item }) => item),
        d,
      );
      const rewritten = { ...wordyItems(1, 42, 2)[0]!, id: 'doc3' };
      rewritten.item = { ...rewritten.item, entry: { group: 'g1', id: 'doc3', version: 2 } };
      const held = new HeldItems(store, [...first, ...second]);
      const changed = await applyChange(
        store,
        held,
        ['doc3', 'doc4', 'doc7'].map((id) => ({ group: `g${Number(id.slice(3)) % 2}`, id })),
        [rewritten.item],
        d,
      );
      const meta = store.publish(changed, MODEL, 'test');
      const { segments } = await foldSegments(store, meta.segments, meta.segments, d);
      const compacted = store.publish(segments, MODEL, 'test');
      const live = [...all.filter(({ item }) => !['doc3', 'doc4', 'doc7'].includes(item.entry.id)), rewritten].flatMap(
        ({ item, texts }) =>
          texts.map((text) => ({ id: item.entry.id, group: item.entry.group, text, odd: item.attributes!['odd'] })),
      );
      for (const published of [meta, compacted]) {
        const index = SegmentedIndex.open(store, published);
        for (const query of ['river bank', 'money loan interest', 'fish', 'the boat on the stream', 'nothing here']) {
          const terms = [...new Set(lexicalTerms(query))];
          // Act
          const stats = index.lexicalStats(terms);
          const all = index.lexicalSearch(terms, 1_000, stats);
          const top = index.lexicalSearch(terms, 10, stats);
          const odd = index.lexicalSearch(terms, 1_000, stats, index.select({ filter: { odd: { in: [true] } } }));
          // Assess
          const when = `${query}: ${published === meta ? 'after the change' : 'compacted'}`;
          const shown = (found: typeof all) =>
            found.map((hit) => ({ id: hit.entry.id, score: Number(hit.score.toFixed(9)) })).sort(byScore);
          const expected = bruteBm25(live, query, 1_000);
          assert.equal(stats.rows, live.length, 'live passages only');
          assert.deepEqual(shown(all), expected, when);
          assert.deepEqual(
            shown(top).map((hit) => hit.score),
            expected.slice(0, 10).map((hit) => hit.score),
            `${when}: the top 10`,
          );
          const oddIds = new Set(live.filter((passage) => passage.odd).map((passage) => passage.id));
          assert.deepEqual(
            shown(odd),
            expected.filter((hit) => oddIds.has(hit.id)),
            'the filter narrows what is ranked, not the statistics',
          );
          // A tenant's groups are its whole corpus: other groups' words leave its scores as they are.
          const tenant = index.select({ groups: ['g1'] });
          assert.deepEqual(
            shown(index.lexicalSearch(terms, 1_000, index.lexicalStats(terms, tenant), tenant)),
            bruteBm25(
              live.filter((passage) => passage.group === 'g1'),
              query,
              1_000,
            ),
            `${when}: the statistics of a tenant's groups alone`,
          );
        }
      }
    } finally {
      dir.remove();
    }
  });
});

describe('rank fusion', () => {
  it('sums 1 / (60 + rank) over the rankings, keeping the first ranking passage', () => {
    // Prepare
    const hit = (id: string, index: number) => ({
      entry: { group: 'g', id, version: 1 },
      score: 0,
      passage: { index, count: 2, start: 0, end: 1 },
    });
    // Act
    const fused = fuseRanks([
      [hit('a', 0), hit('b', 0), hit('c', 0)],
      [hit('c', 1), hit('a', 1)],
    ]);
    // Assess
    assert.deepEqual(
      fused.map((one) => [one.entry.id, Number(one.score.toFixed(6)), one.passage.index]),
      [
        ['a', Number((1 / 61 + 1 / 62).toFixed(6)), 0],
        ['c', Number((1 / 63 + 1 / 61).toFixed(6)), 0],
        ['b', Number((1 / 62).toFixed(6)), 0],
      ],
    );
  });
});
