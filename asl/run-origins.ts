/**
 * How an indexer execution was started, defined once: the origin prefixes the execution's name,
 * so history, `status` and the monitor show it, and it decides the execution's input.
 *
 * @example
 * ```ts
 * import { executionNameFor, originOf } from './asl/run-origins.ts';
 * originOf(executionNameFor('captured')); // 'captured'
 * ```
 */

/** `captured`: started by changes the capture step read from the table's stream. */
export const RUN_ORIGINS = ['manual', 'backfill', 'scheduled', 'captured'] as const;
export type RunOrigin = (typeof RUN_ORIGINS)[number];

/** How an execution was started, read from its name (`other` for executions started elsewhere). */
export function originOf(executionName: string): RunOrigin | 'other' {
  return RUN_ORIGINS.find((origin) => executionName.startsWith(`${origin}-`)) ?? 'other';
}

/** A unique execution name for a run of this origin: the origin, the time, a random tail. */
export function executionNameFor(origin: RunOrigin, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return `${origin}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}
