import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../local-stack/stack.ts';
import { ensureModelPublished, localStackProps } from '../../workflow/local-stack-props.ts';
import { startLocalStack } from '../../local-stack/stack.ts';
import { runCli } from '../helpers/cli.ts';
import { writeTinyBert } from '../helpers/tiny-bert.ts';
import { FREE_PORT_FLAGS, groupItemCount, tempDir, testConfig } from '../helpers/local-stack.ts';

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
    const good = Array.from({ length: 300 }, (_, i) =>
      JSON.stringify({
        key: `doc-${i}`,
        topic: `t${i % 3}`,
        body: `document ${i} about ${['cooking pasta', 'training dogs', 'repairing bikes'][i % 3]}`,
      }),
    );
    writeFileSync(
      file,
      [...good.slice(0, 100), '{broken', JSON.stringify({ key: 'x' }), '', ...good.slice(100), '[1,2]'].join('\n'),
    );
    // Act
    const run = await runCli([
      'import',
      file,
      '--id-field',
      'key',
      '--group-field',
      'topic',
      '--text-field',
      'body',
      '--json',
      ...flags(),
    ]);
    // Assess
    assert.equal(run.code, 1, 'bad lines make the exit code non-zero');
    const result = JSON.parse(run.stdout);
    assert.equal(result.imported, 300);
    assert.deepEqual(
      result.errors.map((error: { line: number }) => error.line),
      [101, 102, 304],
    );
    assert.match(result.errors[1].reason, /missing "body"/);
  });

  it('runs the indexer and waits, showing each stage, then reports status', async () => {
    // Act
    const run = await runCli(['run', '--wait', ...flags()]);
    const status = await runCli(['status', '--json', ...flags()]);
    const text = await runCli(['status', ...flags()]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const stage of [
      'Bootstrap model',
      'Plan batches',
      'Embed batches',
      'Merge into index',
      'Compact index',
      'Clear pending flags',
    ]) {
      assert.match(run.stdout, new RegExp(`\\+ ${stage}\\s+succeeded`), stage);
    }
    assert.match(run.stdout, /300 items in 3 batches/);
    assert.match(run.stdout, /Compact index\s+succeeded.*nothing to compact \(1 segment\)/);
    assert.match(text.stdout, /300 items, 1 segment \(0 dead vectors until compaction\)/);
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

  it('judges every line on its own: an item DynamoDB refuses is reported by line number and its batch neighbours land', async () => {
    // Prepare (after the runs above, which count their own 300 items): 30 lines sharing write batches;
    // line 5 is over DynamoDB's 400 KB item limit, line 12 has an id over the 1,024-byte sort key limit
    // (a refusal only DynamoDB reports)
    const file = path.join(dir.path, 'refused.jsonl');
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ id: `refused-${i + 1}`, group: 'refusals', content: `line ${i + 1} about gardening` }),
    );
    lines[4] = JSON.stringify({ id: 'refused-5', group: 'refusals', content: 'x'.repeat(500 * 1024) });
    lines[11] = JSON.stringify({ id: 'y'.repeat(1100), group: 'refusals', content: 'an id too long for a sort key' });
    writeFileSync(file, lines.join('\n'));
    // Act
    const run = await runCli(['import', file, ...flags()]);
    const json = await runCli(['import', file, '--json', ...flags()]);
    const landed = await groupItemCount(stack, 'refusals');
    // Assess
    assert.equal(run.code, 1);
    assert.match(run.stdout, /imported 28 items/);
    assert.match(run.stderr, /^line 5: item is 500\.\d KB; DynamoDB's item limit is 400 KB$/m);
    assert.match(run.stderr, /^line 12: DynamoDB refused the item: .*1024 bytes/m);
    assert.doesNotMatch(run.stderr, /\n\s+at |Exception:/, 'no stack trace');
    assert.equal(landed, 28, 'every other line landed');
    const result = JSON.parse(json.stdout);
    assert.equal(result.imported, 28);
    assert.deepEqual(
      result.errors.map((error: { line: number }) => error.line),
      [5, 12],
    );
  });

  it('says plainly when the active model is not the one that built the index, and what to run', async () => {
    // Prepare: the index built by the default model; then another bundle published under its name,
    // as an upgrade that changes the default model does
    const other = path.join(dir.path, 'other-model');
    await writeTinyBert(other);
    const published = await runCli(['model', 'publish', other, '--name', 'default', ...flags()]);
    assert.equal(published.code, 0, published.stderr);
    try {
      // Act
      const text = await runCli(['status', ...flags()]);
      const json = JSON.parse((await runCli(['status', '--json', ...flags()])).stdout);
      // Assess
      assert.match(
        text.stdout,
        /model +tiny-bert \(\w{12}\) is active, but default \(\w{12}\) built the index: run `ddb-faiss backfill --wait`/,
      );
      assert.equal(json.activeModel.name, 'tiny-bert');
      assert.notEqual(json.activeModel.checksum, json.index.model.checksum);
    } finally {
      await ensureModelPublished(stack.clients.s3, testConfig(dir.path, { 'batch-size': '100' }));
    }
    assert.doesNotMatch((await runCli(['status', ...flags()])).stdout, /^model /m, 'no note once the models agree');
  });

  it('says clearly when no local stack serves the data directory', async () => {
    const other = tempDir();
    const run = await runCli(['run', '--data-dir', other.path, ...FREE_PORT_FLAGS]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no local stack is running for data directory .*ddb-faiss up/);
    other.remove();
  });
});
