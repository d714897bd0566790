import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationStore } from '../../index-store/generations.ts';
import { PermanentError, TransientError } from '../../aws/errors.ts';
import { keyAttributes } from '../../table/items.ts';
import { LEASE_KEY } from '../../table/reserved-items.ts';
import { readBatch } from '../../indexer/run-files.ts';
import { indexerStages } from '../../tasks/indexer-handlers.ts';
import {
  harnessForEachTest,
  type IndexerHarness,
  sortedIds,
  listedAgain,
  sentences,
  topHit,
} from '../helpers/indexer.ts';

const ids = sortedIds;

describe('indexer guarantees (local stack)', () => {
  let h: IndexerHarness;
  harnessForEachTest((harness) => (h = harness));

  it('a. indexes every pending item exactly once; a run with nothing pending changes nothing', async () => {
    // Prepare
    await h.put(sentences(130));
    // Act
    const first = await h.run();
    const generation = h.index()!.generation;
    const second = await h.run();
    // Assess
    assert.equal(first.status, 'SUCCEEDED', first.cause);
    assert.deepEqual(h.indexedIds(), ids(130));
    assert.deepEqual(await h.pendingIds(), []);
    assert.equal(first.output['plan'].batchCount, 3);
    assert.equal(second.status, 'SUCCEEDED');
    assert.equal(second.output['plan'].itemCount, 0);
    assert.equal(second.output['merge'], undefined, 'nothing was merged');
    assert.equal(h.index()!.generation, generation, 'same generation');
  });

  it('b1. heals a crash after the shards were written', async () => {
    // Prepare: merge crashes (a non-retryable error) after every shard is on EFS
    await h.put(sentences(120));
    h.overrides = () => ({
      merge: async () => {
        throw new Error('injected crash before merge');
      },
    });
    // Act
    const crashed = await h.run();
    h.overrides = () => ({});
    const healed = await h.run();
    // Assess
    assert.equal(crashed.status, 'FAILED');
    assert.match(crashed.cause ?? '', /injected crash before merge/);
    assert.equal(healed.status, 'SUCCEEDED', healed.cause);
    assert.deepEqual(h.indexedIds(), ids(120));
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('b2. heals a crash after the index was published but before any flag was cleared', async () => {
    // Prepare
    await h.put(sentences(120));
    h.overrides = () => ({
      clear: async () => {
        throw new Error('injected crash before clearing');
      },
    });
    // Act
    const crashed = await h.run();
    const afterCrash = { indexed: h.indexedIds(), pending: await h.pendingIds() };
    h.overrides = () => ({});
    const healed = await h.run();
    // Assess: the crashed run published everything but cleared nothing; the rerun replaces, never duplicates
    assert.equal(crashed.status, 'FAILED');
    assert.deepEqual(afterCrash.indexed, ids(120));
    assert.deepEqual(afterCrash.pending, ids(120));
    assert.equal(healed.status, 'SUCCEEDED', healed.cause);
    assert.deepEqual(h.indexedIds(), ids(120), 'no duplicates');
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('b3. heals a crash halfway through clearing flags', async () => {
    // Prepare: the clear stage's DynamoDB client fails for good after two requests (50 flags, 25 to a request)
    await h.put(sentences(120));
    h.overrides = (_real, context) => {
      const faulty = new DynamoDBClient({
        region: h.config.region,
        endpoint: h.stack.info.endpoints.dynamodb,
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        maxAttempts: 1,
      });
      let requests = 0;
      faulty.middlewareStack.add(
        (next, info) => async (args) => {
          if ((info as { commandName?: string }).commandName === 'BatchExecuteStatementCommand' && ++requests > 2)
            throw new Error('injected crash while clearing');
          return next(args);
        },
        { step: 'initialize' },
      );
      return { clear: indexerStages({ ...context, clients: { ...context.clients, dynamodb: faulty } }).clear };
    };
    // Act
    const crashed = await h.run();
    const pendingAfterCrash = (await h.pendingIds()).length;
    h.overrides = () => ({});
    const healed = await h.run();
    // Assess
    assert.equal(crashed.status, 'FAILED');
    assert.ok(
      pendingAfterCrash > 0 && pendingAfterCrash < 120,
      `some flags cleared, some not (${pendingAfterCrash} pending)`,
    );
    assert.equal(healed.status, 'SUCCEEDED', healed.cause);
    assert.deepEqual(h.indexedIds(), ids(120), 'no duplicates, nothing lost');
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('c. keeps the flag of an item edited while a run is in flight, and re-embeds it next run', async () => {
    // Prepare: a writer edits item-0003 right after its batch was embedded
    await h.put(sentences(60));
    h.overrides = (real) => ({
      embed: async (event) => {
        const shard = await real.embed(event);
        if (event.batch.batch === 1) await h.edit('item-0003', 'a violinist is tuning an old violin');
        return shard;
      },
    });
    // Act
    const inFlight = await h.run();
    const pendingAfter = await h.pendingIds();
    h.overrides = () => ({});
    const next = await h.run();
    // Assess
    assert.equal(inFlight.status, 'SUCCEEDED', inFlight.cause);
    assert.deepEqual(pendingAfter, ['item-0003']);
    assert.equal(inFlight.output['clear'].keptPending, 1);
    assert.equal(next.output['plan'].itemCount, 1);
    assert.deepEqual(await h.pendingIds(), []);
    assert.deepEqual(h.indexedIds(), ids(60));
    assert.equal(await topHit(h, 'a violinist is tuning an old violin'), 'item-0003');
  });

  it('d. replaces the vector of a re-flagged item whose content changed, without duplicating it', async () => {
    // Prepare
    await h.put(sentences(60));
    await h.run();
    const versionBefore = h.index()!.entries.find((entry) => entry.id === 'item-0007')!.version;
    // Act
    await h.edit('item-0007', 'the astronaut floats inside the space station');
    const rerun = await h.run();
    // Assess
    assert.equal(rerun.status, 'SUCCEEDED', rerun.cause);
    assert.deepEqual(h.indexedIds(), ids(60));
    assert.ok(h.index()!.entries.find((entry) => entry.id === 'item-0007')!.version > versionBefore);
    assert.equal(await topHit(h, 'the astronaut floats inside the space station'), 'item-0007');
  });

  it('d2. indexes an item seen twice in one run (edited while plan paged the pending index) once, at its newest version', async () => {
    // Prepare: plan's pages list item-0005, which is then edited and listed again by a later page
    await h.put(sentences(60));
    h.overrides = (real) => ({
      plan: async (event) => {
        const plan = await real.plan(event);
        await h.edit('item-0005', 'a lighthouse keeper climbs the winding stairs');
        return listedAgain(h, event, plan, 'item-0005');
      },
    });
    // Act
    const run = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(h.indexedIds(), ids(60), 'once');
    assert.equal(run.output['merge'].added, 60);
    assert.deepEqual(await h.pendingIds(), []);
    assert.equal(
      await topHit(h, 'a lighthouse keeper climbs the winding stairs'),
      'item-0005',
      'at its newest version',
    );
  });

  it('e. removes soft-deleted items from the index and then from the table; a backfill drops vanished keys', async () => {
    // Prepare
    await h.put(sentences(60));
    await h.run();
    // Act: the soft-delete protocol, then a hard delete behind the index's back and a backfill
    await h.softDelete('item-0010');
    const softDeleteRun = await h.run();
    await h.stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: h.config.tableName,
        Key: keyAttributes(h.config, { group: 'g', id: 'item-0020' }),
      }),
    );
    const backfill = await h.run('backfill');
    // Assess
    assert.equal(softDeleteRun.status, 'SUCCEEDED', softDeleteRun.cause);
    assert.equal(softDeleteRun.output['clear'].deleted, 1);
    assert.equal((await h.items()).has('item-0010'), false, 'the item is deleted after its vector');
    assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
    assert.deepEqual(
      h.indexedIds(),
      ids(60).filter((id) => id !== 'item-0010' && id !== 'item-0020'),
    );
  });

  it('f. lets one writer at a time hold the index; a lease whose holder is unknown is left to expire', async () => {
    // Prepare: a live lease that names no execution ARN, so its holder's status cannot be asked
    await h.put(sentences(30));
    const lease = (holder: string, expiresAt: number) =>
      h.stack.clients.dynamodb.send(
        new PutItemCommand({
          TableName: h.config.tableName,
          Item: { ...keyAttributes(h.config, LEASE_KEY), holder: { S: holder }, expiresAt: { N: String(expiresAt) } },
        }),
      );
    await lease('other-execution', Date.now() + h.config.leaseSeconds * 1000);
    // Act
    const blocked = await h.run();
    const afterBlocked = { index: h.index(), pending: await h.pendingIds() };
    await lease('crashed-execution', Date.now() - 1000);
    const proceeded = await h.run();
    // Assess
    assert.equal(blocked.status, 'SUCCEEDED', 'exits cleanly');
    assert.match(blocked.output['lease'].skipped, /another run \(other-execution, UNKNOWN .*\) holds the index/);
    assert.equal(blocked.output['plan'], undefined, 'nothing was planned');
    assert.equal(afterBlocked.index, undefined, 'the index was not touched');
    assert.equal(afterBlocked.pending.length, 30);
    assert.equal(proceeded.status, 'SUCCEEDED', proceeded.cause);
    assert.deepEqual(h.indexedIds(), ids(30));
    assert.equal(
      (await h.reservedItems()).some((item) => item[h.config.idAttribute]?.S === 'writer-lease'),
      false,
      'lease released',
    );
  });

  it('g. records poison items with their reason and never retries them', async () => {
    // Prepare
    await h.put([
      ...sentences(20),
      { id: 'no-content' },
      { id: 'empty', text: '   ' },
      { id: 'number', content: { N: '42' } },
      { id: 'unknown-words', text: 'qwzx vbnmq' },
    ]);
    // Act
    const run = await h.run();
    const again = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(h.indexedIds(), ids(20));
    assert.deepEqual(await h.pendingIds(), [], 'poison items leave the queue');
    assert.equal(again.output['plan'].itemCount, 0, 'and are not retried');
    const reasons = Object.fromEntries(
      (await h.reservedItems())
        .filter((item) => item['reason'])
        .map((item) => [item['itemId']!.S!, item['reason']!.S!]),
    );
    assert.match(reasons['no-content']!, /missing content/);
    assert.match(reasons['empty']!, /content is empty/);
    assert.match(reasons['number']!, /not a string \(type N\)/);
    assert.match(reasons['unknown-words']!, /no word of the content is known/);
  });

  it('h. a batch that fails for good leaves only its items pending; the rest is merged', async () => {
    // Prepare: batch 2 fails permanently; batch 1 fails once transiently (retried)
    await h.put(sentences(120));
    let transientFailures = 0;
    const failed = new Set<string>();
    h.overrides = (real) => ({
      embed: async (event) => {
        if (event.batch.batch === 2) {
          for (const key of readBatch(h.config.efsRoot, event.batch)) failed.add(key.id);
          throw new PermanentError('injected: this batch cannot be embedded');
        }
        if (event.batch.batch === 1 && transientFailures++ === 0) throw new TransientError('injected: throttled');
        return real.embed(event);
      },
    });
    // Act
    const run = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(transientFailures, 2, 'the transient failure was retried');
    assert.equal(failed.size, 50);
    assert.equal(run.output['merge'].failedBatchCount, 1);
    assert.equal(run.output['merge'].failedBatches.length, 1);
    assert.match(run.output['merge'].failedBatches[0].cause, /cannot be embedded/);
    assert.deepEqual(
      h.indexedIds(),
      ids(120).filter((id) => !failed.has(id)),
    );
    assert.deepEqual(await h.pendingIds(), [...failed].sort());
  });

  it('refuses to mix models: an incremental run with another model fails; a backfill switches', async () => {
    // Prepare: an index built by the default model, then a generation that claims another model
    await h.put(sentences(20));
    await h.run();
    const store = new GenerationStore(h.config.efsRoot);
    const { segments, model } = store.meta(store.current()!);
    store.publish(segments, { ...model, name: 'other', checksum: 'f'.repeat(64) }, 'test');
    await h.edit('item-0001', 'a new text');
    // Act
    const incremental = await h.run();
    const backfill = await h.run('backfill');
    // Assess
    assert.equal(incremental.status, 'FAILED');
    assert.equal(incremental.error, 'ModelMismatchError');
    assert.match(incremental.cause ?? '', /start a backfill/);
    assert.equal(backfill.status, 'SUCCEEDED', backfill.cause);
    assert.deepEqual(h.indexedIds(), ids(20));
    assert.equal(store.meta(store.current()!).model.name, 'default');
  });

  it('rejects an input with an unknown mode, naming what is allowed', async () => {
    const sfn = h.stack.clients.stepFunctions;
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: h.stack.stateMachineArns['indexer'], input: '{"mode":"rebuild"}' }),
    );
    await h.stack.stepFunctions.settled(executionArn!);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    assert.equal(described.status, 'FAILED');
    assert.equal(described.error, 'InvalidInput');
    assert.match(described.cause ?? '', /"mode": "backfill"/);
  });
});
