/**
 * The request meter on a running stack: a run's stages, hosted as Lambda handlers, reach every
 * service through metered clients, so what a run costs (`npm run bench:cost`) is counted from all
 * of its requests; and what a user's own code sends, unmetered, is left out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestMeter } from '../../aws/request-meter.ts';
import { sentences, useHarness } from '../helpers/indexer.ts';

describe('the request meter on a run', () => {
  const harness = useHarness();

  it("counts every service a run's stages call, with DynamoDB's capacity, and not the user's writes", async () => {
    // Prepare: 60 flagged items, written by the "user" unmetered
    const { h } = harness;
    requestMeter.reset();
    await requestMeter.unmetered(() => h.put(sentences(60)));
    const afterWrites = requestMeter.tally();
    // Act
    const run = await h.run();
    const tally = requestMeter.tally();
    // Assess
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    assert.deepEqual(afterWrites, [], "the user's writes are not counted");
    const services = new Set(tally.map((row) => row.service));
    for (const service of ['DynamoDB', 'S3', 'SFN']) assert.ok(services.has(service), `${service} is counted`);
    const read = tally.find((row) => row.operation === 'BatchGetItem');
    assert.ok(read && read.readUnits >= 30, `the embed stage's reads of 60 items: ${JSON.stringify(read)}`);
    const cleared = tally
      .filter((row) => row.service === 'DynamoDB')
      .reduce((sum, row) => sum + row.writeUnits + row.unreportedItems, 0);
    assert.ok(cleared >= 60, `a write for each flag cleared (units or unreported statements): ${cleared}`);
  });
});
