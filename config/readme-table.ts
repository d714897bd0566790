/**
 * The README's configuration table, rendered from the schema (`npm run generate` writes it
 * between the `settings-table` markers; a unit test checks the README holds this text).
 */
import { defaultOf, DEPLOYED_SETTINGS, type Setting, SETTING_NAMES, SETTINGS } from './settings.ts';

export const TABLE_START = '<!-- settings-table:start (generated from config/settings.ts by `npm run generate`) -->';
export const TABLE_END = '<!-- settings-table:end -->';

const code = (text: string): string => `\`${text}\``;

/** The markdown table: one row per setting. */
export function settingsTable(): string {
  const rows = SETTING_NAMES.map((name) => {
    const row = SETTINGS[name] as Setting<unknown>;
    const fallback = defaultOf(name);
    const shown = row.defaultDoc ?? (typeof fallback === 'string' ? code(fallback) : String(fallback));
    const deployed = (DEPLOYED_SETTINGS as readonly string[]).includes(name) ? code(`-c ${name}=…`) : '';
    const flag = row.flag === undefined ? '(environment only)' : code(`--${row.flag}`);
    return `| ${name} | ${flag} | ${code(row.env)} | ${shown} | ${deployed} | ${row.doc} |`;
  });
  return [
    '| setting | flag | env | default | CDK context | what it is |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The README with its table replaced by the current one. @throws when the markers are missing */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${TABLE_START} ... ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}
