/**
 * The default model's arithmetic on token ids, in plain TypeScript: what its ONNX graph
 * computes (build.ts), written once more so the learning (learn.ts) can run it over the STS
 * train split thousands of times without ONNX. A unit test holds the two to the same output.
 *
 * For a text of token ids:
 * - negated tokens: those within `negationWindow` tokens after a negation word;
 * - semantic part: the sum of SIF-weighted word vectors (a negated word's vector scaled by
 *   `negatedVectorFactor`), then the learned linear map, then unit length;
 * - lexical part: SIF-weighted counts of hashed token ids (a negated token hashes apart from
 *   the same word unnegated) plus `bigramWeight` times hashed adjacent pairs (word order),
 *   unit length.
 */
import type { DefaultRecipe } from './recipe.ts';
import { WORD_DIMENSIONS, type WordTable } from './word-vectors.ts';

/** Added to a negated token's id before hashing, so "not happy" does not share "happy"'s bucket. */
export const NEGATED_ID_OFFSET = 1_000_003;
/** Multiplier of the second token of a pair (the first uses the recipe's hashMultiplier). */
export const PAIR_MULTIPLIER = 2_246_822_519;

/** Which tokens are negated: 1 where a negation word is among the `window` tokens before. */
export function negatedTokens(ids: ArrayLike<number>, negationWords: Uint8Array, window: number): Uint8Array {
  const negated = new Uint8Array(ids.length);
  for (let t = 0; t < ids.length; t++) {
    for (let back = 1; back <= window && back <= t; back++) {
      if (negationWords[ids[t - back]!] === 1) {
        negated[t] = 1;
        break;
      }
    }
  }
  return negated;
}

/** The semantic part before the map: the weighted word vectors summed (not yet unit length). */
export function semanticSum(
  ids: ArrayLike<number>,
  negated: Uint8Array,
  words: WordTable,
  recipe: DefaultRecipe,
): Float64Array {
  const n = WORD_DIMENSIONS;
  const sum = new Float64Array(n);
  for (let t = 0; t < ids.length; t++) {
    const factor = negated[t] === 1 ? recipe.negatedVectorFactor : 1;
    const row = ids[t]! * n;
    for (let d = 0; d < n; d++) sum[d]! += factor * words.table[row + d]!;
  }
  return sum;
}

/** A sparse vector: bucket -> value. */
export type SparseVector = Map<number, number>;

/** The lexical part: hashed weighted token and pair counts, unit length (empty when no weight). */
export function lexicalVector(
  ids: ArrayLike<number>,
  negated: Uint8Array,
  words: WordTable,
  recipe: DefaultRecipe,
): SparseVector {
  const buckets = recipe.lexicalBuckets;
  const counts: SparseVector = new Map();
  const add = (bucket: number, weight: number) => counts.set(bucket, (counts.get(bucket) ?? 0) + weight);
  const lexicalId = (t: number) => ids[t]! + negated[t]! * NEGATED_ID_OFFSET;
  for (let t = 0; t < ids.length; t++) add((lexicalId(t) * recipe.hashMultiplier) % buckets, words.weights[ids[t]!]!);
  if (recipe.bigramWeight > 0) {
    for (let t = 0; t + 1 < ids.length; t++) {
      const bucket = (lexicalId(t) * recipe.hashMultiplier + lexicalId(t + 1) * PAIR_MULTIPLIER) % buckets;
      add(bucket, (recipe.bigramWeight * (words.weights[ids[t]!]! + words.weights[ids[t + 1]!]!)) / 2);
    }
  }
  let norm = 0;
  for (const value of counts.values()) norm += value * value;
  norm = Math.sqrt(norm);
  for (const [bucket, value] of counts) {
    if (value === 0) counts.delete(bucket);
    else counts.set(bucket, value / norm);
  }
  return counts;
}

/** Inner product of two sparse vectors. */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [bucket, value] of small) dot += value * (large.get(bucket) ?? 0);
  return dot;
}

/** `vector` x `matrix` (n x n, row-major) into `out`. */
export function multiplyInto(vector: ArrayLike<number>, matrix: ArrayLike<number>, n: number, out: Float64Array): void {
  out.fill(0);
  for (let k = 0; k < n; k++) {
    const x = vector[k]!;
    if (x === 0) continue;
    for (let j = 0; j < n; j++) out[j]! += x * matrix[k * n + j]!;
  }
}

/** `vector` x `matrix` (n x n, row-major), as unit length (zero stays zero). */
export function mapToUnit(vector: ArrayLike<number>, matrix: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  multiplyInto(vector, matrix, n, out);
  let norm = 0;
  for (let j = 0; j < n; j++) norm += out[j]! * out[j]!;
  norm = Math.max(Math.sqrt(norm), 1e-12);
  for (let j = 0; j < n; j++) out[j]! /= norm;
  return out;
}
