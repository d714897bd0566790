/**
 * A bench's own local stack on free ports, with the default model published: for the search and
 * scale benches, also copied to EFS by the real bootstrap stage and loaded
 * ({@link startBenchStack}); for the benches that go through the whole workflow, driven through
 * the CLI ({@link startWorkflowBench}, whose stack a bench may instrument: its handlers timed).
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { loadEmbedder } from '../embedding/runtime.ts';
import { bootstrapModel } from '../indexer/bootstrap.ts';
import { type LocalStackProps, startLocalStack } from '../local-stack/stack.ts';
import { freePortConfig, tempDir } from '../test/helpers/scratch.ts';
import { main } from '../workflow/cli/main.ts';
import { ensureModelPublished, localStackProps } from '../workflow/local-stack-props.ts';

/**
 * The benches' stacks are in flags mode unless a bench asks for stream mode (the freshness bench):
 * their figures are those of the runs they start, with no captured run beside them, and stay
 * comparable with the figures measured before stream mode was the default.
 */
export const FLAGS_MODE = { 'change-capture': 'flags' } as const;

/** Where a bench may keep DynamoDB Local's database in memory: Linux's tmpfs. */
const TMPFS = '/dev/shm';

/**
 * Starts the stack in a temporary folder; `close` stops it and removes the folder.
 * @param options.tableOnTmpfs DynamoDB Local's database file on tmpfs (Linux's `/dev/shm`, when
 *   there is one): the same engine and file, without the disk's flushes. Here it writes about
 *   2,200 items a second instead of 450 once the table holds a few hundred thousand, which is
 *   what a bench filling a table of a million items waits for.
 */
export async function startBenchStack(prefix: string, { tableOnTmpfs = false } = {}) {
  const dir = tempDir(prefix);
  const table = tableOnTmpfs && existsSync(TMPFS) ? mkdtempSync(path.join(TMPFS, prefix)) : undefined;
  if (table) symlinkSync(table, path.join(dir.path, 'dynamodb'));
  const removeFolders = (): void => {
    dir.remove();
    if (table) rmSync(table, { recursive: true, force: true });
  };
  const config = freePortConfig(dir.path, FLAGS_MODE);
  const stack = await startLocalStack(localStackProps(config)).catch((error: unknown) => {
    removeFolders();
    throw error;
  });
  const close = async (): Promise<void> => {
    await stack.close();
    removeFolders();
  };
  try {
    await ensureModelPublished(stack.clients.s3, config);
    const context = { config, clients: stack.clients };
    const model = await bootstrapModel(context);
    const embedder = await loadEmbedder(path.join(config.efsRoot, model.dir));
    return { dir: dir.path, config, stack, context, model, embedder, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** What `ddb-faiss run --wait --json` printed last: the run's ARN, status and output. */
export interface WorkflowRun {
  readonly executionArn: string;
  readonly status: string;
  readonly output: Record<string, unknown> | null;
}

/**
 * A bench's own local stack driven through the CLI, as a user drives it: JSON lines imported
 * with `ddb-faiss import`, runs made with `ddb-faiss run --wait`. `close` stops it and removes
 * its folder.
 */
export async function startWorkflowBench(
  prefix: string,
  flags: Readonly<Record<string, string>>,
  instrument: (props: LocalStackProps) => LocalStackProps = (props) => props,
) {
  const dir = tempDir(prefix);
  const config = freePortConfig(dir.path, { ...FLAGS_MODE, ...flags });
  const stack = await startLocalStack(instrument(localStackProps(config)));
  const close = async (): Promise<void> => {
    await stack.close();
    dir.remove();
  };
  /** Runs a CLI command against the stack; what it prints is kept, not shown. */
  const cli = async (argv: readonly string[]): Promise<{ code: number; stdout: string }> => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let text = '';
    stdout.on('data', (chunk) => (text += chunk));
    stderr.resume();
    const code = await main([...argv, '--data-dir', dir.path], { stdout, stderr, stdin: Readable.from([]) });
    return { code, stdout: text };
  };
  try {
    await ensureModelPublished(stack.clients.s3, config);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    dir: dir.path,
    config,
    stack,
    close,
    cli,
    /** Imports a JSON-lines file; every line must land. */
    async importItems(file: string): Promise<void> {
      if ((await cli(['import', file])).code !== 0) throw new Error(`import of ${file} failed`);
    },
    /** Runs the indexer to its end; a run that does not succeed throws. */
    async run(): Promise<WorkflowRun> {
      const { code, stdout } = await cli(['run', '--wait', '--json']);
      if (code !== 0) throw new Error(`run failed: ${stdout}`);
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as WorkflowRun;
    },
  };
}
