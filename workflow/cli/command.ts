/** The shape every CLI command has, and the helpers they share. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { configFlagOptions, type DdbFaissConfig, loadConfig } from '../../config/config.ts';

/** Where a command writes; tests pass their own. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
}

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
