/** The `ddb-faiss` command line: dispatches to one command, turns known errors into messages. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { projectPath } from '../../config/project.ts';
import { type Command, type CommandIo, executeCommand, println } from './command.ts';
import { demoCommand } from './demo.ts';
import { deployCommand } from './deploy.ts';
import { embedCommand } from './embed.ts';
import { importCommand } from './import.ts';
import { backfillCommand, runCommand } from './run.ts';
import { scheduleCommand } from './schedule.ts';
import { searchCommand, similarCommand } from './search.ts';
import { statusCommand } from './status.ts';
import { modelCommand } from './model.ts';
import { monitorCommand } from './monitor.ts';
import { upCommand } from './up.ts';
import { verifyCommand } from './verify.ts';

const COMMANDS: readonly Command[] = [
  demoCommand,
  upCommand,
  importCommand,
  runCommand,
  backfillCommand,
  statusCommand,
  verifyCommand,
  searchCommand,
  similarCommand,
  scheduleCommand,
  monitorCommand,
  embedCommand,
  modelCommand,
  deployCommand,
];

/** The version, and whether this is the compiled CLI (dist/cli/) or the sources run through tsx. */
function version(): string {
  const { version: number } = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string };
  const compiled = fileURLToPath(import.meta.url).startsWith(projectPath('dist/cli'));
  return `ddb-faiss ${number} (${compiled ? 'compiled, dist/cli' : 'from source, via tsx'})`;
}

function help(io: CommandIo): void {
  println(io.stdout, 'usage: ddb-faiss <command> [options]\n\ncommands:');
  for (const command of COMMANDS) println(io.stdout, `  ${command.name.padEnd(16)}${command.summary}`);
  println(
    io.stdout,
    '\nEvery command takes the configuration flags (--data-dir, --table, --target, ...); see README.md.',
  );
}

/**
 * Runs the CLI; resolves with the exit code (0 done, 1 failed, 2 usage or configuration).
 *
 * @example
 * ```ts
 * import { main } from './workflow/cli/main.ts';
 * process.exitCode = await main(['run', '--wait', '--data-dir', './.ddb-faiss']);
 * ```
 */
export async function main(argv: readonly string[], io: CommandIo = process): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    println(io.stdout, version());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    println(io.stderr, `ddb-faiss: unknown command "${name}"; run \`ddb-faiss help\``);
    return 2;
  }
  return executeCommand(command, rest, io);
}
