/**
 * Runs too large for one invocation of a stage (a backfill of millions of items), with windows and
 * budgets small enough that a few hundred items need several: a merge folds in a window of rows an
 * invocation (the state machine loops through `More to merge?`) and publishes once, after the last,
 * with the same index, counts and cleared flags as one invocation would give; a clear settles
 * entries for a budget of time an invocation (`More to clear?`), resuming from its checkpoint, and
 * releases the lease only at the end.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TransientError } from '../../aws/errors.ts';
import { readMapResults } from '../../indexer/batch-list.ts';
import { mergeShards } from '../../indexer/merge.ts';
import { clearFlags } from '../../indexer/clear.ts';
import { readBatch, runDir } from '../../indexer/run-files.ts';
import { INDEXER_TASKS } from '../../asl/tasks.ts';
import { keyAttributes } from '../../table/items.ts';
import {
  harnessForEachTest,
  type IndexerHarness,
  sortedIds,
  listedAgain,
  type Stages,
  sentences,
  topHit,
} from '../helpers/indexer.ts';
import type { IndexerContext } from '../../indexer/context.ts';

const ids = sortedIds;

/** Rows a merge invocation takes in these tests: one 50-item batch. */
const WINDOW_ROWS = 50;

describe('large runs: merge windows and clear invocations (local stack)', () => {
  let h: IndexerHarness;
  harnessForEachTest((harness) => (h = harness));

  /** The real merge with small windows; `observe` sees each invocation's result. */
  const windowedMerge =
    (context: IndexerContext, observe: (result: Awaited<ReturnType<typeof mergeShards>>) => void = () => {}) =>
    async (event: Parameters<Stages['merge']>[0]) => {
      const shards = await readMapResults(context, event.embedResults);
      const result = await mergeShards(context, event.run, event.model, event.plan, shards, {
        windowRows: WINDOW_ROWS,
      });
      observe(result);
      return result;
    };

  it('merges a backfill a window an invocation, publishes once after the last, and counts as one merge would', async () => {
    // Prepare: 130 items indexed; then 10 edited, one soft-deleted, one deleted behind the index's back;
    // item-0005 is listed again by a fourth batch (a later window than its first), and edited after its
    // first batch was embedded and before the fourth is: each window indexes a version of its own
    await h.put(sentences(130));
    assert.equal((await h.run()).status, 'SUCCEEDED');
    const generation = h.index()!.generation;
    for (const id of [...ids(130).slice(20, 30), 'item-0005']) await h.edit(id, `an edited text about ${id}`);
    await h.softDelete('item-0040');
    await h.stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: h.config.tableName,
        Key: keyAttributes(h.config, { group: 'g', id: 'item-0050' }),
      }),
    );
    const windows: unknown[] = [];
    const publishedDuring: number[] = [];
    let extraBatch = 0;
    let firstEmbedded = (): void => {};
    const embeddedOnce = new Promise<void>((resolve) => (firstEmbedded = resolve));
    h.overrides = (real, context) => ({
      plan: async (event) => {
        const plan = await real.plan(event);
        extraBatch = plan.batchCount + 1;
        return listedAgain(h, event, plan, 'item-0005');
      },
      embed: async (event) => {
        if (event.batch.batch === extraBatch) {
          await embeddedOnce;
          await h.edit('item-0005', 'a lighthouse keeper climbs the winding stairs');
          return real.embed(event);
        }
        const shard = await real.embed(event);
        if (readBatch(h.config.efsRoot, event.batch).some((key) => key.id === 'item-0005')) firstEmbedded();
        return shard;
      },
      merge: windowedMerge(context, (result) => {
        windows.push(result);
        if (!result.complete) publishedDuring.push(h.index()!.generation);
      }),
    });
    // Act
    const run = await h.run('backfill');
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const merge = run.output['merge'];
    assert.equal(merge.windows, 3, 'batches of 50, 50, 29 and 1 items: the last two share a window');
    assert.equal(windows.length, 3);
    const entered = await h.statesEntered(run.executionArn);
    assert.equal(entered.filter((state) => state === INDEXER_TASKS.merge.state).length, 3);
    assert.deepEqual(publishedDuring, [generation, generation], 'nothing published before the last');
    assert.equal(h.index()!.generation, generation + 1, 'one generation for the run');
    const expected = ids(130).filter((id) => id !== 'item-0040' && id !== 'item-0050');
    assert.deepEqual(h.indexedIds(), expected, 'every item once');
    assert.deepEqual(changeOf(merge), { added: 0, replaced: 128, removed: 2 });
    assert.equal(await topHit(h, 'a lighthouse keeper climbs the winding stairs'), 'item-0005', 'its newest version');
    assert.deepEqual(await h.pendingIds(), [], 'every flag cleared, from every window');
    assert.equal(run.output['clear'].keptPending, 0, "item-0005's first version is superseded, not kept pending");
    assert.equal(run.output['clear'].deleted, 1);
    assert.equal((await h.items()).has('item-0040'), false);
  });

  it('merges an incremental run a window at a time, and a window done again after a crash adds nothing twice', async () => {
    // Prepare: 60 items indexed; then 100 new ones, 5 edited, 2 soft-deleted
    await h.put(sentences(60));
    assert.equal((await h.run()).status, 'SUCCEEDED');
    await h.put(sentences(100, 'new'));
    for (const id of ids(60).slice(0, 5)) await h.edit(id, `an edited text about ${id}`);
    await h.softDelete('item-0030');
    await h.softDelete('item-0031');
    // The second invocation merges its window, then "crashes" before its state was kept: the state
    // file is put back as it was, and the invocation fails as a timeout would (retried by the state machine).
    let calls = 0;
    h.overrides = (_real, context) => ({
      merge: async (event) => {
        calls += 1;
        const stateFile = path.join(h.config.efsRoot, runDir(event.run.execution), 'merge-state.json');
        const saved = calls === 2 && existsSync(stateFile) ? readFileSync(stateFile) : undefined;
        const result = await windowedMerge(context)(event);
        if (saved) {
          writeFileSync(stateFile, saved);
          throw new TransientError('injected crash after a window was written, before its state was kept');
        }
        return result;
      },
    });
    // Act
    const run = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const merge = run.output['merge'];
    assert.ok(merge.windows >= 3, `${merge.windows} windows`);
    assert.equal(calls, merge.windows + 1, 'one window merged twice');
    const expected = [...ids(60), ...ids(100, 'new')].filter((id) => id !== 'item-0030' && id !== 'item-0031').sort();
    assert.deepEqual(h.indexedIds(), expected, 'every item once');
    assert.deepEqual(changeOf(merge), { added: 100, replaced: 5, removed: 2 });
    assert.deepEqual(await h.pendingIds(), []);
    assert.equal(run.output['clear'].deleted, 2);
  });

  it("clears a run's flags over several invocations, each resuming where the last stopped, and keeps the lease to the end", async () => {
    // Prepare: a clear that may start one request (25 flags) an invocation
    await h.put(sentences(130));
    const steps: { settled?: number; leaseHeld: boolean }[] = [];
    h.overrides = (_real, context) => ({
      clear: async (event) => {
        const result = await clearFlags(context, event.run, event.merge, { budgetMs: 0 });
        const lease = await h.lease();
        steps.push({
          ...(result.complete === false ? { settled: result.settled } : {}),
          leaseHeld: lease?.['holder']?.S === event.run.execution,
        });
        return result;
      },
    });
    // Act
    const run = await h.run();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const entered = await h.statesEntered(run.executionArn);
    assert.equal(entered.filter((state) => state === INDEXER_TASKS.clear.state).length, 6, '130 flags, 25 a call');
    assert.deepEqual(
      steps.map((step) => step.settled),
      [25, 50, 75, 100, 125, undefined],
      'each invocation goes on from the last',
    );
    assert.deepEqual(
      steps.map((step) => step.leaseHeld),
      [true, true, true, true, true, false],
      'released by the last',
    );
    assert.equal(run.output['clear'].cleared, 130, 'the counts of every invocation');
    assert.deepEqual(await h.pendingIds(), []);
  });
});

/** What a merge result says the run changed. */
const changeOf = ({ added, replaced, removed }: { added: number; replaced: number; removed: number }) => ({
  added,
  replaced,
  removed,
});
