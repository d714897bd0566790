/** The `ddb-faiss` command line: dispatches to one command, turns known errors into messages. */
import { ConfigError } from '../../config/config.ts';
import { type Command, type CommandIo, parseCommand, println, UsageError } from './command.ts';
import { demoCommand } from './demo.ts';
import { deployCommand } from './deploy.ts';
import { embedCommand } from './embed.ts';
import { importCommand } from './import.ts';
import { backfillCommand, runCommand } from './run.ts';
import { scheduleCommand } from './schedule.ts';
import { searchCommand } from './search.ts';
import { statusCommand } from './status.ts';
import { modelCommand } from './model.ts';
import { monitorCommand } from './monitor.ts';
import { upCommand } from './up.ts';

// A function, not a constant: commands that run other commands (demo, deploy) import this module.
const commands = (): readonly Command[] => [demoCommand, upCommand, importCommand, runCommand, backfillCommand, statusCommand, searchCommand, scheduleCommand, monitorCommand, embedCommand, modelCommand, deployCommand];

/** Errors whose message is the whole story: no stack trace for the user. */
const EXPECTED_ERRORS = new Set(['ConfigError', 'PortInUseError', 'StackAlreadyRunningError', 'LocalStackNotRunningError', 'UsageError', 'BundleError', 'ModelNotFoundError', 'StateMachineNotFoundError', 'SearchFailedError']);

/** The refused address when an error (or its cause, as fetch wraps it) is a refused connection. */
function connectionRefused(error: unknown): string | undefined {
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ECONNREFUSED') return e.message;
  }
  return undefined;
}

function help(io: CommandIo): void {
  println(io.stdout, 'usage: ddb-faiss <command> [options]\n\ncommands:');
  for (const command of commands()) println(io.stdout, `  ${command.name.padEnd(16)}${command.summary}`);
  println(io.stdout, '\nEvery command takes the configuration flags (--data-dir, --table, --target, ...); see README.md.');
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[], io: CommandIo = process): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name ? 0 : 2;
  }
  const command = commands().find((candidate) => candidate.name === name);
  if (!command) {
    println(io.stderr, `ddb-faiss: unknown command "${name}"; run \`ddb-faiss help\``);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    println(io.stdout, `usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  let target: string | undefined;
  try {
    const parsed = parseCommand(command, rest);
    target = parsed.config.target;
    return await command.run(parsed, io);
  } catch (error) {
    const refused = connectionRefused(error);
    if (refused && target === 'local') {
      println(io.stderr, `ddb-faiss ${name}: lost the local stack (${refused}): it stopped while the command ran; start it with \`ddb-faiss up\``);
      return 1;
    }
    const known = error instanceof Error && EXPECTED_ERRORS.has(error.name);
    println(io.stderr, `ddb-faiss ${name}: ${known ? error.message : (error as Error).stack ?? String(error)}`);
    if (error instanceof UsageError) println(io.stderr, `usage: ${command.usage}`);
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
}
