import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachConcurrently } from '../../aws/concurrency.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('forEachConcurrently', () => {
  it('runs at most `limit` tasks at once and every item once', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrently(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async (item) => {
        most = Math.max(most, ++running);
        await sleep(2);
        seen.push(item);
        running -= 1;
      },
    );
    assert.equal(most, 3);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  it('after a failure starts no new task, and rejects only once the tasks in flight have ended', async () => {
    // Prepare: item 5 fails; every task takes a while
    const started: number[] = [];
    let running = 0;
    // Act
    const outcome = await forEachConcurrently(
      Array.from({ length: 100 }, (_, i) => i),
      4,
      async (item) => {
        started.push(item);
        running += 1;
        try {
          await sleep(item === 5 ? 5 : 20);
          if (item === 5) throw new Error('item 5 failed');
        } finally {
          running -= 1;
        }
      },
    ).then(
      () => 'resolved',
      (error: Error) => ({ error: error.message, runningAtRejection: running, startedAtRejection: started.length }),
    );
    await sleep(100);
    // Assess
    assert.deepEqual(outcome, { error: 'item 5 failed', runningAtRejection: 0, startedAtRejection: started.length });
    assert.ok(started.length <= 9, `${started.length} tasks started; only those in flight when item 5 failed may have`);
  });
});
