/** The shape every CLI command has, and the helpers they share. */
import { advise } from '../../config/advice.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, configFlagOptions, type DdbFaissConfig, loadConfig } from '../../config/config.ts';
import { commandHelp, usageOf } from './help.ts';
import { suggestion } from './suggest.ts';
import { isUserFacing, UserFacingError } from '../../config/errors.ts';

/** Where a command writes; tests pass their own. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
}

/** One flag of a command: how it parses, and the sentence its help shows. */
export interface CommandOption {
  readonly type: 'string' | 'boolean';
  /** A one-letter form (`-k`). @default none */
  readonly short?: string;
  /** Whether it may be given several times (its values then come as a list). @default false */
  readonly multiple?: boolean;
  /** Its value when not given. @default none */
  readonly default?: string;
  /** What it does, one sentence. */
  readonly description: string;
  /** How its value is named in help (`N`, `FILE`). @default VALUE */
  readonly value?: string;
}

/** A command line its help shows, with what it does. */
export interface CommandExample {
  readonly run: string;
  readonly says: string;
}

/**
 * One `ddb-faiss` command, declared once: its name, summary, arguments, flags (each with a
 * sentence) and examples, from which the parser, the usage line and the help are all made; and
 * its handler. Every command also takes the configuration flags; the handler gets the loaded
 * configuration. A handler imports its heavy dependencies (AWS SDK clients, the local stack,
 * models) inside `run`, so `--help` and every other command load only what they use.
 *
 * @example
 * ```ts
 * export const helloCommand: Command = {
 *   name: 'hello',
 *   summary: 'print the table name',
 *   options: { loud: { type: 'boolean', description: 'in capitals' } },
 *   examples: [{ run: 'ddb-faiss hello --loud', says: 'the table name, loudly' }],
 *   async run({ config, values }, io) {
 *     println(io.stdout, values['loud'] ? config.tableName.toUpperCase() : config.tableName);
 *     return 0;
 *   },
 * };
 * ```
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** The arguments after the name, as the usage line shows them (`<file.jsonl>`); none: it takes none. */
  readonly arguments?: string;
  /** Command-specific flags (the configuration flags are added to every command). */
  readonly options?: Readonly<Record<string, CommandOption>>;
  /** Configuration flags that matter most to this command: its help describes them too. @default none */
  readonly settings?: readonly string[];
  readonly examples?: readonly CommandExample[];
  run(args: ParsedCommand, io: CommandIo): Promise<number>;
}

/** The `--json` flag of the commands that can answer a script. */
export const JSON_OPTION: CommandOption = {
  type: 'boolean',
  description: 'print the result as one JSON document, for scripts, instead of text',
};

export interface ParsedCommand {
  readonly config: DdbFaissConfig;
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A mistake in how a command was called: printed with the usage, exit code 2. */
export class UsageError extends UserFacingError {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** A command's flags as node's parseArgs takes them. */
function parserOptions(options: Command['options'] = {}): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(options).map(([name, { type, short, multiple, default: fallback }]) => [
      name,
      {
        type,
        ...(short ? { short } : {}),
        ...(multiple ? { multiple } : {}),
        ...(fallback !== undefined ? { default: fallback } : {}),
      },
    ]),
  );
}

export function parseCommand(command: Command, argv: readonly string[]): ParsedCommand {
  const flagOptions = configFlagOptions();
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...flagOptions, ...parserOptions(command.options) },
      allowPositionals: command.arguments !== undefined,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      parseProblem(error as Error & { code?: string }, [
        ...Object.keys(flagOptions),
        ...Object.keys(command.options ?? {}),
      ]),
    );
  }
  const flags: Record<string, string | undefined> = {};
  for (const name of Object.keys(flagOptions)) {
    const value = parsed.values[name];
    if (typeof value === 'string') flags[name] = value;
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return { config: loadConfig({ flags }), values, positionals: parsed.positionals };
}

/** What parseArgs found wrong, in a user's words: an unknown flag with the one likely meant. */
function parseProblem(error: Error & { code?: string }, flags: readonly string[]): string {
  const unknown = /^Unknown option '(-{1,2})([^']+)'/.exec(error.message);
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    const meant = suggestion(unknown[2]!, flags);
    return `unknown flag ${unknown[1]}${unknown[2]}${meant ? `; did you mean --${meant}?` : ''}`;
  }
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return error.message.replace(/^Unexpected argument/, 'unexpected argument');
  return error.message;
}

/** The refused address when an error (or its cause, as fetch wraps it) is a refused connection. */
function connectionRefused(error: unknown): string | undefined {
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ECONNREFUSED') return e.message;
  }
  return undefined;
}

/**
 * Parses and runs one command and turns its failure into a message and an exit code: 2 for a
 * usage or configuration mistake, 1 for anything else. Commands that run other commands (demo,
 * deploy) call it too, so every command reports alike.
 */
export async function executeCommand(command: Command, argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    println(io.stdout, await commandHelp(command));
    return 0;
  }
  let target: string | undefined;
  let dataDir: string | undefined;
  try {
    const parsed = parseCommand(command, argv);
    target = parsed.config.target;
    dataDir = parsed.config.dataDir;
    return await command.run(parsed, io);
  } catch (error) {
    const refused = connectionRefused(error);
    if (refused && target === 'local') {
      println(
        io.stderr,
        `ddb-faiss ${command.name}: lost the local stack (${refused}): it stopped while the command ran; ` +
          `start it with ${advise('startStack', dataDir)}`,
      );
      return 1;
    }
    if (error instanceof Error && error.name === 'CredentialsProviderError') {
      println(
        io.stderr,
        `ddb-faiss ${command.name}: no AWS credentials (${error.message}). --target aws signs in through the ` +
          "AWS SDK's default chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, `aws sso login`, " +
          'or an instance role',
      );
      return 1;
    }
    // An error meant for a person is its message (and hint); anything else is a defect, with its stack.
    println(
      io.stderr,
      `ddb-faiss ${command.name}: ${isUserFacing(error) ? error.message : ((error as Error).stack ?? String(error))}`,
    );
    if (isUserFacing(error) && error.hint) println(io.stderr, error.hint);
    if (error instanceof UsageError)
      println(io.stderr, `usage: ${usageOf(command)}  (${advise('commandHelp', command.name)} says more)`);
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
}

/** Writes one line. */
export function println(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** Resolves with the first SIGINT or SIGTERM: long-running commands stop cleanly on either. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
