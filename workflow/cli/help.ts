/**
 * The CLI's help, written from the commands' own declarations (their flags, each with a
 * sentence, their examples) and from the configuration schema (every configuration flag, with
 * its variable, default and sentence).
 * Laid out as `gh` and the CDK CLI lay theirs: a summary, USAGE, FLAGS, EXAMPLES.
 *
 * @example
 * ```ts
 * println(io.stdout, await commandHelp(searchCommand));
 * ```
 */
import { advise } from '../../config/advice.ts';
import type { Command, CommandOption } from './command.ts';

/** The width help text is wrapped to. */
const WIDTH = 100;

/** A command's usage line, from its declaration. */
export const usageOf = (command: Pick<Command, 'name' | 'arguments'>): string =>
  `ddb-faiss ${command.name}${command.arguments ? ` ${command.arguments}` : ''} [flags]`;

/** Words laid out in lines of at most `width` characters, each after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** `--name VALUE` (and `-k,` before it for a short form), as a flag's help line starts. */
function flagForm(name: string, option: Pick<CommandOption, 'type' | 'short' | 'value'>): string {
  const value = option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : '';
  return `${option.short ? `-${option.short}, ` : '    '}--${name}${value}`;
}

/** Rows of `form  description`, the descriptions in one column. */
function rows(entries: readonly (readonly [string, string])[]): string[] {
  const width = Math.min(30, Math.max(...entries.map(([form]) => form.length)) + 2);
  const column = 2 + width;
  return entries.map(([form, text]) => {
    const described = wrap(text, WIDTH - column, column);
    return form.length + 2 > width
      ? `  ${form}\n${' '.repeat(column)}${described}`
      : `  ${form.padEnd(width)}${described}`;
  });
}

/** The description of a flag with its default, when it has one. */
const described = (option: CommandOption): string =>
  option.default !== undefined ? `${option.description} (default ${option.default})` : option.description;

/**
 * One command's help: what it does, its usage, its flags with a sentence each, the configuration
 * flags that matter most to it, and examples.
 */
export async function commandHelp(command: Command): Promise<string> {
  const lines = [command.summary, '', 'USAGE', `  ${usageOf(command)}`];
  const options = Object.entries(command.options ?? {});
  if (options.length > 0) {
    lines.push('', 'FLAGS');
    lines.push(...rows(options.map(([name, option]) => [flagForm(name, option), described(option)])));
  }
  if (command.settings?.length) {
    const flags = await configurationFlags();
    lines.push('', 'CONFIGURATION FLAGS');
    lines.push(...rows(command.settings.map((flag) => flags.find((row) => row.flag === flag)!).map(configurationRow)));
  }
  lines.push(
    '',
    wrap(
      'Every command also takes the configuration flags (--data-dir, --target, --table, ...): ' +
        `${advise('helpSettings')} lists them all.`,
      WIDTH,
      0,
    ),
  );
  if (command.examples?.length) {
    lines.push('', 'EXAMPLES');
    for (const example of command.examples) lines.push(`  # ${example.says}`, `  $ ${example.run}`);
  }
  return lines.join('\n');
}

/** One configuration flag as the help lists it. */
export interface ConfigurationFlag {
  readonly flag: string;
  readonly env: string;
  readonly default: string;
  readonly doc: string;
}

/** Every configuration flag, from the configuration schema (loaded only when help asks for it). */
export async function configurationFlags(): Promise<ConfigurationFlag[]> {
  const { defaultOf, SETTING_NAMES, SETTINGS } = await import('../../config/settings.ts');
  return SETTING_NAMES.flatMap((name) => {
    const row = SETTINGS[name] as { flag?: string; env: string; doc: string; defaultDoc?: string };
    if (row.flag === undefined) return [];
    const fallback = defaultOf(name);
    return [{ flag: row.flag, env: row.env, default: row.defaultDoc ?? String(fallback), doc: row.doc }];
  });
}

const configurationRow = (row: ConfigurationFlag): [string, string] => [
  `    --${row.flag} VALUE`,
  `${row.doc} (default ${row.default}; ${row.env})`,
];

/** `ddb-faiss help settings`: every configuration flag, with its variable, default and sentence. */
export async function settingsHelp(): Promise<string> {
  const flags = await configurationFlags();
  return [
    wrap(
      'Configuration flags: every command takes them. Each may also come from its environment variable or a ' +
        'config file (ddb-faiss.config.json, --config FILE); a flag wins over the variable, ' +
        'the variable over the file.',
      WIDTH,
      0,
    ),
    '',
    'FLAGS',
    ...rows([
      ['    --config FILE', 'a JSON config file of settings (default ./ddb-faiss.config.json)'],
      ...flags.map(configurationRow),
    ]),
  ].join('\n');
}
