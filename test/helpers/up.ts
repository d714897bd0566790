/** `ddb-faiss up` as a child process, for tests that stop it as a user (or a crash) would. */
import { spawn } from 'node:child_process';
import { FREE_PORT_FLAGS } from './local-stack.ts';

const cli = new URL('../../bin/ddb-faiss.js', import.meta.url).pathname;

export interface UpProcess {
  /** Sends a signal and resolves with the exit code once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
}

/** Starts `ddb-faiss up` on free ports, resolving once it prints `ready`. */
export function up(dataDir: string, flags: readonly string[] = []): Promise<UpProcess> {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', cli, 'up', '--data-dir', dataDir, ...FREE_PORT_FLAGS, ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (/^ready$/m.test(output)) {
        clearInterval(timer);
        resolve({ kill: (signal) => (child.kill(signal), exit), output: () => output });
      }
    }, 50);
    void exit.then(() => {
      clearInterval(timer);
      reject(new Error(`up exited early:\n${output}`));
    });
  });
}
