import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../local-stack/stack.ts';
import { ensureModelPublished, localStackProps } from '../../workflow/local-stack-props.ts';
import { startLocalStack } from '../../local-stack/stack.ts';
import { runCli } from '../helpers/cli.ts';
import { FREE_PORTS, tempDir, testConfig } from '../helpers/local-stack.ts';

describe('indexer CLI: import, run, backfill, status', () => {
  const dir = tempDir();
  let stack: LocalStack;
  const flags = (): string[] => ['--data-dir', dir.path];

  before(async () => {
    const config = testConfig(dir.path, { 'batch-size': '100' });
    stack = await startLocalStack(localStackProps(config));
    await ensureModelPublished(stack.clients.s3, config);
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it('imports JSON lines, reporting bad lines by number and keeping the good ones', async () => {
    // Prepare
    const file = path.join(dir.path, 'items.jsonl');
    const good = Array.from({ length: 300 }, (_, i) => JSON.stringify({ key: `doc-${i}`, topic: `t${i % 3}`, body: `document ${i} about ${['cooking pasta', 'training dogs', 'repairing bikes'][i % 3]}` }));
    writeFileSync(file, [...good.slice(0, 100), '{broken', JSON.stringify({ key: 'x' }), '', ...good.slice(100), '[1,2]'].join('\n'));
    // Act
    const run = await runCli(['import', file, '--id-field', 'key', '--group-field', 'topic', '--text-field', 'body', '--json', ...flags()]);
    // Assess
    assert.equal(run.code, 1, 'bad lines make the exit code non-zero');
    const result = JSON.parse(run.stdout);
    assert.equal(result.imported, 300);
    assert.deepEqual(result.errors.map((error: { line: number }) => error.line), [101, 102, 304]);
    assert.match(result.errors[1].reason, /missing "body"/);
  });

  it('runs the indexer and waits, showing each stage, then reports status', async () => {
    // Act
    const run = await runCli(['run', '--wait', ...flags()]);
    const status = await runCli(['status', '--json', ...flags()]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const stage of ['Bootstrap model', 'Plan batches', 'Embed batches', 'Merge into index', 'Clear pending flags']) {
      assert.match(run.stdout, new RegExp(`\\+ ${stage}\\s+succeeded`), stage);
    }
    assert.match(run.stdout, /300 items in 3 batches/);
    assert.match(run.stdout, /SUCCEEDED in/);
    const report = JSON.parse(status.stdout);
    assert.equal(report.index.vectors, 300);
    assert.equal(report.pending, 0);
    assert.equal(report.executions[0].origin, 'manual');
    assert.equal(report.executions[0].status, 'SUCCEEDED');
  });

  it('backfills, and status lists it as a backfill', async () => {
    const run = await runCli(['backfill', '--wait', '--json', ...flags()]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(result.output.merge.vectors, 300);
    const status = JSON.parse((await runCli(['status', '--json', ...flags()])).stdout);
    assert.equal(status.index.generation, 2);
    assert.equal(status.executions[0].origin, 'backfill');
  });

  it('says clearly when no local stack serves the data directory', async () => {
    const other = tempDir();
    const run = await runCli(['run', '--data-dir', other.path, ...Object.entries(FREE_PORTS).flatMap(([flag, value]) => [`--${flag}`, value])]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no local stack is running for data directory .*ddb-faiss up/);
    other.remove();
  });
});
