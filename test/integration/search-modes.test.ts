import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

interface Hit {
  group: string;
  id: string;
  score: number;
  passage?: { text: string; index: number; count: number };
}
const ids = (body: { hits: Hit[] }): string[] => body.hits.map((hit) => hit.id);

const MANUAL = 'The XJ9000 blender manual: hold the pulse button for three seconds to crush ice.';
const PARAPHRASES = [
  { id: 'storm-1', text: 'a violent thunderstorm flooded the coastal town overnight' },
  { id: 'storm-2', text: 'heavy storms and floods hit the seaside village' },
  { id: 'storm-3', text: 'thunder and lightning during a storm at sea' },
];

describe('search modes and more like this on the real workflow (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  const flags = (): string[] => ['--data-dir', h.config.dataDir];

  before(async () => {
    h = await IndexerHarness.start(dir.path);
    await h.put([
      { id: 'manual', text: MANUAL },
      { id: 'kitchen', text: 'a kitchen appliance that mixes fruit into smoothies' },
      ...PARAPHRASES,
      { id: 'river', group: 'other', text: 'a boat drifts slowly down the river' },
      ...sentences(60),
    ]);
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('ranks by vector, lexical or hybrid as asked, and says which mode answered', async () => {
    // Act
    const vector = await h.search({ q: 'XJ9000 instructions', k: 5 });
    const lexical = await h.search({ q: 'XJ9000 instructions', k: 5, mode: 'lexical' });
    const hybrid = await h.search({ q: 'XJ9000 instructions', k: 5, mode: 'hybrid' });
    const get = await h.search(`q=${encodeURIComponent('pulse button')}&mode=lexical`);
    // Assess
    assert.equal(vector.body.mode, 'vector');
    assert.equal(lexical.status, 200, lexical.text);
    assert.equal(lexical.body.mode, 'lexical');
    assert.deepEqual(ids(lexical.body), ['manual'], 'only the item holding a query term');
    assert.equal(hybrid.body.mode, 'hybrid');
    assert.equal(ids(hybrid.body)[0], 'manual', 'the exact model number wins the fused ranking');
    assert.equal(hybrid.body.hits.length, 5, 'and the vector ranking fills the rest');
    assert.deepEqual(ids(get.body), ['manual']);
  });

  it('answers an unknown mode with a 400, and a query with no term with a reason', async () => {
    // Act
    const unknown = await h.search({ q: 'storm', mode: 'fuzzy' });
    const stopWords = await h.search({ q: 'the and of', mode: 'lexical' });
    const noMatch = await h.search({ q: 'zeppelin', mode: 'lexical' });
    // Assess
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /mode must be "vector", "lexical", "hybrid", got "fuzzy"/);
    assert.deepEqual(stopWords.body.hits, []);
    assert.match(stopWords.body.reason, /no term for lexical search/);
    assert.deepEqual(noMatch.body.hits, []);
    assert.match(noMatch.body.reason, /no indexed item holds a term of the query/);
  });

  it('keeps the lexical index exact under updates and deletes: the scores a fresh backfill gives', async () => {
    // Prepare: the manual is rewritten, a storm item deleted, a new one added
    await h.edit(
      'manual',
      'The XJ9000 blender: to crush ice, hold the pulse button; to clean it, run it with warm water.',
    );
    await h.softDelete('storm-3');
    await h.put([{ id: 'storm-4', text: 'the storm flooded the town and the storm went on' }]);
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const query = async () =>
      (await h.search({ q: 'a man in a storm with a pulse', k: 100, mode: 'lexical' })).body.hits as Hit[];
    // Act
    const incremental = await query();
    const backfill = await h.run('backfill');
    const rebuilt = await query();
    // Assess
    assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
    assert.equal(
      incremental.some((hit) => hit.id === 'storm-3'),
      false,
    );
    assert.ok(incremental.some((hit) => hit.id === 'storm-4'));
    assert.ok(incremental.length < 100, 'every item holding a term');
    assert.deepEqual(
      incremental.map((hit) => [hit.id, hit.score.toFixed(10)]).sort(),
      rebuilt.map((hit) => [hit.id, hit.score.toFixed(10)]).sort(),
    );
  });

  it('finds the items nearest to a stored item without the item itself (GET, POST and the CLI)', async () => {
    // Act
    const response = await fetch(`${h.stack.info.endpoints.http}/similar?group=g&id=storm-1&k=2`);
    const get = { status: response.status, body: (await response.json()) as { hits: Hit[] } };
    const cli = await runCli(['similar', 'g', 'storm-1', '-k', '2', '--json', ...flags()]);
    const missing = await fetch(`${h.stack.info.endpoints.http}/similar?group=g&id=nothing`);
    const noId = await fetch(`${h.stack.info.endpoints.http}/similar?group=g`);
    // Assess
    assert.equal(get.status, 200);
    assert.deepEqual(ids(get.body).sort(), ['storm-2', 'storm-4']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(ids(JSON.parse(cli.stdout)), ids(get.body));
    assert.equal(missing.status, 404);
    const missingBody = (await missing.json()) as { message: string; code: string };
    assert.match(missingBody.message, /the index holds no item g\/nothing/);
    assert.equal(missingBody.code, 'item-not-found', 'the error names itself for scripts');
    assert.equal(noId.status, 400);
    const noIdBody = (await noId.json()) as { message: string; code: string };
    assert.match(noIdBody.message, /id must be a non-empty string/);
    assert.equal(noIdBody.code, 'bad-request');
  });

  it('the CLI takes --mode and shows the ranking that answered', async () => {
    // Act
    const run = await runCli(['search', 'pulse button', '--mode', 'hybrid', '-k', '3', ...flags()]);
    // Assess
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^3 hits \(generation \d+, model \S+; scores are fused ranks: /);
    assert.match(run.stdout, /g\/manual/);
  });
});
