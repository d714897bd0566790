/**
 * Powertools Logger printing one readable line per event, for a person watching `ddb-faiss up`:
 * the time, the level, the stage and the run, the message, and what the event carries (counts,
 * a duration, a refusal's reason, an error) as `name=value`. The log items are the very ones the
 * Lambda handlers write as JSON; only their printing differs (`--log-format json` keeps JSON).
 *
 *   01:23:45.678 INFO  merge   manual-20261206-012340-ab12  merge succeeded  1.4 s  added=3000 replaced=0
 *
 * @example
 * ```ts
 * const logger = new TextLogger({ serviceName: 'ddb-faiss', logLevel: 'INFO' });
 * logger.createChild({ persistentKeys: { stage: 'merge' } }).info('merge started');
 * ```
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';

/** What every line says in its columns, or that only Lambda's context carries: never repeated after them. */
const SHOWN_APART = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'stage',
  'execution',
  'batch',
  'durationMs',
  'sampling_rate',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'xray_trace_id',
]);

/** A value as `name=value`: text as it is when it has no space, anything else as JSON. */
const shown = (value: unknown): string =>
  typeof value === 'string' && /^\S+$/.test(value) ? value : JSON.stringify(value);

/** An error in one line: its name, message and where it was thrown. */
function errorLine(error: { name?: string; message?: string; location?: string }): string {
  const where = error.location ? ` (at ${error.location.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')})` : '';
  return `${error.name ?? 'Error'}: ${error.message ?? ''}${where}`;
}

/** One log item as a line. */
export function textLine(attributes: Readonly<Record<string, unknown>>): string {
  const time = String(attributes['timestamp'] ?? '').slice(11, 23);
  const level = String(attributes['level'] ?? '').padEnd(5);
  const stage = String(attributes['stage'] ?? '').padEnd(9);
  const run = [attributes['execution'], attributes['batch'] !== undefined ? `batch ${attributes['batch']}` : undefined]
    .filter((part) => part !== undefined)
    .join(' ');
  const took = typeof attributes['durationMs'] === 'number' ? `${(attributes['durationMs'] / 1000).toFixed(1)} s` : '';
  const details: string[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    if (SHOWN_APART.has(name) || value === undefined) continue;
    if (name === 'error' && typeof value === 'object' && value !== null) details.push(errorLine(value));
    else if (name === 'result' && typeof value === 'object' && value !== null)
      for (const [field, count] of Object.entries(value)) details.push(`${field}=${shown(count)}`);
    else details.push(`${name}=${shown(value)}`);
  }
  return [time, level, stage, run, String(attributes['message'] ?? ''), took, ...details]
    .filter((part) => part.trim() !== '')
    .join('  ');
}

/** Powertools Logger that prints text lines; its children (one per task call) do too. */
export class TextLogger extends Logger {
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new TextLogger(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    const attributes = log.getAttributes() as Record<string, unknown>;
    // Powertools' thresholds: WARN 16, ERROR 20 (and CRITICAL 24) go to stderr, as its own lines do.
    const method = logLevel >= 20 ? 'error' : logLevel >= 16 ? 'warn' : 'info';
    console[method](textLine(attributes));
  }
}
