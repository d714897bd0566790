/**
 * The indexer's state data does not grow with the run: the batch list and the Embed Map's
 * results live on S3 (ItemReader, ResultWriter), so a run of 3,000 batches (batch size 1) and a
 * backfill of them carry the same state data as a run of 20, and all stay far under Step
 * Functions' 256 KiB, which the local engine enforces.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readHistory } from '../../workflow/indexer-client.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

/** The largest state input or output in an execution's history, in bytes. */
function largestStateData(events: readonly HistoryEvent[]): number {
  return Math.max(
    ...events.map((event) =>
      Buffer.byteLength(event.stateEnteredEventDetails?.input ?? event.stateExitedEventDetails?.output ?? ''),
    ),
  );
}

describe('indexer state data at scale', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  const largest: Record<string, number> = {};
  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'batch-size': '1', 'max-concurrency': '8' });
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  const runAndMeasure = async (label: string, mode?: 'backfill') => {
    const outcome = await h.run(mode);
    largest[label] = largestStateData(await readHistory(h.stack.clients.stepFunctions, outcome.executionArn));
    return outcome;
  };

  it('indexes 20 batches', async () => {
    await h.put(sentences(20, 'small'));
    const outcome = await runAndMeasure('20 batches');
    assert.equal(outcome.status, 'SUCCEEDED', outcome.cause);
    assert.equal(outcome.output['plan'].batchCount, 20);
  });

  it('indexes 3,000 batches with the same state data as 20', async () => {
    // Act
    await h.put(sentences(3_000, 'big'));
    const outcome = await runAndMeasure('3,000 batches');
    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', outcome.cause);
    assert.equal(outcome.output['plan'].batchCount, 3_000);
    assert.equal(outcome.output['merge'].added, 3_000);
    assert.deepEqual(await h.pendingIds(), []);
    assert.ok(largest['3,000 batches']! - largest['20 batches']! < 100, JSON.stringify(largest));
    assert.ok(largest['3,000 batches']! < 8 * 1024, JSON.stringify(largest));
  });

  it('backfills all 3,020 items as 3,020 batches, with the same state data', async () => {
    const outcome = await runAndMeasure('backfill', 'backfill');
    assert.equal(outcome.status, 'SUCCEEDED', outcome.cause);
    assert.equal(outcome.output['plan'].batchCount, 3_020);
    assert.equal(outcome.output['merge'].replaced, 3_020);
    assert.ok(largest['backfill']! - largest['20 batches']! < 100, JSON.stringify(largest));
  });
});
