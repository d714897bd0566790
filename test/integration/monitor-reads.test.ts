/**
 * The monitor polls once a second from every open page: its DynamoDB reads must not grow
 * with the backlog or with the number of pages. The backlog is counted up to a cap, at most
 * once per refresh interval, and the poison list is read up to a limit.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

/**
 * The refresh interval under test: long enough that eleven polls on a loaded machine (a parallel
 * test run) all fall inside one, short enough to wait out.
 */
const REFRESH_MS = 2_000;

describe('monitor reads (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  let monitor: Awaited<ReturnType<IndexerHarness['serveMonitor']>>;
  let base = '';
  /** Items DynamoDB read for the monitor's scans, and the scans themselves. */
  const reads = { scans: 0, scanned: 0 };
  before(async () => {
    h = await IndexerHarness.start(dir.path);
    await h.put(sentences(35));
    // A client of the monitor's own, so only its requests are counted.
    const dynamodb = new DynamoDBClient({
      region: h.config.region,
      endpoint: h.stack.info.endpoints.dynamodb,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if ((context as { commandName?: string }).commandName === 'ScanCommand') {
          reads.scans += 1;
          reads.scanned += (result.output as { ScannedCount?: number }).ScannedCount ?? 0;
        }
        return result;
      },
      { step: 'initialize' },
    );
    monitor = await h.serveMonitor({
      clients: { ...h.stack.clients, dynamodb },
      backlog: { pendingCap: 20, refreshMs: REFRESH_MS },
    });
    base = monitor.base;
  });
  after(async () => {
    await monitor.close();
    await h.close();
    dir.remove();
  });

  it('counts the backlog up to its cap, once per refresh interval however many pages poll', async () => {
    // Act: ten pages poll at once, then again; after the interval, once more
    const poll = async () =>
      (await fetch(`${base}/api/status`)).json() as Promise<{ pending: number; pendingCapped: boolean }>;
    const first = await Promise.all(Array.from({ length: 10 }, poll));
    await poll();
    const afterBurst = { ...reads };
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 100));
    await poll();
    // Assess
    assert.ok(
      first.every((status) => status.pending === 20 && status.pendingCapped),
      JSON.stringify(first[0]),
    );
    assert.equal(afterBurst.scans, 1, 'one count for eleven polls');
    assert.ok(afterBurst.scanned <= 20, `read ${afterBurst.scanned} keys; the cap is 20`);
    assert.equal(reads.scans, 2, 'counted again after the refresh interval');
  });
});
