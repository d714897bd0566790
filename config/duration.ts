/**
 * The one duration grammar of ddb-faiss: a number and a unit, `ms`, `s`, `m`, `h` or `d`
 * (`500ms`, `30s`, `5m`, `1.5h`, `1d`). A bare number is refused: seconds or milliseconds?
 *
 * @example
 * ```ts
 * parseDuration('5m'); // 300000
 * parseDuration('5');  // throws: "5" is not a duration: use e.g. 30s, 5m, 1h
 * ```
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Thrown for text that is not a duration. */
export class DurationError extends Error {
  override readonly name = 'DurationError';
}

/** Whether the text is a duration in the grammar. */
export const isDuration = (text: string): boolean => DURATION.test(text.trim());

/** The duration in milliseconds. @throws {DurationError} naming the text and the grammar */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new DurationError(`"${text}" is not a duration: use e.g. 30s, 5m, 1h`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
