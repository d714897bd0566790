import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { GenerationStore } from '../../index-store/generations.ts';
import { IndexReader } from '../../search/index-reader.ts';
import { preloadSearch, search } from '../../search/query.ts';
import { isProvisionedSearchInit } from '../../tasks/search-handler.ts';
import { keyAttributes } from '../../table/items.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('search service', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path);
    await h.put([
      ...sentences(200),
      ...[
        'the orchestra plays a symphony',
        'a violinist tunes her violin',
        'the pianist practises scales',
        'a drummer keeps the beat',
        'the choir sings in the church',
        'a flute solo opens the concert',
      ].map((text, i) => ({ group: 'music', id: `m${i}`, text })),
    ]);
    await h.stack.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.config.tableName,
        Key: keyAttributes(h.config, { group: 'music', id: 'm1' }),
        UpdateExpression: 'SET author = :a, stars = :s, tags = :t, shelf = :l, big = :b',
        ExpressionAttributeValues: {
          ':a': { S: 'Clara' },
          ':s': { N: '5' },
          ':t': { SS: ['strings', 'solo'] },
          ':l': { M: { row: { N: '3' }, box: { L: [{ S: 'a' }, { BOOL: true }] } } },
          ':b': { N: '123456789012345678901234' },
        },
      }),
    );
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('answers 503 saying so before any index is published', async () => {
    const response = await h.search('q=anything');
    assert.equal(response.status, 503);
    assert.match(response.body.message, /no index has been published yet/);
  });

  it('GET returns the most similar items with keys, content, score, generation and model', async () => {
    // Prepare
    assert.equal((await h.run()).status, 'SUCCEEDED');
    // Act
    const response = await h.search(`q=${encodeURIComponent('a violinist tunes her violin')}&k=3`);
    // Assess
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.generation, 1);
    assert.equal(response.body.model, 'default');
    assert.equal(response.body.count, 3);
    assert.deepEqual(Object.keys(response.body.hits[0]).sort(), ['content', 'group', 'id', 'score']);
    assert.equal(response.body.hits[0].id, 'm1');
    assert.ok(response.body.hits[0].score > 0.99);
    assert.ok(response.body.hits[0].score >= response.body.hits[1].score);
  });

  it('POST takes a JSON body and returns the attributes asked for, as plain JSON of any DynamoDB type', async () => {
    const response = await h.search({
      q: 'someone playing the violin',
      k: 2,
      attributes: ['author', 'stars', 'missing', 'tags', 'shelf', 'big', 'content', 'author'],
    });
    assert.equal(response.status, 200, response.text);
    const violin = response.body.hits.find((hit: { id: string }) => hit.id === 'm1');
    // A string set has no order: compare it sorted.
    assert.deepEqual(
      { ...violin.attributes, tags: [...violin.attributes.tags].sort() },
      {
        author: 'Clara',
        stars: 5,
        tags: ['solo', 'strings'],
        shelf: { row: 3, box: ['a', true] },
        big: Number('123456789012345678901234'), // past 2^53: rounded, as JSON numbers are
        content: 'a violinist tunes her violin',
      },
    );
  });

  it('filters by group exactly: k hits from a small group, even for a query that favours others', async () => {
    const response = await h.search({ q: 'a man is cooking the dinner', k: 5, group: 'music' });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.count, 5);
    assert.ok(response.body.hits.every((hit: { group: string }) => hit.group === 'music'));
    const all = await h.search({ q: 'a man is cooking the dinner', k: 10, group: 'music' });
    assert.equal(all.body.count, 6, 'a group smaller than k returns the whole group');
  });

  it('drops items deleted since indexing and still returns k hits', async () => {
    await h.stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: h.config.tableName,
        Key: keyAttributes(h.config, { group: 'music', id: 'm2' }),
      }),
    );
    const response = await h.search({ q: 'the pianist practises scales', k: 4, group: 'music' });
    assert.equal(response.status, 200);
    assert.equal(response.body.count, 4);
    assert.ok(!response.body.hits.some((hit: { id: string }) => hit.id === 'm2'));
  });

  it('drops soft-deleted items (faiss_delete = true) before the next run, and still returns k hits', async () => {
    // Prepare: the soft-delete protocol, with no indexer run after it
    await h.softDelete('m3', 'music');
    // Act
    const exact = await h.search({ q: 'a drummer keeps the beat', k: 3 });
    const inGroup = await h.search({ q: 'a drummer keeps the beat', k: 4, group: 'music' });
    // Assess
    assert.equal(exact.status, 200, exact.text);
    assert.ok(!exact.body.hits.some((hit: { id: string }) => hit.id === 'm3'), `m3 is served: ${exact.text}`);
    assert.equal(exact.body.count, 3);
    assert.equal(inGroup.body.count, 4, 'the search widens past the soft-deleted item');
    assert.ok(!inGroup.body.hits.some((hit: { id: string }) => hit.id === 'm3'));
  });

  it('answers a query with no word the model knows with no hits and the reason, not arbitrary hits', async () => {
    for (const query of ['q=%ff%fe', `q=${encodeURIComponent('qwzx vbnmq')}`]) {
      const response = await h.search(query);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.count, 0, `${query}: ${response.text}`);
      assert.deepEqual(response.body.hits, []);
      assert.match(response.body.reason, /no word of the query is known to the model/);
    }
    const cli = await runCli(['search', 'qwzx', '--data-dir', dir.path]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /0 hits .*: no word of the query is known to the model/);
  });

  it('rejects bad input with 400 and a message saying what is wrong, never a stack trace', async () => {
    const cases: [string | Record<string, unknown>, RegExp][] = [
      ['k=3', /q \(the query text\) is required/],
      ['q=%20%20', /q \(the query text\) is required/],
      ['q=x&k=0', /k must be an integer from 1 to 100/],
      ['q=x&k=101', /k must be an integer from 1 to 100/],
      ['q=x&k=ten', /k must be an integer from 1 to 100/],
      ['q=x&group=nope', /unknown group "nope"/],
      [{ q: 'x'.repeat(100 * 1024) }, /q is 102400 characters long; the limit is 2000/],
      [{ q: 42 }, /q \(the query text\) is required/],
      [{ q: 'x', attributes: 'a b' }, /attributes must be/],
    ];
    for (const [query, expected] of cases) {
      const response = await h.search(query);
      assert.equal(response.status, 400, `${JSON.stringify(query).slice(0, 60)} -> ${response.text}`);
      assert.match(response.body.message, expected);
      assert.doesNotMatch(response.text, /\bat \w+ \(|node_modules/);
    }
    const malformed = await fetch(`${h.stack.info.endpoints.http}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"q": ',
    });
    assert.equal(malformed.status, 400);
    assert.match(((await malformed.json()) as { message: string }).message, /not valid JSON/);
    const unknownRoute = await fetch(`${h.stack.info.endpoints.http}/search-everything`);
    assert.equal(unknownRoute.status, 404);
  });

  it('preloads for a provisioned instance: the first query then reads no index file', async () => {
    // Prepare: a reader preloaded as a provisioned instance's init does, then the generation's
    // segments hidden (CURRENT.json stays: the reader sees the same generation)
    const context = { config: h.config, clients: h.stack.clients };
    const preloaded = new IndexReader(h.config.efsRoot, h.config.indexLayout);
    const vectors = await preloadSearch(context, preloaded);
    const store = new GenerationStore(h.config.efsRoot);
    const folder = path.join(store.dir, 'segments');
    renameSync(folder, `${folder}.hidden`);
    try {
      // Act
      const answer = await search(context, preloaded, { text: 'a violinist tunes her violin', k: 1 });
      // Assess: answered from memory, while a reader that did not preload cannot load the index
      assert.equal(vectors, 206);
      assert.equal(answer.hits[0]?.id, 'm1');
      const cold = new IndexReader(h.config.efsRoot, h.config.indexLayout);
      await assert.rejects(search(context, cold, { text: 'a violinist', k: 1 }));
    } finally {
      renameSync(`${folder}.hidden`, folder);
    }
    // Only a provisioned search instance preloads in its init
    assert.ok(
      isProvisionedSearchInit({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency', _HANDLER: 'lambda.search' }),
    );
    assert.ok(!isProvisionedSearchInit({ AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', _HANDLER: 'lambda.search' }));
    assert.ok(
      !isProvisionedSearchInit({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency', _HANDLER: 'lambda.merge' }),
    );
  });

  it('swaps in a newer generation under concurrent queries without errors or partial answers', async () => {
    // Prepare: queries run continuously while a run adds 200 items and publishes generation 2
    await h.put(sentences(200, 'more'));
    let running = true;
    const answers: { status: number; generation: number; count: number }[] = [];
    const client = async (): Promise<void> => {
      while (running) {
        const response = await h.search({ q: 'a woman is reading a book', k: 10 });
        answers.push({ status: response.status, generation: response.body?.generation, count: response.body?.count });
      }
    };
    // Act
    const clients = [client(), client(), client()];
    const run = await h.run();
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await Promise.all(clients);
    // Assess
    assert.equal(run.status, 'SUCCEEDED');
    assert.ok(answers.length > 10, `${answers.length} answers`);
    assert.ok(
      answers.every((answer) => answer.status === 200 && answer.count === 10),
      'every answer complete',
    );
    assert.deepEqual([...new Set(answers.map((answer) => answer.generation))].sort(), [1, 2]);
    assert.equal(answers.at(-1)!.generation, 2, 'the newer generation is used without a restart');
  });

  it('ddb-faiss search prints the hits, what their scores are, and the attributes asked for', async () => {
    const run = await runCli(['search', 'the', 'choir', 'sings', '-k', '2', '--data-dir', dir.path]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /2 hits \(generation 2, model default; scores are cosine similarity, -1 to 1\)/);
    assert.match(run.stdout, /music\/m4 {2}the choir sings in the church/);
    const hybrid = await runCli(['search', 'violinist', '--mode', 'hybrid', '-k', '1', '--data-dir', dir.path]);
    assert.match(hybrid.stdout, /scores are fused ranks: the sum of 1\/\(60 \+ rank\) over both rankings/);
    const attributes = await runCli([
      'search',
      'a violinist tunes her violin',
      '-k',
      '2',
      '--attributes',
      'author,stars,tags',
      '--data-dir',
      dir.path,
    ]);
    assert.match(
      attributes.stdout,
      /music\/m1 {2}a violinist tunes her violin\n {7}author="Clara" {2}stars=5 {2}tags=\[("strings","solo"|"solo","strings")\]\n/,
    );
    assert.match(attributes.stdout, /\n {7}\(no author, stars, tags\)\n/, 'a hit without them says so');
    const bad = await runCli(['search', 'x', '-k', '500', '--data-dir', dir.path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /search failed \(HTTP 400\): k must be an integer from 1 to 100/);
  });
});
