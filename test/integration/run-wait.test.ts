/**
 * What `run --wait` and `status` tell a user about runs: each stage once, with its counts; the
 * progress of every long stage as it goes (the Map's batches, the flags cleared), with what is
 * counted; and in `status`, each recent run's duration and what it did, a run that found the
 * index held by another shown as skipped rather than as a run that succeeded.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../local-stack/stack.ts';
import { startLocalStack } from '../../local-stack/stack.ts';
import { ensureModelPublished, localStackProps } from '../../workflow/local-stack-props.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir, testConfig } from '../helpers/local-stack.ts';

const ITEMS = 3_000;

describe('run --wait and status, as a user reads them', () => {
  const dir = tempDir();
  let stack: LocalStack;
  const flags = (): string[] => ['--data-dir', dir.path];
  before(async () => {
    const config = testConfig(dir.path, { 'batch-size': '500' });
    stack = await startLocalStack(localStackProps(config));
    await ensureModelPublished(stack.clients.s3, config);
    const file = path.join(dir.path, 'items.jsonl');
    const lines = Array.from({ length: ITEMS }, (_, i) =>
      JSON.stringify({ id: `i${i}`, group: `g${i % 5}`, content: `item ${i} about a quiet river and a tall tree` }),
    );
    writeFileSync(file, lines.join('\n'));
    assert.equal((await runCli(['import', file, ...flags()])).code, 0);
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it('prints each stage once, and the progress of the Map and of clearing flags as they go', async () => {
    // Act: output not a terminal (CI, a pipe): plain lines
    const run = await runCli(['run', '--wait', ...flags()]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const embedLines = run.stdout.split('\n').filter((line) => line.startsWith('+ Embed batches'));
    assert.deepEqual(embedLines.length, 1, run.stdout);
    assert.match(embedLines[0]!, /\+ Embed batches +succeeded +6 of 6 batches embedded/);
    assert.doesNotMatch(run.stdout, /0 of 6 batches done/);
    assert.match(run.stdout, /^> Embed batches +\d\/6 batches$/m);
    assert.match(run.stdout, new RegExp(`^> Clear pending flags +\\d+/${ITEMS} flags cleared$`, 'm'));
    assert.match(run.stdout, new RegExp(`\\+ Clear pending flags +succeeded +${ITEMS} flags cleared`));
  });

  it('lists recent runs in status with their durations and what they did, a skipped run as SKIPPED', async () => {
    // Prepare: a run while another holds the index
    const pending = path.join(dir.path, 'more.jsonl');
    writeFileSync(pending, JSON.stringify({ id: 'late', group: 'g0', content: 'one more item' }));
    await runCli(['import', pending, ...flags()]);
    // Two runs at once: one takes the writer lease, the other finds it held and does nothing.
    const both = await Promise.all([0, 1].map(() => runCli(['run', '--wait', '--json', ...flags()])));
    const outputs = both.map((run) => JSON.parse(run.stdout).output);
    assert.equal(outputs.filter((output) => output.lease.acquired === false).length, 1, JSON.stringify(outputs));
    // Act
    const status = await runCli(['status', ...flags()]);
    const json = JSON.parse((await runCli(['status', '--json', ...flags()])).stdout);
    // Assess
    const runs = status.stdout.split('recent runs\n')[1]!.split('\n').filter(Boolean);
    assert.equal(runs.length, 3, status.stdout);
    const line = (pattern: RegExp) => runs.filter((run) => pattern.test(run));
    assert.equal(line(/^ {2}SKIPPED +manual +\S+ +\d+\.\d s +manual-\S+ +skipped: another run \(manual-/).length, 1);
    assert.equal(line(/^ {2}SUCCEEDED +manual +\S+ +\d+\.\d s +manual-\S+ +1 item indexed$/).length, 1);
    assert.match(
      runs[2]!,
      new RegExp(`^ {2}SUCCEEDED +manual +\\S+ +\\d+\\.\\d s +manual-\\S+ +${ITEMS} items indexed$`),
    );
    assert.deepEqual(json.executions[2].outcome, { indexed: ITEMS });
  });

  it('redrives a stopped run by name: it goes on from where it stopped, and indexes what was pending', async () => {
    // Prepare: one more item; a run stopped as soon as it started
    const file = path.join(dir.path, 'one-more.jsonl');
    writeFileSync(file, JSON.stringify({ id: 'late', group: 'g0', content: 'a late item about a quiet lake' }));
    assert.equal((await runCli(['import', file, ...flags()])).code, 0);
    const { executionArn } = JSON.parse((await runCli(['run', '--json', ...flags()])).stdout) as {
      executionArn: string;
    };
    stack.stepFunctions.StopExecution({ executionArn, error: 'User.Stop', cause: 'stopped by the test' });
    await stack.stepFunctions.settled(executionArn);
    const name = executionArn.split(':').pop()!;
    // Act
    const redriven = await runCli(['run', '--redrive', name, '--wait', ...flags()]);
    const again = await runCli(['run', '--redrive', name, ...flags()]);
    // Assess
    assert.equal(redriven.code, 0, redriven.stdout + redriven.stderr);
    assert.match(redriven.stdout, new RegExp(`^redriven ${executionArn}$`, 'm'));
    assert.match(redriven.stdout, /^SUCCEEDED in \d+\.\d s$/m);
    assert.equal(stack.stepFunctions.DescribeExecution({ executionArn }).redriveCount, 1);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /cannot be redriven: Execution is SUCCEEDED and cannot be redriven/);
  });

  it('says SKIPPED, and why, for a run that found nothing to index', async () => {
    // Act: everything is indexed by now
    const run = await runCli(['run', '--wait', ...flags()]);
    // Assess
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^SKIPPED in \d+\.\d s: nothing pending$/m);
  });
});

describe('run --wait in stream mode (the default), where captured runs come with every write', () => {
  const dir = tempDir();
  let stack: LocalStack;
  const flags = (): string[] => ['--data-dir', dir.path];
  before(async () => {
    const config = testConfig(dir.path, {
      'change-capture': 'stream',
      'capture-debounce': '0s',
      'capture-run-spacing': '0s',
    });
    stack = await startLocalStack(localStackProps(config));
    await ensureModelPublished(stack.clients.s3, config);
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it('waits for the run holding the index, then returns with everything pending indexed', async () => {
    // Prepare: an import, whose writes start a captured run within a second
    const file = path.join(dir.path, 'items.jsonl');
    const lines = Array.from({ length: 400 }, (_, i) =>
      JSON.stringify({ id: `i${i}`, group: 'g', content: `item ${i} about a slow barge on a wide canal` }),
    );
    writeFileSync(file, lines.join('\n'));
    assert.equal((await runCli(['import', file, ...flags()])).code, 0);
    // Act: two runs by hand at once, beside the captured ones
    const both = await Promise.all([0, 1].map(() => runCli(['run', '--wait', '--json', ...flags()])));
    const status = JSON.parse((await runCli(['status', '--json', ...flags()])).stdout);
    // Assess: at most one of them found the index free; the other waited its turn instead of ending SKIPPED
    const runs = both.map(
      (run) => JSON.parse(run.stdout) as { status: string; output: { lease: { acquired: boolean } } },
    );
    assert.deepEqual(
      runs.map((run) => [run.status, run.output.lease.acquired]),
      [
        ['SUCCEEDED', true],
        ['SUCCEEDED', true],
      ],
    );
    assert.equal(status.pending, 0, 'nothing pending once they returned');
    assert.equal(status.index.items, 400);
    const manual = (status.executions as { name: string; outcome?: { skipped?: string } }[]).filter((run) =>
      run.name.startsWith('manual-'),
    );
    assert.deepEqual(
      manual.map((run) => run.outcome?.skipped),
      [undefined, undefined],
    );
  });
});
