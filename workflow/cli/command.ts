/** The shape every CLI command has, and the helpers they share. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, configFlagOptions, type DdbFaissConfig, loadConfig } from '../../config/config.ts';

/** Where a command writes; tests pass their own. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
}

/**
 * One `ddb-faiss` command: its name, help, own options, and handler. Every command also takes
 * the configuration flags; the handler gets the loaded configuration. A handler imports its
 * heavy dependencies (AWS SDK clients, the local stack, models) inside `run`, so `--help` and
 * every other command load only what they use.
 *
 * @example
 * ```ts
 * export const helloCommand: Command = {
 *   name: 'hello',
 *   summary: 'print the table name',
 *   usage: 'ddb-faiss hello [--loud]',
 *   options: { loud: { type: 'boolean' } },
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
  readonly usage: string;
  /** Command-specific options (the configuration flags are added to every command). */
  readonly options?: ParseArgsConfig['options'];
  /** Whether positional arguments are accepted. @default false */
  readonly positionals?: boolean;
  run(args: ParsedCommand, io: CommandIo): Promise<number>;
}

export interface ParsedCommand {
  readonly config: DdbFaissConfig;
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A mistake in how a command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommand(command: Command, argv: readonly string[]): ParsedCommand {
  const flagOptions = configFlagOptions();
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...flagOptions, ...command.options },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags: Record<string, string | undefined> = {};
  for (const name of Object.keys(flagOptions)) {
    const value = parsed.values[name];
    if (typeof value === 'string') flags[name] = value;
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return { config: loadConfig({ flags }), values, positionals: parsed.positionals };
}

/** Errors whose message is the whole story: no stack trace for the user. */
const EXPECTED_ERRORS = new Set([
  'ConfigError',
  'PortInUseError',
  'StackAlreadyRunningError',
  'LocalStackNotRunningError',
  'UsageError',
  'BundleError',
  'ModelNotFoundError',
  'StateMachineNotFoundError',
  'SearchFailedError',
  'SearchApiAuthorizationError',
  'LocalJwtSettingsError',
]);

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
    println(io.stdout, `usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  let target: string | undefined;
  try {
    const parsed = parseCommand(command, argv);
    target = parsed.config.target;
    return await command.run(parsed, io);
  } catch (error) {
    const refused = connectionRefused(error);
    if (refused && target === 'local') {
      println(
        io.stderr,
        `ddb-faiss ${command.name}: lost the local stack (${refused}): it stopped while the command ran; ` +
          'start it with `ddb-faiss up`',
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
    const known = error instanceof Error && EXPECTED_ERRORS.has(error.name);
    println(
      io.stderr,
      `ddb-faiss ${command.name}: ${known ? error.message : ((error as Error).stack ?? String(error))}`,
    );
    if (error instanceof UsageError) println(io.stderr, `usage: ${command.usage}`);
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
