/**
 * "Did you mean": the command or flag a mistyped word most likely meant.
 *
 * @example
 * ```ts
 * suggestion('serach', ['search', 'status']); // 'search'
 * ```
 */
import { distance } from 'fastest-levenshtein';

/** The closest of `candidates` to a mistyped `word`, when it is close enough to be what was meant. */
export function suggestion(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const apart = distance(word, candidate);
    if (!best || apart < best.distance) best = { candidate, distance: apart };
  }
  // One edit in four (a swap of two letters is two edits): `serach` finds `search`, `x` finds nothing.
  return best && best.distance <= Math.max(2, Math.floor(best.candidate.length / 4)) ? best.candidate : undefined;
}
