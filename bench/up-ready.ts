// `npm run bench:up`: how long `ddb-faiss up` takes to say `ready` (a fresh data directory, and
// again over the data it left), and how much memory the stack holds idle then: the resident
// memory of `up` and of its child processes (DynamoDB Local's `java`), read from /proc.
// `node --import tsx bench/up-ready.ts [checkout]` measures another checkout's CLI the same way.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FREE_PORT_FLAGS, tempDir } from '../test/helpers/scratch.ts';

const checkout = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const ROUNDS = 5;

/** Resident memory of a process, in MB (0 when it is gone). */
function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The pids of a process's children. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface Round {
  readonly readySeconds: number;
  readonly upRssMb: number;
  readonly childrenRssMb: number;
}

/** Starts `up` in `dataDir`, times it to `ready`, waits for it to settle, reads its memory, stops it. */
function round(dataDir: string): Promise<Round> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        '--openssl-legacy-provider',
        path.join(checkout, 'bin/ddb-faiss.js'),
        'up',
        '--data-dir',
        dataDir,
        ...FREE_PORT_FLAGS,
      ],
      { cwd: checkout, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (!/^ready$/m.test(output) || child.killed) return;
      const readySeconds = (performance.now() - started) / 1000;
      setTimeout(() => {
        const up = rssMb(child.pid!);
        const children = childrenOf(child.pid!).reduce((sum, pid) => sum + rssMb(pid), 0);
        child.kill('SIGTERM');
        child.once('close', () => resolve({ readySeconds, upRssMb: up, childrenRssMb: children }));
      }, 3_000);
    });
    child.once('error', reject);
  });
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const fresh: Round[] = [];
const again: Round[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const dir = tempDir();
  fresh.push(await round(dir.path)); // creates the table and bucket, publishes the model
  again.push(await round(dir.path)); // over the data the first left
  dir.remove();
}
const summary = (rounds: readonly Round[]) => ({
  ready_s: Number(median(rounds.map((r) => r.readySeconds)).toFixed(2)),
  up_rss_mb: Math.round(median(rounds.map((r) => r.upRssMb))),
  children_rss_mb: Math.round(median(rounds.map((r) => r.childrenRssMb))),
});
const results = {
  date: new Date().toISOString(),
  node: process.version,
  checkout,
  rounds: ROUNDS,
  fresh: summary(fresh),
  restart: summary(again),
};
console.log(JSON.stringify(results, null, 2));
// This checkout's own figures are kept with the other bench results; another checkout's are only printed.
if (process.argv[2] === undefined)
  writeFileSync(new URL('./results-up.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
