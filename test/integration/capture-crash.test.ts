/**
 * Stream mode through a crash (issue 32): `up` is killed with SIGKILL while it captures a burst of
 * 5,000 changes; once it is started again, every item is indexed exactly once at its last version
 * and every deleted item is absent: the checkpoint loses no record, and the records replayed since
 * it are absorbed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { batchWriteItems } from '../../aws/dynamodb-batch.ts';
import { createAwsClients, destroyAwsClients } from '../../aws/clients.ts';
import { loadConfig } from '../../config/config.ts';
import { readStackInfo } from '../../local-stack/stack-info.ts';
import { readCaptureState } from '../../local-stack/stream-follower.ts';
import { settle, watchedUp } from '../helpers/capture.ts';
import { FREE_PORTS, tempDir } from '../helpers/local-stack.ts';
import { sentences } from '../helpers/indexer.ts';
import { up } from '../helpers/up.ts';

const ITEMS = 2_000;
const STREAM_FLAGS = ['--change-capture', 'stream'];

describe('stream mode through kill -9 of up', () => {
  it('indexes every item exactly once at its last version after a crash mid-burst of 5,000 changes', async () => {
    // Prepare
    const dir = tempDir();
    const config = loadConfig({ flags: { ...FREE_PORTS, 'data-dir': dir.path, 'change-capture': 'stream' }, env: {} });
    const first = await up(dir.path, STREAM_FLAGS);
    const texts = sentences(ITEMS, 'burst');
    const item = (i: number, rev: number): Record<string, AttributeValue> => ({
      [config.groupAttribute]: { S: 'g' },
      [config.idAttribute]: { S: texts[i]!.id },
      [config.contentAttribute]: { S: rev === 1 ? texts[i]!.text! : `${texts[i]!.text!}, revised` },
      rev: { N: String(rev) },
    });
    const key = (i: number): Record<string, AttributeValue> => ({
      [config.groupAttribute]: { S: 'g' },
      [config.idAttribute]: { S: texts[i]!.id },
    });
    let clients = createAwsClients(config, readStackInfo(config)!.endpoints);
    const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
    // 2,000 puts, 2,000 rewrites, 1,000 deletes, 25 to a request, in this order.
    const requests: WriteRequest[] = [
      ...range(0, ITEMS).map((i) => ({ PutRequest: { Item: item(i, 1) } })),
      ...range(0, ITEMS).map((i) => ({ PutRequest: { Item: item(i, 2) } })),
      ...range(ITEMS / 2, ITEMS).map((i) => ({ DeleteRequest: { Key: key(i) } })),
    ];
    const batches = range(0, requests.length / 25).map((i) => requests.slice(i * 25, i * 25 + 25));
    /** Writes the batches from `from` on, one at a time; @returns the first one not acknowledged */
    const writeFrom = async (from: number): Promise<number> => {
      for (let i = from; i < batches.length; i++) {
        try {
          await batchWriteItems(clients.dynamodb, config.tableName, batches[i]!);
        } catch {
          return i;
        }
      }
      return batches.length;
    };

    // Act: SIGKILL once the capture has read 2,000 records, while the burst is still being written
    let capturedAtKill = 0;
    const killed = (async () => {
      for (;;) {
        capturedAtKill = readCaptureState(dir.path).totals.records;
        if (capturedAtKill >= 2_000) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await first.kill('SIGKILL');
    })();
    const stoppedAt = await writeFrom(0);
    await killed;
    destroyAwsClients(clients);
    const again = await up(dir.path, STREAM_FLAGS);
    clients = createAwsClients(config, readStackInfo(config)!.endpoints);
    try {
      // The batch in flight at the kill may or may not have landed: it and the rest are written again
      // (puts and deletes of the same values: the table ends as if written once).
      const resumed = await writeFrom(Math.max(0, stoppedAt));
      const expected = new Map(range(0, ITEMS / 2).map((i) => [texts[i]!.id, 2]));
      const indexed = await settle(watchedUp(config, clients), expected, 240_000);
      // Assess
      assert.equal(resumed, batches.length, 'every batch written after the restart');
      assert.ok(
        stoppedAt < batches.length,
        `the kill came mid-burst (${stoppedAt} of ${batches.length} batches written)`,
      );
      assert.ok(capturedAtKill < 5_000, `the kill came mid-capture (${capturedAtKill} records read)`);
      assert.deepEqual(indexed, expected);
      assert.equal(readCaptureState(dir.path).totals.failedBatches, 0);
    } finally {
      destroyAwsClients(clients);
      await again.kill('SIGINT');
      dir.remove();
    }
  });
});
