/**
 * Commands against a local stack that died without cleaning up (kill -9): stack.json still
 * names it. Each command says the stack is not running and how to start it, with no stack
 * trace and a non-zero exit; `up` starts cleanly over the stale file. And `status` reports a
 * Step Functions it cannot read instead of showing "no runs".
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { up } from '../helpers/up.ts';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const needsStack = (dataDir: string): string[][] => [
  ['status'],
  ['run'],
  ['backfill'],
  ['search', 'anything'],
  ['import', path.join(dataDir, 'items.jsonl')],
  ['schedule', '--every', '1m'],
];

describe('a local stack that died without cleaning up', () => {
  it('every command that needs it says it is not running and how to start it, even when its pid still exists', async () => {
    // Prepare: stack.json naming a live pid (this process: as a zombie or a reused pid would) and closed ports
    const dir = tempDir();
    writeFileSync(path.join(dir.path, 'items.jsonl'), '{"id": "1", "content": "x"}\n');
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(dir.path, 'stack.json'),
      JSON.stringify({
        pid: process.pid,
        endpoints: { dynamodb: endpoint, s3: endpoint, stepFunctions: endpoint, http: endpoint },
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:ddb-faiss-indexer',
        startedAt: '2026-11-24T00:00:00.000Z',
      }),
    );
    // Act
    const commands = needsStack(dir.path);
    const runs = await Promise.all(commands.map((args) => runCli([...args, '--data-dir', dir.path])));
    // Assess
    runs.forEach((run, i) => {
      const name = commands[i]!.join(' ');
      assert.equal(run.code, 1, `${name}: ${run.stdout}${run.stderr}`);
      assert.match(
        run.stderr,
        /the local stack .* is not running: it stopped without cleaning up[\s\S]*ddb-faiss up --data-dir/,
        name,
      );
      assert.doesNotMatch(run.stderr, /\n\s+at |ECONNREFUSED.*\n.*at /, `${name}: no stack trace`);
    });
    dir.remove();
  });

  it('after kill -9 of `up`, status says so and `up` starts again cleanly over the stale stack.json', async () => {
    // Prepare
    const dir = tempDir();
    const first = await up(dir.path);
    await first.kill('SIGKILL');
    // Act
    const status = await runCli(['status', '--data-dir', dir.path]);
    const again = await up(dir.path);
    const statusAfter = await runCli(['status', '--data-dir', dir.path]);
    const code = await again.kill('SIGINT');
    // Assess
    assert.equal(status.code, 1);
    assert.match(status.stderr, /is not running/);
    assert.match(again.output(), /^ready$/m);
    assert.equal(statusAfter.code, 0, statusAfter.stderr);
    assert.equal(code, 0);
    dir.remove();
  });
});

describe('status when Step Functions cannot be read', () => {
  it('still shows the index and backlog, reports the error and exits 1 (not "no runs")', async () => {
    // Prepare: a running stack, but a Step Functions endpoint that refuses connections
    const dir = tempDir();
    const h = await IndexerHarness.start(dir.path);
    await h.put(sentences(3));
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    try {
      // Act
      const run = await runCli([
        'status',
        '--data-dir',
        dir.path,
        '--sfn-endpoint',
        endpoint,
        '--state-machine-arn',
        'arn:aws:states:us-east-1:000000000000:stateMachine:indexer',
      ]);
      // Assess
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stdout, /pending {4}3 items/);
      assert.match(run.stderr, /recent runs cannot be read: .*ECONNREFUSED|recent runs cannot be read: .*connect/);
      assert.doesNotMatch(run.stdout, /^\s+none$/m);
    } finally {
      await h.close();
      dir.remove();
    }
  });
});

describe('--target aws without AWS credentials', () => {
  it('says there are none and where the SDK looks, without a stack trace', async () => {
    // Prepare: no credentials anywhere the SDK's default chain looks
    const dir = tempDir();
    const saved = { ...process.env };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[name];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir.path, 'none'),
      AWS_CONFIG_FILE: path.join(dir.path, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      // Act
      const result = await runCli(['status', '--target', 'aws', '--data-dir', dir.path]);
      // Assess
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^ddb-faiss status: no AWS credentials \(.+\)\. --target aws signs in .*AWS_PROFILE/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      process.env = saved;
      dir.remove();
    }
  });
});
