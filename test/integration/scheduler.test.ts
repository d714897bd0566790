import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parseInterval, Scheduler } from '../../workflow/scheduler.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { FREE_PORT_FLAGS, tempDir } from '../helpers/local-stack.ts';

describe('scheduler', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path);
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  it('parses durations and rejects nonsense', () => {
    assert.equal(parseInterval('30s'), 30_000);
    assert.equal(parseInterval('5m'), 300_000);
    assert.equal(parseInterval('1.5h'), 5_400_000);
    assert.throws(() => parseInterval('soon'), /not a duration/);
    assert.throws(() => parseInterval('10ms'), /too short/);
  });

  it('like EventBridge Scheduler, starts every tick; a tick that overlaps a run ends at once as skipped, without bootstrap', async () => {
    // Prepare: a run whose embed stage takes a while
    await h.put(sentences(60));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.overrides = (real) => ({
      embed: async (event) => {
        await gate;
        return real.embed(event);
      },
    });
    const lines: string[] = [];
    const scheduler = new Scheduler({
      stepFunctions: h.stack.clients.stepFunctions,
      stateMachineArn: h.stack.stateMachineArns['indexer']!,
      everyMs: 60_000,
      log: (line) => lines.push(line),
    });
    // Act
    const first = await scheduler.tick();
    const overlapping = await h.outcome(await scheduler.tick());
    release();
    const firstOutcome = await h.outcome(first);
    h.overrides = () => ({});
    const third = await h.outcome(await scheduler.tick());
    // Assess
    assert.equal(overlapping.status, 'SUCCEEDED', overlapping.cause);
    assert.match(
      overlapping.output['lease'].skipped,
      new RegExp(`another run \\(${first.split(':').pop()}, still running\\) holds the index`),
    );
    const states = await h.statesEntered(overlapping.executionArn);
    assert.equal(states.at(-1), 'Index held by another run');
    assert.ok(!states.includes('Bootstrap model'), 'the overlapping run loads no model');
    assert.equal(firstOutcome.status, 'SUCCEEDED');
    assert.equal(firstOutcome.output['plan'].itemCount, 60);
    assert.equal(third.output['lease'].acquired, true);
    assert.equal(lines.filter((line) => /scheduler: started scheduled-/.test(line)).length, 3);
    const executions = await h.stack.clients.stepFunctions.send(
      new ListExecutionsCommand({ stateMachineArn: h.stack.stateMachineArns['indexer'] }),
    );
    assert.equal(executions.executions!.filter((execution) => execution.name?.startsWith('scheduled-')).length, 3);
    assert.deepEqual(await h.pendingIds(), []);
  });

  it('ddb-faiss schedule runs on the interval and stops cleanly on SIGINT', async () => {
    // Prepare: `up` for the stack is this process's harness; the command finds it through stack.json
    const cli = new URL('../../bin/ddb-faiss.js', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      [
        '--openssl-legacy-provider',
        cli,
        'schedule',
        '--every',
        '1s',
        '--state-machine',
        'indexer',
        '--data-dir',
        dir.path,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Act: wait for a scheduled start, then interrupt
    const deadline = Date.now() + 20_000;
    while (!/scheduler: started/.test(output) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGINT');
    const code = await exit;
    // Assess
    assert.match(output, /an incremental run every 1 s/);
    assert.match(output, /scheduler: started scheduled-/);
    assert.match(output, /SIGINT: stopping the scheduler\s+stopped/);
    assert.equal(code, 0);
  });
});

describe('ddb-faiss up --schedule-every', () => {
  it('runs scheduled executions inside up and shuts down cleanly', async () => {
    const dir = tempDir();
    const cli = new URL('../../bin/ddb-faiss.js', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      ['--openssl-legacy-provider', cli, 'up', '--data-dir', dir.path, ...FREE_PORT_FLAGS, '--schedule-every', '1s'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 60_000;
    while (!/scheduler: started/.test(output) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    assert.equal(await exit, 0, output);
    // up prints the task handlers' log lines, one readable line each, among its own.
    const lines = output.split('\n');
    const isTaskLog = (line: string) => /^\d\d:\d\d:\d\d\.\d{3} {2}[A-Z]+ /.test(line);
    const prose = lines.filter((line) => !isTaskLog(line)).join('\n');
    assert.match(prose, /monitor\s+http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(prose, /scheduler: started scheduled-/);
    assert.match(prose, /SIGTERM: stopping\s+stopped/);
    assert.ok(
      lines.filter(isTaskLog).some((line) => /^\S+ {2}INFO +lease +scheduled-\S+ {2}lease started$/.test(line)),
      output,
    );
    dir.remove();
  });
});
