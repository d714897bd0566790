/**
 * The handlers' logs and metrics (Powertools Logger and Metrics as middy middlewares): every
 * log line of a run is structured JSON with the execution and the stage, an embed call's lines
 * carry the batch, and the run's metrics (backlog, items embedded, run duration and items/s,
 * search latency) are published as EMF documents, here into the local metrics file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { localMetricsFile, localObservability } from '../../lambda-host/observability.ts';
import { METRICS, METRICS_NAMESPACE } from '../../tasks/metrics.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { captureLogLines, type LogLine } from '../helpers/logs.ts';

describe('logs and metrics of the task handlers', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(
      dir.path,
      { 'batch-size': '20' },
      localObservability({ dataDir: dir.path, logLevel: 'INFO' }),
    );
    await h.put(sentences(50));
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('logs every stage of a run as JSON lines with the execution and stage, embed lines with the batch', async () => {
    // Act
    let execution = '';
    const lines = await captureLogLines(async () => {
      const outcome = await h.run();
      assert.equal(outcome.status, 'SUCCEEDED');
      execution = outcome.executionArn.split(':').pop()!;
    });
    // Assess
    const stages = new Set(lines.map((line) => line['stage']));
    // A run that succeeds never enters Record failure (release): clear gives the lease back.
    for (const stage of ['lease', 'bootstrap', 'plan', 'embed', 'merge', 'clear'])
      assert.ok(stages.has(stage), `no log line of ${stage}`);
    assert.ok(
      lines.every((line) => line['execution'] === execution && line['service'] === 'ddb-faiss'),
      'a line without the execution',
    );
    const embedded = lines.filter((line) => line['message'] === 'embed succeeded');
    assert.deepEqual(embedded.map((line) => line['batch']).sort(), [1, 2, 3]);
    const merged = lines.find((line) => line['message'] === 'merge succeeded');
    assert.equal((merged?.['result'] as LogLine | undefined)?.['added'], 50);
  });

  it("publishes the run's and the search's metrics as EMF documents", async () => {
    // Act
    let answer = { status: 0 };
    await captureLogLines(async () => {
      answer = await h.search('q=a+dog+runs&k=3');
    });
    // Assess
    assert.equal(answer.status, 200);
    const documents = readFileSync(localMetricsFile(dir.path), 'utf8')
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } },
      );
    assert.ok(documents.every((document) => document._aws.CloudWatchMetrics[0]!.Namespace === METRICS_NAMESPACE));
    const values = (name: string) => documents.flatMap((document) => (name in document ? [document[name]] : []));
    assert.deepEqual(values(METRICS.pendingItems.name), [50]);
    assert.deepEqual((values(METRICS.itemsEmbedded.name) as number[]).sort(), [10, 20, 20]);
    assert.deepEqual(values(METRICS.itemsIndexed.name), [50]);
    const [seconds] = values(METRICS.runDuration.name) as number[];
    assert.ok(seconds! > 0 && seconds! < 120, `run duration ${seconds}`);
    const [perSecond] = values(METRICS.itemsPerSecond.name) as number[];
    assert.ok(Math.abs(perSecond! - 50 / seconds!) < 1e-6);
    assert.equal(values(METRICS.searchLatency.name).length, 1);
  });

  it('logs a search with its status, not its hits', async () => {
    // Act
    const lines = await captureLogLines(async () => {
      await h.search('q=a+dog+runs&k=3');
    });
    // Assess
    const answered = lines.find((line) => line['message'] === 'search succeeded');
    assert.deepEqual(answered?.['result'], { statusCode: 200 });
  });
});
