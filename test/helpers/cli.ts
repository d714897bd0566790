/** Runs the CLI in-process with captured output. */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../workflow/cli/main.ts';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(argv: readonly string[], stdin = ''): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const code = await main(argv, { stdout, stderr, stdin: Readable.from([stdin]) });
  return { code, stdout: out, stderr: err };
}
