import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GenerationStore } from '../../index-store/generations.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import type { ItemRows } from '../../index-store/index-entry.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

/** About `chars` characters of ordinary sentences about people at work and play: no volcano, no lava. */
const filler = (chars: number, seed = 0): string => {
  const parts: string[] = [];
  let length = 0;
  for (let i = seed; length < chars; i++) {
    const sentence = `${sentences(1, 'x')[0]!.text!.replace(/number 0$/, '')} ${TOPICS[i % TOPICS.length]}. `;
    const paragraph = (i + 1) % 6 === 0 ? '\n\n' : '';
    parts.push(sentence + paragraph);
    length += sentence.length + paragraph.length;
  }
  return parts.join('');
};
const TOPICS = [
  'in the kitchen after a long day at the office',
  'while the children play football in the park',
  'before the train leaves the station in the morning',
  'as the teacher explains the history lesson to the class',
  'near the market where farmers sell fresh vegetables',
  'during the concert in the old theatre downtown',
  'while it rains over the quiet village street',
];
const VOLCANO =
  'The volcano erupted at dawn. Rivers of glowing lava poured down the slopes of the mountain and ash ' +
  'clouds rose above the crater, while the eruption forced the villagers to flee.';

describe('long content on the real workflow (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });
  const current = () => {
    const store = new GenerationStore(h.config.efsRoot);
    const meta = store.meta(store.current()!);
    return { meta, items: SegmentedIndex.open(store, meta).items() };
  };
  const itemById = (id: string): ItemRows | undefined => current().items.find((item) => item.entry.id === id);

  it('finds a 30,000-character item by the topic of its last paragraph only, and says which passage matched', async () => {
    // Prepare: the long item, and short items that compete for the query
    const long = `${filler(30_000)}\n\n${VOLCANO}`;
    await h.put([
      { id: 'long', text: long },
      { id: 'hike', text: 'a family hikes up a green mountain on a sunny afternoon' },
      { id: 'fire', text: 'the campfire burned brightly in the forest at night' },
      ...sentences(30),
    ]);
    // Act
    const run = await h.run();
    const result = await h.search({ q: 'lava flowing from an erupting volcano', k: 3 });
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.ok(long.length >= 30_000);
    assert.equal(result.status, 200, result.text);
    const [top] = result.body.hits;
    assert.equal(top.id, 'long', `top hit: ${top.id}`);
    assert.equal(top.content, long, 'the hit carries the whole content');
    assert.ok(top.passage.count > 10, `${top.passage.count} passages`);
    assert.equal(top.passage.index, top.passage.count - 1, 'the last passage matched');
    assert.equal(top.passage.text, long.slice(top.passage.start, top.passage.end));
    assert.match(top.passage.text, /volcano erupted/);
    assert.equal(result.body.hits.filter((hit: { id: string }) => hit.id === 'long').length, 1, 'one hit per item');
  });

  it('indexes every passage exactly once: a rerun after a crash before clearing adds no passage twice', async () => {
    // Prepare: two long items; the run crashes after publishing, before clearing any flag
    await h.put([
      { id: 'doc-a', text: filler(12_000, 1) },
      { id: 'doc-b', text: filler(8_000, 2) },
    ]);
    h.overrides = () => ({
      clear: async () => {
        throw new Error('injected crash before clearing');
      },
    });
    // Act
    const crashed = await h.run();
    const afterCrash = current();
    h.overrides = () => ({});
    const healed = await h.run();
    // Assess
    assert.equal(crashed.status, 'FAILED');
    assert.equal(healed.status, 'SUCCEEDED', healed.cause);
    const { meta, items } = current();
    assert.equal(meta.vectors, afterCrash.meta.vectors, 'the rerun replaced the passages, it did not add them again');
    assert.equal(
      meta.vectors,
      items.reduce((sum, item) => sum + item.passages.length, 0),
      'every live vector is a passage of a live item',
    );
    assert.equal(new Set(items.map((item) => item.entry.id)).size, items.length, 'each item once');
    for (const id of ['doc-a', 'doc-b']) {
      const passages = itemById(id)!.passages;
      assert.ok(passages.length > 3, `${id}: ${passages.length} passages`);
      assert.ok(
        passages.every(([start, end], i) => start < end && (i === 0 || start >= passages[i - 1]![0])),
        'in order',
      );
    }
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('an update replaces all passages of an item and a delete removes them all', async () => {
    // Prepare
    const before = current().meta.vectors;
    const longPassages = itemById('long')!.passages.length;
    const docA = itemById('doc-a')!.passages.length;
    // Act: the long item becomes one sentence; doc-a is deleted
    await h.edit('long', 'a short note about gardening');
    await h.softDelete('doc-a');
    const run = await h.run();
    const volcano = await h.search({ q: 'lava flowing from an erupting volcano', k: 40 });
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(itemById('long')!.passages, [[0, 'a short note about gardening'.length]]);
    assert.equal(itemById('doc-a'), undefined);
    assert.equal(current().meta.vectors, before - longPassages + 1 - docA);
    const long = volcano.body.hits.find((hit: { id: string }) => hit.id === 'long');
    assert.equal(long?.passage, undefined, 'no passage of the old content is left');
  });

  it('indexes content up to the item size limit (about 390 KB); only content that cannot be embedded is poison', async () => {
    // Prepare
    const huge = `${filler(390_000, 3)}\n\n${VOLCANO}`;
    await h.put([
      { id: 'huge', text: huge },
      { id: 'blank', text: '  ' },
    ]);
    // Act
    const run = await h.run();
    const result = await h.search({ q: 'lava flowing from an erupting volcano', k: 1 });
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(run.output['merge'].poison, 1, 'only the blank item');
    assert.ok(itemById('huge')!.passages.length > 200);
    assert.equal(result.body.hits[0].id, 'huge');
    assert.match(result.body.hits[0].passage.text, /volcano erupted/);
  });
});
