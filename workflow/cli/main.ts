/** The `ddb-faiss` command line: dispatches to one command, turns known errors into messages. */
import { advise } from '../../config/advice.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { projectPath } from '../../config/project.ts';
import { type Command, type CommandIo, executeCommand, println } from './command.ts';
import { suggestion } from './suggest.ts';
import { costCommand } from './cost.ts';
import { demoCommand } from './demo.ts';
import { deployCommand } from './deploy.ts';
import { embedCommand } from './embed.ts';
import { importCommand } from './import.ts';
import { backfillCommand, runCommand } from './run.ts';
import { captureCommand } from './capture.ts';
import { scheduleCommand } from './schedule.ts';
import { searchCommand, similarCommand } from './search.ts';
import { statusCommand } from './status.ts';
import { modelCommand } from './model.ts';
import { monitorCommand } from './monitor.ts';
import { upCommand } from './up.ts';
import { verifyCommand } from './verify.ts';

/** Every command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  demoCommand,
  upCommand,
  importCommand,
  runCommand,
  backfillCommand,
  statusCommand,
  verifyCommand,
  captureCommand,
  searchCommand,
  similarCommand,
  scheduleCommand,
  monitorCommand,
  embedCommand,
  modelCommand,
  deployCommand,
  costCommand,
];

/** The version, and whether this is the compiled CLI (dist/cli/) or the sources run through tsx. */
function version(): string {
  const { version: number } = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string };
  const compiled = fileURLToPath(import.meta.url).startsWith(projectPath('dist/cli'));
  return `ddb-faiss ${number} (${compiled ? 'compiled, dist/cli' : 'from source, via tsx'})`;
}

function help(io: CommandIo): void {
  println(
    io.stdout,
    'Semantic similarity search for a DynamoDB table.\n\nUSAGE\n  ddb-faiss <command> [flags]\n\nCOMMANDS',
  );
  for (const command of COMMANDS) println(io.stdout, `  ${command.name.padEnd(16)}${command.summary}`);
  println(
    io.stdout,
    `\n${advise('commandHelp', 'search')} (or \`ddb-faiss search --help\`, any command alike) describes a command, ` +
      `its flags and examples;\n${advise('helpSettings')} lists the configuration flags every command takes ` +
      '(--data-dir, --target, ...).',
  );
}

/** `ddb-faiss help [<command> | settings]`. */
async function helpFor(topic: string | undefined, io: CommandIo): Promise<number> {
  if (topic === undefined) {
    help(io);
    return 0;
  }
  const { commandHelp, settingsHelp } = await import('./help.ts');
  if (topic === 'settings') {
    println(io.stdout, await settingsHelp());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === topic);
  if (command) {
    println(io.stdout, await commandHelp(command));
    return 0;
  }
  return unknownCommand(topic, io);
}

/** A command nobody declared: the one likely meant, and where the list is. */
function unknownCommand(name: string, io: CommandIo): number {
  const meant = suggestion(
    name,
    COMMANDS.map((command) => command.name),
  );
  println(
    io.stderr,
    `ddb-faiss: unknown command "${name}"${meant ? `; did you mean "${meant}"?` : ''} (${advise('help')} lists them)`,
  );
  return 2;
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
  if (!name) {
    help(io);
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') return helpFor(rest[0], io);
  if (name === '--version' || name === 'version') {
    println(io.stdout, version());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) return unknownCommand(name, io);
  return executeCommand(command, rest, io);
}
