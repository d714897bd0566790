import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GenerationStore, indexedGroups } from '../../index-store/generations.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { IndexReader } from '../../search/index-reader.ts';
import { search } from '../../search/query.ts';
import { ForbiddenGroupError } from '../../search/scope.ts';
import { keyAttributes } from '../../table/items.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

/** Each group's current generation and item ids. */
function groupIndexes(h: IndexerHarness): Record<string, { generation: number; ids: string[] }> {
  return Object.fromEntries(
    indexedGroups(h.config.efsRoot).map((group) => {
      const store = new GenerationStore(h.config.efsRoot, group);
      const meta = store.meta(store.current()!);
      const ids = SegmentedIndex.open(store, meta)
        .entries()
        .map((entry) => entry.id)
        .sort();
      return [group, { generation: meta.generation, ids }];
    }),
  );
}

describe('per-group index layout (one index per content_group)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'index-layout': 'per-group' });
    await h.put([
      ...sentences(30, 'a').map((item) => ({ ...item, group: 'alpha' })),
      ...sentences(30, 'b').map((item) => ({ ...item, group: 'beta' })),
      ...[
        'the orchestra plays a symphony',
        'a violinist tunes her violin',
        'the pianist practises scales',
        'a drummer keeps the beat',
        'the choir sings in the church',
      ].map((text, i) => ({ group: 'music/live', id: `m${i}`, text })),
    ]);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('builds one index per group and no global index', async () => {
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const indexes = groupIndexes(h);
    assert.deepEqual(Object.keys(indexes), ['alpha', 'beta', 'music/live']);
    assert.equal(indexes['alpha']!.ids.length, 30);
    assert.ok(indexes['alpha']!.ids.every((id) => id.startsWith('a-')));
    assert.deepEqual(indexes['music/live']!.ids, ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(h.index(), undefined, 'no global index');
    assert.equal(run.output['merge'].vectors, 65);
    assert.deepEqual(await h.pendingIds(), []);
  });

  it("searches one group's own index, or all of them", async () => {
    const inGroup = await h.search({ q: 'a man is cooking the dinner', k: 5, group: 'music/live' });
    assert.equal(inGroup.status, 200, inGroup.text);
    assert.equal(inGroup.body.count, 5);
    assert.ok(inGroup.body.hits.every((hit: { group: string }) => hit.group === 'music/live'));
    const everywhere = await h.search({ q: 'a violinist tunes her violin', k: 3 });
    assert.equal(everywhere.body.hits[0].id, 'm1');
    assert.equal(everywhere.body.count, 3);
    const unknown = await h.search({ q: 'x', group: 'gamma' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /unknown group "gamma"/);
  });

  it("reads only a tenant's groups' indexes: k hits of them, none of another group", async () => {
    // Prepare
    const reader = new IndexReader(h.config.efsRoot, 'per-group');
    const context = { config: h.config, clients: h.stack.clients };
    // Act
    const tenant = await search(context, reader, {
      text: 'a violinist tunes her violin',
      k: 8,
      allowedGroups: ['beta', 'music/live'],
    });
    const everyone = await search(context, reader, { text: 'a violinist tunes her violin', k: 35 });
    const nothing = await search(context, reader, {
      text: 'a violinist tunes her violin',
      k: 5,
      allowedGroups: ['nobody'],
    });
    // Assess
    assert.equal(tenant.hits.length, 8);
    assert.ok(tenant.hits.every((hit) => hit.group === 'beta' || hit.group === 'music/live'));
    assert.deepEqual(
      tenant.hits.map((hit) => hit.score),
      everyone.hits
        .filter((hit) => hit.group !== 'alpha')
        .slice(0, 8)
        .map((hit) => hit.score),
      "the tenant's best items, as a search of every group ranks them",
    );
    assert.ok(
      everyone.hits.some((hit) => hit.group === 'alpha'),
      'alpha items rank among them otherwise',
    );
    assert.deepEqual(nothing.hits, [], 'groups with no index: no hit, and no other group');
    await assert.rejects(
      search(context, reader, { text: 'x', k: 5, group: 'alpha', allowedGroups: ['beta'] }),
      (error: Error) => error instanceof ForbiddenGroupError && /group "alpha" is not one of/.test(error.message),
    );
    await assert.rejects(
      search(context, reader, { text: 'x', k: 5, group: 'gamma', allowedGroups: ['beta'] }),
      ForbiddenGroupError,
      'a group outside them is refused before anything is said of it',
    );
  });

  it('publishes a new generation only for the groups a run touched', async () => {
    await h.edit('a-0001', 'the astronaut floats inside the space station', 'alpha');
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const indexes = groupIndexes(h);
    assert.equal(indexes['alpha']!.generation, 2);
    assert.equal(indexes['beta']!.generation, 1);
    assert.equal(indexes['alpha']!.ids.length, 30, 'replaced, not duplicated');
    const found = await h.search({ q: 'the astronaut floats inside the space station', k: 1 });
    assert.equal(found.body.hits[0].id, 'a-0001');
  });

  it('a backfill empties the index of a group that has no items any more', async () => {
    for (let i = 0; i < 5; i++) {
      await h.stack.clients.dynamodb.send(
        new DeleteItemCommand({
          TableName: h.config.tableName,
          Key: keyAttributes(h.config, { group: 'music/live', id: `m${i}` }),
        }),
      );
    }
    const run = await h.run('backfill');
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(groupIndexes(h)['music/live']!.ids, []);
    assert.equal(run.output['merge'].vectors, 60);
    const gone = await h.search({ q: 'a drummer', group: 'music/live' });
    assert.equal(gone.status, 400);
  });
});
