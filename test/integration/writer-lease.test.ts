/**
 * The writer lease against real executions on the local stack: it is the first work of a run,
 * a holder that has ended loses it at once, a live holder keeps it for as long as it runs. A run that
 * fails keeps it, so a redrive (which goes on from the stage that failed) may go on only while no other
 * run has taken it since.
 */
import { RedriveExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { localFunctionArns, renderIndexerDefinition } from '../../asl/indexer.ts';
import { PermanentError } from '../../aws/errors.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

const ids = (n: number): string[] =>
  sentences(n)
    .map((item) => item.id)
    .sort();

/** A promise with its resolver, for holding a stage until the test lets it go on. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Starts a run and resolves once it is inside its embed stage, held there until `release()`. */
async function startHeldInEmbed(h: IndexerHarness): Promise<{ executionArn: string; release: () => void }> {
  const held = gate();
  const entered = gate();
  h.overrides = (real) => ({
    embed: async (event) => {
      entered.open();
      await held.opened;
      return real.embed(event);
    },
  });
  const executionArn = await h.start();
  await entered.opened;
  return { executionArn, release: held.open };
}

describe('writer lease (local stack)', () => {
  let dir: ReturnType<typeof tempDir>;
  let h: IndexerHarness;
  const start = async (flags: Record<string, string> = {}): Promise<void> => {
    dir = tempDir();
    h = await IndexerHarness.start(dir.path, flags);
  };
  afterEach(async () => {
    await h.close();
    dir.remove();
  });

  it('a run that finds the index held by a running execution ends at once, without bootstrapping', async () => {
    // Prepare: a first run held inside its embed stage
    await start();
    await h.put(sentences(60));
    const first = await startHeldInEmbed(h);
    // Act
    const second = await h.run();
    first.release();
    const firstOutcome = await h.outcome(first.executionArn);
    // Assess
    assert.equal(second.status, 'SUCCEEDED', second.cause);
    assert.equal(second.output['lease'].acquired, false);
    assert.match(second.output['lease'].skipped, /^another run \(.+, still running\) holds the index until /);
    const states = await h.statesEntered(second.executionArn);
    assert.deepEqual(states.slice(-2), ['Writer lease taken?', 'Index held by another run']);
    assert.ok(!states.includes('Bootstrap model'), 'no model bootstrap');
    assert.equal(firstOutcome.status, 'SUCCEEDED', firstOutcome.cause);
    assert.deepEqual(h.indexedIds(), ids(60));
  });

  it('takes over at once a lease whose holder was aborted (e.g. the stack was killed mid-run)', async () => {
    // Prepare: a run stopped inside its embed stage keeps its lease (an abort runs no Catch)
    await start();
    await h.put(sentences(60));
    const held = await startHeldInEmbed(h);
    const aborted = held.executionArn;
    await h.stack.clients.stepFunctions.send(
      new StopExecutionCommand({ executionArn: aborted, error: 'Test.Kill', cause: 'simulated crash' }),
    );
    const abortedOutcome = await h.outcome(aborted);
    const leaseAfterAbort = await h.lease();
    h.overrides = () => ({});
    // Act
    const next = await h.run();
    held.release();
    // Assess
    assert.equal(abortedOutcome.status, 'ABORTED');
    assert.ok(Number(leaseAfterAbort?.['expiresAt']?.N) > Date.now(), "the aborted run's lease had not expired");
    assert.equal(next.status, 'SUCCEEDED', next.cause);
    assert.deepEqual(next.output['lease'].tookOverFrom, { holder: aborted.split(':').pop(), status: 'ABORTED' });
    assert.deepEqual(h.indexedIds(), ids(60));
    assert.deepEqual(await h.pendingIds(), []);
    assert.equal(await h.lease(), undefined, 'released at the end');
  });

  it('a live run whose embed phase outlasts the lease keeps it: it renews per batch and is never robbed', async () => {
    // Prepare: a 2 s lease; five batches of 600 ms one at a time (3 s of embedding)
    await start({ 'lease-seconds': '2', 'max-concurrency': '1' });
    await h.put(sentences(250));
    let embedded = 0;
    const fourDone = gate();
    h.overrides = (real) => ({
      embed: async (event) => {
        const shard = await real.embed(event);
        await new Promise((resolve) => setTimeout(resolve, 600));
        if (++embedded === 4) fourDone.open();
        return shard;
      },
    });
    const long = await h.start();
    // Act: another run starts once the long run has embedded for longer than the lease lasts
    await fourDone.opened;
    const second = await h.run();
    const longOutcome = await h.outcome(long);
    // Assess
    assert.equal(
      second.output['lease']?.acquired,
      false,
      `the second run must not take the lease: ${JSON.stringify(second.output['lease'])}`,
    );
    assert.equal(longOutcome.status, 'SUCCEEDED', longOutcome.cause);
    assert.equal(longOutcome.output['merge'].added, 250);
    assert.deepEqual(h.indexedIds(), ids(250));
  });

  /** A definition whose iterations do not catch their own failures, so a batch that fails for good fails the Map. */
  const withUncaughtBatches = (): void => {
    // On AWS a Distributed Map fails this way when its tolerated failures are exceeded, or its item
    // reader or result writer fails.
    const definition = JSON.parse(renderIndexerDefinition({ functionArns: localFunctionArns(h.config.region) }));
    const iteration = definition.States['Embed batches'].ItemProcessor.States;
    delete iteration['Embed batch'].Catch;
    delete iteration['Batch failed'];
    const { stateMachineArn } = h.stack.stepFunctions.createOrUpdateStateMachine(
      'uncaught-batches',
      JSON.stringify(definition),
    );
    (h.stack.stateMachineArns as Record<string, string>)['uncaught-batches'] = stateMachineArn;
    h.overrides = (real) => ({
      embed: async (event) => {
        if (event.batch.batch === 2) throw new PermanentError('injected: this batch cannot be embedded');
        return real.embed(event);
      },
    });
  };
  const holder = async (): Promise<string | undefined> => (await h.lease())?.['holder']?.S;

  it('a failure of the Map itself fails the run there, keeping the lease; a redrive goes on from the Map', async () => {
    // Prepare
    await start();
    withUncaughtBatches();
    await h.put(sentences(120));
    // Act
    const run = await h.outcome(await h.start(undefined, 'uncaught-batches'));
    // Assess: failed at the Map (as on AWS, one failed child fails it when no failures are tolerated)
    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'States.ExceedToleratedFailureThreshold');
    const name = run.executionArn.split(':').pop();
    assert.equal(await holder(), name, 'the failed run keeps the lease, for its redrive');
    assert.deepEqual(await h.pendingIds(), ids(120), 'nothing was cleared');
    // Act: mend the batch and redrive
    h.overrides = () => ({});
    await h.stack.clients.stepFunctions.send(new RedriveExecutionCommand({ executionArn: run.executionArn }));
    const redriven = await h.outcome(run.executionArn);
    // Assess: the Map ran again, the stages before it did not; every item is indexed, the lease is given back
    assert.equal(redriven.status, 'SUCCEEDED', redriven.cause);
    assert.equal(redriven.output['merge'].added, 120);
    const entered = await h.statesEntered(run.executionArn);
    assert.deepEqual(
      ['Plan batches', 'Embed batches', 'Merge into index'].map((state) => entered.filter((s) => s === state).length),
      [1, 2, 1],
    );
    assert.deepEqual(h.indexedIds(), ids(120));
    assert.deepEqual(await h.pendingIds(), []);
    assert.equal(await h.lease(), undefined);
  });

  it('a redrive after another run has taken the lease fails at once, changing nothing', async () => {
    // Prepare: a run fails in its merge; the next run takes the lease over from it and indexes everything
    await start();
    await h.put(sentences(60));
    h.overrides = () => ({
      merge: async () => {
        throw new PermanentError('injected: the merge cannot go on');
      },
    });
    const failed = await h.run();
    assert.equal(failed.status, 'FAILED');
    assert.deepEqual([failed.error, failed.cause], ['PermanentError', 'injected: the merge cannot go on']);
    h.overrides = () => ({});
    const next = await h.run();
    assert.equal(next.status, 'SUCCEEDED', next.cause);
    assert.equal(next.output['lease'].tookOverFrom.status, 'FAILED');
    const generation = h.index()!.generation;
    // Act
    await h.stack.clients.stepFunctions.send(new RedriveExecutionCommand({ executionArn: failed.executionArn }));
    const redriven = await h.outcome(failed.executionArn);
    // Assess: it went on from its merge, which found the lease taken, and says what to do instead
    assert.equal(redriven.status, 'FAILED');
    assert.equal(redriven.error, 'LeaseLostError');
    assert.match(String(redriven.cause), /no longer holds the writer lease: another run has taken it.*Start a new run/);
    const entered = await h.statesEntered(failed.executionArn);
    assert.deepEqual(
      entered.slice(entered.lastIndexOf('Plan batches') + 1).filter((s) => s === 'Merge into index'),
      ['Merge into index', 'Merge into index'],
    );
    assert.equal(h.index()!.generation, generation, 'the index was not changed');
    assert.deepEqual(h.indexedIds(), ids(60));
  });
});
