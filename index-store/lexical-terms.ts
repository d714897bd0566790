/**
 * The terms of a text for the lexical (BM25) index: the same analysis for what is indexed and
 * for queries. Words are runs of letters and digits after Unicode NFKC normalization, lower
 * cased; English stop words (Lucene's default list) are left out; English words are reduced to
 * their Porter stem (`stemmer`), so "running" finds "runs"; a word longer than 64 characters (an
 * id, a blob of base64) is left out.
 *
 * @example
 * ```ts
 * termCounts('The dogs were running, and the dog ran.');
 * // { terms: Map { 'dog' => 2, 'were' => 1, 'run' => 1, 'ran' => 1 }, length: 5 }
 * ```
 */
import { stemmer } from 'stemmer';

/** Lucene's English stop words: frequent enough that they say nothing about a text. */
const STOP_WORDS = new Set(
  (
    'a an and are as at be but by for if in into is it no not of on or such that the their then there these ' +
    'they this to was will with'
  ).split(' '),
);
const WORD = /[\p{L}\p{N}]+/gu;
const ENGLISH = /^[a-z]+$/;
// eslint-disable-next-line no-control-regex -- every ASCII character, controls included
const ASCII = /^[\x00-\x7f]*$/;
const MAX_TERM_CHARS = 64;

/** Stems already worked out: words repeat (a few thousand make most of any text), stemming is slow. */
const stems = new Map<string, string>();
const MAX_STEMS = 200_000;

function stemOf(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    if (stems.size >= MAX_STEMS) stems.clear();
    stems.set(word, (stem = stemmer(word)));
  }
  return stem;
}

/** A text's terms, in order. */
export function lexicalTerms(text: string): string[] {
  const terms: string[] = [];
  // NFKC changes nothing in ASCII text, most text: only other text pays for it.
  const normalized = ASCII.test(text) ? text : text.normalize('NFKC');
  for (const [word] of normalized.toLowerCase().matchAll(WORD)) {
    if (word.length > MAX_TERM_CHARS || STOP_WORDS.has(word)) continue;
    // "s" of a possessive ("dog's") or a lone letter says nothing either.
    if (word.length === 1 && !/\p{N}/u.test(word)) continue;
    terms.push(ENGLISH.test(word) ? stemOf(word) : word);
  }
  return terms;
}

/** How often each term occurs in a text, and how many terms it has (its length for BM25). */
export interface TermCounts {
  readonly terms: ReadonlyMap<string, number>;
  readonly length: number;
}

export function termCounts(text: string): TermCounts {
  const terms = new Map<string, number>();
  const all = lexicalTerms(text);
  for (const term of all) terms.set(term, (terms.get(term) ?? 0) + 1);
  return { terms, length: all.length };
}
