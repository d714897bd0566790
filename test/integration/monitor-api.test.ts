/**
 * The monitor's API over real runs on the local stack: the execution list filtered by mode
 * and status and paged, the charts' series (each run's duration and items/s, the backlog,
 * search latency p50/p99 from the published metrics), and the live progress record a long
 * merge or clear stage keeps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PermanentError } from '../../aws/errors.ts';
import { reportStageProgress } from '../../indexer/stage-progress.ts';
import { readRunProgress } from '../../workflow/index-status.ts';
import { startRun } from '../../workflow/indexer-client.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

interface Row {
  readonly name: string;
  readonly origin: string;
  readonly status: string;
}

describe('monitor API (local stack)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  let monitor: Awaited<ReturnType<IndexerHarness['serveMonitor']>>;
  let base = '';
  const runs: string[] = [];
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  before(async () => {
    h = await IndexerHarness.start(dir.path, { 'batch-size': '20' });
    // Three manual runs of 30, 10 and 10 items, then a backfill, named as ddb-faiss names them
    const run = async (origin: 'manual' | 'backfill') => {
      const arn = await startRun(h.stack.clients.stepFunctions, h.stack.stateMachineArns['indexer']!, origin);
      assert.equal((await h.outcome(arn)).status, 'SUCCEEDED');
      runs.push(arn.split(':').pop()!);
    };
    for (const [n, prefix] of [
      [30, 'a'],
      [10, 'b'],
      [10, 'c'],
    ] as const) {
      await h.put(sentences(n, prefix));
      await run('manual');
    }
    await run('backfill');
    monitor = await h.serveMonitor();
    base = monitor.base;
  });
  after(async () => {
    await monitor.close();
    await h.close();
    dir.remove();
  });

  it('filters executions by mode and status and pages through them, newest first', async () => {
    // Act
    const first = await get('/api/executions?mode=manual&pageSize=2');
    const second = await get(`/api/executions?mode=manual&pageSize=2&nextToken=${first.body['nextToken'] as string}`);
    const backfills = await get('/api/executions?mode=backfill');
    const failed = await get('/api/executions?status=FAILED');
    // Assess
    const names = (page: { body: Record<string, unknown> }) =>
      (page.body['executions'] as Row[]).map((row) => row.name);
    assert.deepEqual(names(first), [runs[2], runs[1]]);
    assert.deepEqual(names(second), [runs[0]]);
    assert.equal(second.body['nextToken'], undefined, 'the last page has no next');
    assert.deepEqual(names(backfills), [runs[3]]);
    assert.deepEqual(names(failed), []);
  });

  it('refuses a bad filter, naming every problem', async () => {
    // Act
    const answer = await get('/api/executions?mode=hourly&status=DONE&pageSize=0');
    const token = await get('/api/executions?nextToken=not-ours');
    // Assess
    assert.equal(answer.status, 400);
    assert.match(String(answer.body['message']), /status must be one of RUNNING.*mode must be one of manual.*pageSize/);
    assert.equal(token.status, 400);
    assert.match(String(token.body['message']), /nextToken/);
  });

  it("charts each run's duration and items/s, the backlog and search latency from the published metrics", async () => {
    // Prepare
    for (const q of ['a dog plays', 'a man sings', 'the cat sleeps'])
      assert.equal((await h.search(`q=${q}`)).status, 200);
    // Act
    const { body } = await get('/api/charts');
    // Assess
    const points = body['runs'] as { name: string; items: number; seconds: number; itemsPerSecond: number }[];
    assert.deepEqual(
      points.map((run) => run.name),
      runs,
      'oldest first',
    );
    assert.deepEqual(
      points.map((run) => run.items),
      [30, 10, 10, 50],
    );
    for (const run of points) assert.ok(Math.abs(run.itemsPerSecond - run.items / run.seconds) < 1e-9);
    const backlog = body['backlog'] as [number, number][];
    assert.ok(
      backlog.some(([, pending]) => pending === 30),
      JSON.stringify(backlog),
    );
    assert.equal(backlog.at(-1)![1], 0, 'ends with the count now');
    const latency = body['searchLatency'] as { p50: number; p99: number; count: number }[];
    assert.equal(
      latency.reduce((sum, point) => sum + point.count, 0),
      3,
    );
    assert.ok(latency.every((point) => point.p50 > 0 && point.p99 >= point.p50));
  });

  it('keeps the progress of a stage running past a second, complete at its end; none of a shorter one', async (t) => {
    // Prepare: the clock in the test's hands (Date only; the table's requests run in real time)
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const context = { config: h.config, clients: h.stack.clients };
    const runOf = (execution: string) => ({
      mode: 'incremental' as const,
      execution,
      executionArn: `arn:${execution}`,
    });
    const recorded = async () => {
      const record = await readRunProgress(h.config, h.stack.clients);
      return record && { execution: record.execution, stage: record.stage, done: record.done, total: record.total };
    };
    // Act: a stage over within its first second (the runs' own: 50 items at most each)
    const brief = reportStageProgress(context, runOf('brief'), 'clear', 50, 'flags cleared');
    brief.update(50);
    await brief.finish();
    const afterBrief = await recorded();
    // Act: a stage that reports at 0.5 s, 1 s and 2.5 s, then ends
    const long = reportStageProgress(context, runOf('long'), 'merge', 300, 'items read and vectors written');
    const counts: ({ done: number } | null)[] = [];
    for (const [elapsedMs, done] of [
      [500, 10],
      [500, 40],
      [1_500, 200],
    ] as const) {
      t.mock.timers.tick(elapsedMs);
      long.update(done);
      // The write is chained, not awaited by update: give it time to land.
      await new Promise((resolve) => setTimeout(resolve, 200));
      counts.push(await recorded());
    }
    await long.finish(300);
    // Assess
    assert.ok(afterBrief?.execution !== 'brief', `a stage over within a second wrote ${JSON.stringify(afterBrief)}`);
    assert.deepEqual(
      counts.map((count) => count?.done ?? null),
      [afterBrief?.done ?? null, 40, 200],
      'first written a second in, then at most once a second',
    );
    assert.deepEqual(await recorded(), { execution: 'long', stage: 'merge', done: 300, total: 300 });
    assert.equal((await readRunProgress(h.config, h.stack.clients))?.unit, 'items read and vectors written');
  });

  it('reports a finished execution with every state visited, its transitions and the Map iterations', async () => {
    // Act
    const { body } = await get(`/api/executions/${runs[0]}`);
    // Assess
    const states = new Map((body['states'] as { name: string; entered: number }[]).map((s) => [s.name, s.entered]));
    assert.equal(states.get('Embed batches'), 1);
    // The iterations are child executions, as on AWS: counted from the Map Run, not the run's history
    assert.equal(states.get('Embed batch'), undefined);
    assert.deepEqual(body['iterations'], { started: 2, succeeded: 2, failed: 0 });
    const edges = (body['edges'] as { from: string; to: string }[]).map((edge) => `${edge.from} -> ${edge.to}`);
    assert.ok(edges.includes('Embed batches -> Merge into index'), edges.join('\n'));
    assert.ok(edges.includes('Clear pending flags -> More to clear?') && edges.includes('More to clear? -> Indexed'));
  });

  it("reports a run's page: its outcome, the timeline of its states, its events and its Map Run's batches", async () => {
    // Act
    const { body } = await get(`/api/executions/${runs[0]}`);
    // Assess
    assert.deepEqual(body['outcome'], { indexed: 30, display: 'SUCCEEDED', words: '30 items indexed' });
    assert.deepEqual(body['change'], { generation: 1, added: 30, replaced: 0, removed: 0, poison: 0 });
    const spans = body['timeline'] as { state: string; startMs: number; endMs: number }[];
    assert.ok(spans.some((span) => span.state === 'Merge into index' && span.endMs >= span.startMs));
    const events = body['events'] as { type: string; elapsedMs: number }[];
    assert.equal(events[0]!.type, 'ExecutionStarted');
    assert.equal(events.at(-1)!.type, 'ExecutionSucceeded');
    const mapRun = body['mapRun'] as { counts: Record<string, number>; batches: { status: string; items: number }[] };
    assert.equal(mapRun.counts['succeeded'], 2);
    assert.deepEqual(
      mapRun.batches.map((batch) => [batch.status, batch.items]),
      [
        ['embedded', 20],
        ['embedded', 10],
      ],
    );
    assert.equal(body['redrivable'], false);
  });

  it('serves the page and its bundled script; refuses a bad start and a redrive of a run that succeeded', async () => {
    // Act
    const page = await fetch(`${base}/executions/${runs[0]}`);
    const script = await fetch(`${base}/assets/monitor.js`);
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify(body),
      });
    const badStart = await post('/api/runs', { mode: 'hourly', input: [1] });
    const redrive = await post(`/api/executions/${runs[0]}/redrive`, {});
    // Assess
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/assets\/monitor.js">/);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok((await script.text()).length > 10_000, 'the page code with uPlot');
    assert.equal(badStart.status, 400);
    assert.match(
      ((await badStart.json()) as { message: string }).message,
      /mode must be "incremental" or "backfill".*input must be a JSON object/,
    );
    assert.equal(redrive.status, 409);
    assert.match(((await redrive.json()) as { message: string }).message, /SUCCEEDED and cannot be redriven/);
  });

  it("names each failed batch on the run's page, with its error, cause and the items it left pending", async () => {
    // Prepare: 50 items in 3 batches; the second cannot be embedded
    await h.put(sentences(50, 'd'));
    h.overrides = (real) => ({
      embed: async (event) => {
        if (event.batch.batch === 2) throw new PermanentError('injected: this batch cannot be embedded');
        return real.embed(event);
      },
    });
    const arn = await startRun(h.stack.clients.stepFunctions, h.stack.stateMachineArns['indexer']!, 'manual');
    assert.equal((await h.outcome(arn)).status, 'SUCCEEDED');
    h.overrides = () => ({});
    // Act
    const { body } = await get(`/api/executions/${arn.split(':').pop()}`);
    // Assess
    const mapRun = body['mapRun'] as {
      batches: { batch: number; items: number; status: string; error?: string; cause?: string }[];
      itemsLeftPending: number;
    };
    const failed = mapRun.batches.filter((batch) => batch.status === 'failed');
    assert.deepEqual(
      failed.map((batch) => [batch.batch, batch.items, batch.error, batch.cause]),
      [[2, 20, 'PermanentError', 'injected: this batch cannot be embedded']],
    );
    assert.equal(mapRun.itemsLeftPending, 20);
    assert.equal(mapRun.batches.filter((batch) => batch.status === 'embedded').length, 2);
  });
});
