import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyBundle } from '../../embedding/bundle.ts';
import { bootstrapModel } from '../../indexer/bootstrap.ts';
import { ListMapRunsCommand, paginateListExecutions } from '@aws-sdk/client-sfn';
import { readHistory } from '../../workflow/indexer-client.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('indexer stages', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'max-items-per-run': '50' });
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('bootstrap: two cold starts at once publish one verified bundle and leave no partial copy', async (t) => {
    // Prepare: an EFS folder of its own, empty whatever ran before
    const efs = tempDir();
    t.after(() => efs.remove());
    // Act: both find EFS empty and copy at the same time
    const context = { config: { ...h.config, efsRoot: efs.path }, clients: h.stack.clients };
    const [first, second] = await Promise.all([bootstrapModel(context), bootstrapModel(context)]);
    const again = await bootstrapModel(context);
    // Assess
    assert.equal(first.dir, second.dir);
    assert.ok(first.copied || second.copied);
    const manifest = await verifyBundle(path.join(efs.path, first.dir));
    assert.equal(manifest.checksum, first.checksum);
    assert.deepEqual(readdirSync(path.join(efs.path, 'models')), [path.basename(first.dir)], 'no staging folder left');
    assert.equal(again.copied, false, 'a later run finds it there');
  });

  it('plan: a run takes at most maxItemsPerRun items; the rest wait for the next runs', async () => {
    // Prepare
    await h.put(sentences(120));
    // Act
    const runs = [await h.run(), await h.run(), await h.run()];
    // Assess
    assert.deepEqual(
      runs.map((run) => run.output['plan'].itemCount),
      [50, 50, 20],
    );
    assert.deepEqual(
      runs.map((run) => run.output['plan'].capped),
      [true, true, false],
    );
    assert.equal(h.indexedIds().length, 120);
    assert.deepEqual(await h.pendingIds(), []);
  });

  it("embed: each Map iteration receives a small descriptor, never the batch's keys", async () => {
    // Prepare: one batch of 50 keys (the other tests leave nothing pending)
    // (their JSON alone would be about 2 KB)
    await h.put(sentences(50, 'descriptor'));
    // Act
    const run = await h.run();
    // The iterations are the Map Run's child executions, each with its own history (as on AWS)
    const sfn = h.stack.clients.stepFunctions;
    const [mapRun] = (await sfn.send(new ListMapRunsCommand({ executionArn: run.executionArn }))).mapRuns ?? [];
    const events = [];
    for await (const page of paginateListExecutions({ client: sfn }, { mapRunArn: mapRun?.mapRunArn }))
      for (const child of page.executions ?? []) events.push(...(await readHistory(sfn, child.executionArn!)));
    const inputs = events
      .filter((event) => event.type === 'TaskStateEntered' && event.stateEnteredEventDetails?.name === 'Embed batch')
      .map((event) => event.stateEnteredEventDetails!.input!);
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.equal(inputs.length, 1);
    for (const input of inputs) {
      assert.ok(Buffer.byteLength(input) < 1024, `an iteration's input is ${Buffer.byteLength(input)} bytes`);
      assert.deepEqual(Object.keys(JSON.parse(input)).sort(), ['batch', 'model', 'run']);
      assert.doesNotMatch(input, /descriptor-00/, 'no item key crosses the Map');
    }
  });
});
