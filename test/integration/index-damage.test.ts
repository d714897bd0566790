/**
 * A damaged index, end to end: after any one file of a published segment (or the index's pointer
 * or manifest) is damaged, the search service answers 503 naming the file and what heals it, or
 * the right hits, never a 500 and never a wrong hit; a flood of failing searches leaves memory
 * flat; an incremental run fails naming the damage it can see; `ddb-faiss verify` names it; and
 * `ddb-faiss backfill --wait` restores right answers from any of these states.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { GenerationStore } from '../../index-store/generations.ts';
import { localLambdaContext } from '../../lambda-host/lambda-context.ts';
import { IndexReader } from '../../search/index-reader.ts';
import { createSearchHandler } from '../../tasks/search-handler.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, sentences, testObservability } from '../helpers/indexer.ts';
import { change, garbage, truncate } from '../helpers/damage.ts';
import { tempDir } from '../helpers/local-stack.ts';

const ITEMS = sentences(240);
/** The items whose own text is asked, a spread of them. */
const ASKED = ITEMS.filter((_, i) => i % 8 === 0);

type Answer = { status: number; message?: string; top?: string };

describe('a damaged index, through search, runs, verify and backfill', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  let pristine: string;
  let indexDir: string;
  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'batch-size': '120' });
    await h.put(ITEMS.map((item, i) => ({ ...item, group: `g${i % 2}` })));
    assert.equal((await h.run()).status, 'SUCCEEDED');
    // A second run replaces 30 items: a second segment, and tombstones in the first.
    await h.put(ITEMS.slice(0, 30).map((item, i) => ({ ...item, group: `g${i % 2}` })));
    assert.equal((await h.run()).status, 'SUCCEEDED');
    indexDir = path.join(h.config.efsRoot, 'index');
    pristine = path.join(dir.path, 'pristine-index');
    cpSync(indexDir, pristine, { recursive: true });
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  /** A search handler that has never read the index (a cold Lambda instance), and a way to ask it. */
  const coldSearch = (now?: () => number) => {
    const handler = createSearchHandler(
      { config: h.config, clients: h.stack.clients },
      testObservability(dir.path),
      new IndexReader(h.config.efsRoot, h.config.indexLayout, now),
    );
    return async (fields: Record<string, string>): Promise<Answer> => {
      const event = {
        rawPath: '/search',
        requestContext: { http: { method: 'GET', path: '/search' } },
        queryStringParameters: fields,
        headers: {},
      } as unknown as APIGatewayProxyEventV2;
      const response = (await handler(
        event,
        localLambdaContext('search', 30_000),
      )) as APIGatewayProxyStructuredResultV2;
      const body = JSON.parse(String(response.body)) as { message?: string; hits?: { id: string }[] };
      return {
        status: response.statusCode ?? 0,
        ...(body.message ? { message: body.message } : {}),
        ...(body.hits?.[0] ? { top: body.hits[0].id } : {}),
      };
    };
  };

  /** Every asked item by its own text, unfiltered, in its group, and lexically: 503 or the item itself. */
  const askEveryItem = async (): Promise<{ unavailable: Answer[]; right: number }> => {
    const ask = coldSearch();
    const unavailable: Answer[] = [];
    let right = 0;
    for (const item of ASKED) {
      const group = `g${ITEMS.indexOf(item) % 2}`;
      for (const fields of <Record<string, string>[]>[
        { q: item.text!, k: '3' },
        { q: item.text!, k: '3', group },
        { q: item.text!, k: '3', mode: 'hybrid' },
      ]) {
        const answer = await ask(fields);
        if (answer.status === 503) {
          unavailable.push(answer);
          continue;
        }
        assert.equal(answer.status, 200, JSON.stringify(answer));
        assert.equal(answer.top, item.id, `${JSON.stringify(fields)}: a search that answers gives the right hit`);
        right += 1;
      }
    }
    return { unavailable, right };
  };

  /** The published index as it was, with one file damaged; returns that file relative to the EFS root. */
  const damage = (
    pick: (files: { first: string; second: string; tombstone: string }) => string,
    how: (file: string) => void,
  ): string => {
    rmSync(indexDir, { recursive: true, force: true });
    cpSync(pristine, indexDir, { recursive: true });
    const store = new GenerationStore(h.config.efsRoot);
    const [first, second] = store.meta(store.current()!).segments;
    const file = pick({
      first: `index/segments/${first!.id}`,
      second: `index/segments/${second!.id}`,
      tombstone: `index/tombstones/${first!.tombstones[0]}`,
    });
    how(path.join(h.config.efsRoot, file));
    return file;
  };
  // [what, which file, how, whether an incremental run sees it without reading the file whole]
  const CASES: [string, Parameters<typeof damage>[0], (file: string) => void, boolean][] = [
    // A flat segment's index is its vectors file (an IVF segment's index.faiss: the unit tests).
    ['vectors.f32 truncated', (f) => `${f.first}/vectors.f32`, truncate, true],
    ['4 KB of vectors.f32 changed', (f) => `${f.first}/vectors.f32`, change(0.3, 4096), false],
    ['keys.bin changed', (f) => `${f.first}/keys.bin`, change(0.6, 64), true],
    ['keys.bin truncated', (f) => `${f.second}/keys.bin`, truncate, true],
    ['segment.json garbage', (f) => `${f.first}/segment.json`, garbage, true],
    ['lexical.bin truncated', (f) => `${f.first}/lexical.bin`, truncate, true],
    ['a tombstone file changed', (f) => f.tombstone, change(0, 8), true],
    ['CURRENT.json garbage', () => 'index/CURRENT.json', garbage, true],
  ];

  for (const [what, pick, how, runSees] of CASES) {
    it(`${what}: search answers 503 naming it or the right hits; verify names it; a run ${runSees ? 'fails naming it' : 'goes on'}; a backfill heals it`, async () => {
      // Prepare
      const file = damage(pick, how);
      // Act, Assess: search
      const { unavailable, right } = await askEveryItem();
      assert.ok(unavailable.length > 0, `some search meets the damage (${right} answered right)`);
      for (const answer of unavailable) {
        assert.match(answer.message!, /the index is damaged: /);
        assert.match(answer.message!, /ddb-faiss backfill --wait/);
      }
      assert.ok(
        unavailable.some((answer) => answer.message!.includes(file)),
        `503 names ${file}`,
      );
      // verify
      const verified = await runCli(['verify', '--json', '--data-dir', dir.path]);
      assert.equal(verified.code, 1, verified.stderr);
      assert.ok(
        (JSON.parse(verified.stdout) as { problems: { file: string }[] }).problems.some((p) => p.file === file),
        verified.stdout,
      );
      // an incremental run, with an item pending
      await h.put([{ ...ITEMS[100]!, group: 'g0' }]);
      const run = await h.run();
      if (runSees) {
        assert.equal(run.status, 'FAILED');
        assert.equal(run.error, 'IndexDamagedError');
        assert.match(run.cause ?? '', new RegExp(file.replace(/[.]/g, '\\.')));
      }
      // a backfill heals it
      const backfill = await h.run('backfill');
      assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
      const healed = await askEveryItem();
      assert.deepEqual(healed.unavailable, []);
      assert.equal(healed.right, ASKED.length * 3);
      assert.equal((await runCli(['verify', '--data-dir', dir.path])).code, 0);
      assert.deepEqual(await h.pendingIds(), []);
    });
  }

  it('keeps memory flat over 2,000 searches that fail, each one trying the damaged index again', async () => {
    // Prepare: the open is retried on every search (a clock past the backoff each time)
    damage((f) => `${f.first}/vectors.f32`, truncate);
    let now = 0;
    const ask = coldSearch(() => (now += 3_600_000));
    const searchMany = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const answer = await ask({ q: ITEMS[i % ITEMS.length]!.text!, k: '5' });
        assert.equal(answer.status, 503);
      }
    };
    await searchMany(200); // warm: allocations that stay for good
    global.gc?.();
    const before = process.memoryUsage().rss;
    // Act
    await searchMany(2_000);
    global.gc?.();
    // Assess
    const grown = (process.memoryUsage().rss - before) / 1e6;
    assert.ok(grown < 64, `RSS grew ${grown.toFixed(1)} MB over 2,000 failing searches`);
    // healed for the next test
    assert.equal((await h.run('backfill')).status, 'SUCCEEDED');
  });
});
