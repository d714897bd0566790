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
import { settle } from '../helpers/capture.ts';
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
    const write = (requests: WriteRequest[]) => batchWriteItems(clients.dynamodb, config.tableName, requests);
    const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

    // Act: 2,000 puts, 2,000 rewrites, 1,000 deletes; SIGKILL as soon as the last is written
    await write(range(0, ITEMS).map((i) => ({ PutRequest: { Item: item(i, 1) } })));
    await write(range(0, ITEMS).map((i) => ({ PutRequest: { Item: item(i, 2) } })));
    await write(range(ITEMS / 2, ITEMS).map((i) => ({ DeleteRequest: { Key: key(i) } })));
    await first.kill('SIGKILL');
    destroyAwsClients(clients);
    const capturedAtKill = readCaptureState(dir.path).totals.records;
    const again = await up(dir.path, STREAM_FLAGS);
    clients = createAwsClients(config, readStackInfo(config)!.endpoints);
    try {
      const expected = new Map(range(0, ITEMS / 2).map((i) => [texts[i]!.id, 2]));
      const indexed = await settle(
        {
          config,
          dynamodb: clients.dynamodb,
          stepFunctions: clients.stepFunctions,
          stateMachineArn: readStackInfo(config)!.stateMachineArn,
        },
        expected,
        240_000,
      );
      // Assess
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
