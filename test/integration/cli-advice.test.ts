/**
 * Every command the CLI advises (in an error, a status line or a hint: `config/advice.ts`) runs
 * as printed: run from the compiled CLI as a user would, with no local stack, each one starts,
 * exiting with anything but a usage error (2), or still running (a stack, a server) when stopped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADVICE, type Advice, adviceCommand } from '../../config/advice.ts';
import { tempDir } from '../helpers/local-stack.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Each piece of advice with the arguments a message would give it. */
const SAMPLES: { [K in Advice]: Parameters<(typeof ADVICE)[K]> } = {
  backfill: [],
  run: [],
  publishModel: ['default'],
  fetchModel: ['sentence-transformers/all-MiniLM-L6-v2'],
  startStack: ['DATA_DIR'],
  dryRunDeploy: [],
  redriveCapture: [],
  verify: [],
  help: [],
  commandHelp: ['search'],
  helpSettings: [],
};

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether it was still running (a server) after the wait, and was stopped. */
  readonly stopped: boolean;
}

/** Runs a command line of the CLI (its arguments after `ddb-faiss`), stopping it after `waitMs` or once it is ready. */
function runAdvice(args: readonly string[], env: Record<string, string>, waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/ddb-faiss.js'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const stop = (): void => {
      if (child.exitCode !== null) return;
      stopped = true;
      child.kill('SIGTERM');
    };
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (/^ready$/m.test(stdout)) stop();
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(stop, waitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, stopped });
    });
  });
}

describe('the commands the CLI advises', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('are every one a command that starts as printed', async () => {
    // The environment a user's messages came from: a data directory, free ports, no stack running.
    const env = {
      DDB_FAISS_DATA_DIR: dir.path,
      DDB_FAISS_DYNAMODB_PORT: '0',
      DDB_FAISS_S3_PORT: '0',
      DDB_FAISS_SFN_PORT: '0',
      DDB_FAISS_HTTP_PORT: '0',
    };
    for (const advice of Object.keys(ADVICE) as Advice[]) {
      const line = adviceCommand(advice, ...(SAMPLES[advice] as [never])).replace('DATA_DIR', dir.path);
      const args = line.split(' ').slice(1);
      const outcome = await runAdvice(args, env, 60_000);
      assert.notEqual(outcome.code, 2, `${line} is a usage error:\n${outcome.stderr}`);
      assert.doesNotMatch(outcome.stderr, /^usage: |\n\s+at \S+ \(/m, `${line}:\n${outcome.stderr}`);
      if (advice === 'startStack') assert.ok(outcome.stopped && /^ready$/m.test(outcome.stdout), outcome.stdout);
    }
  });
});
