/**
 * Learning the default model's parameters from the STS Benchmark *train* split, and the
 * k-fold cross-validation inside train that chooses the recipe's settings. The dev split plays
 * no part here: it is measured once, by the bench, after everything is chosen.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { gram, symmetricEigen } from '../linear-algebra.ts';
import { spearman, type StsPair } from '../sts.ts';
import { lexicalVector, mapToUnit, negatedTokens, semanticSum, type SparseVector, sparseDot } from './features.ts';
import type { DefaultRecipe } from './recipe.ts';
import {
  buildWordTable,
  negationFlags,
  readWinkEmbeddings,
  WORD_DIMENSIONS,
  type WordTable,
  wordLevelTokenizer,
} from './word-vectors.ts';

const n = WORD_DIMENSIONS;

/** What learning produces: the common directions and the linear map, with how they were chosen. */
export interface LearnedParameters {
  /** Hash of the recipe they were learned with: a changed recipe needs relearning. */
  readonly recipeHash: string;
  /** Unit directions removed from every sentence vector. */
  readonly sentenceDirections: number[][];
  /** The supervised map of the semantic part, n x n row-major; absent when the recipe has none. */
  readonly semanticMap?: number[];
  /** Cross-validation inside the train split (Spearman x100 per held-out fold). */
  readonly crossValidation?: CrossValidation;
}

export interface CrossValidation {
  readonly folds: number[];
  readonly mean: number;
  /** Standard deviation across the folds. */
  readonly spread: number;
}

/** A sentence as the learning sees it: its semantic sum and lexical vector. */
interface SentenceFeatures {
  readonly semantic: Float64Array;
  readonly lexical: SparseVector;
}

/** Every sentence of the pairs, featurised once per recipe (both orders of a pair share entries). */
export class FeaturisedPairs {
  readonly first: SentenceFeatures[];
  readonly second: SentenceFeatures[];
  readonly scores: number[];

  constructor(
    readonly pairs: readonly StsPair[],
    readonly recipe: DefaultRecipe,
    readonly words: WordTable = buildWordTable(readWinkEmbeddings(), recipe),
  ) {
    const tokenizer = new Tokenizer(wordLevelTokenizer(words.words, recipe), { unk_token: '[UNK]' });
    const negation = negationFlags(words);
    const cache = new Map<string, SentenceFeatures>();
    const featurise = (sentence: string): SentenceFeatures => {
      let features = cache.get(sentence);
      if (!features) {
        const ids: number[] = tokenizer.encode(sentence).ids.slice(0, recipe.maxTokens);
        const negated = negatedTokens(ids, negation, recipe.negationWindow);
        features = {
          semantic: semanticSum(ids, negated, words, recipe),
          lexical: lexicalVector(ids, negated, words, recipe),
        };
        cache.set(sentence, features);
      }
      return features;
    };
    this.first = pairs.map((pair) => featurise(pair.first));
    this.second = pairs.map((pair) => featurise(pair.second));
    this.scores = pairs.map((pair) => pair.score);
  }

  /** The pairs at `rows`, for one fold. */
  rows(rows: readonly number[]): { first: SentenceFeatures[]; second: SentenceFeatures[]; scores: number[] } {
    return {
      first: rows.map((row) => this.first[row]!),
      second: rows.map((row) => this.second[row]!),
      scores: rows.map((row) => this.scores[row]!),
    };
  }
}

/** The top principal directions of sentence sums (uncentred), as unit rows. */
export function commonDirections(sums: readonly Float64Array[], count: number): number[][] {
  if (count === 0) return [];
  const { vectors } = symmetricEigen(gram(sums, n), n);
  return vectors.slice(0, count).map((v) => Array.from(v));
}

/** The matrix that removes `directions` (I - sum u u^T), then applies `map` when given. */
export function semanticMatrix(directions: readonly number[][], map?: ArrayLike<number>): Float64Array {
  const projection = new Float64Array(n * n);
  for (let i = 0; i < n; i++) projection[i * n + i] = 1;
  for (const u of directions)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) projection[i * n + j]! -= u[i]! * u[j]!;
  if (!map) return projection;
  const product = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const p = projection[i * n + k]!;
      if (p !== 0) for (let j = 0; j < n; j++) product[i * n + j]! += p * map[k * n + j]!;
    }
  return product;
}

/** A seeded generator (mulberry32): folds and minibatches are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(count: number, random: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Fits the semantic map M (n x n, from the identity) so that the model's similarity,
 * (1 - share) cos(xM, yM) + share lexical, matches the gold score / 5 in squared error, with
 * a ridge penalty pulling M toward the identity. Minibatch Adam, a fixed seed.
 */
export function fitSemanticMap(
  x: readonly Float64Array[],
  y: readonly Float64Array[],
  lexical: readonly number[],
  scores: readonly number[],
  recipe: DefaultRecipe,
): Float64Array {
  const { mapEpochs: epochs, mapLearningRate: rate, lexicalShare: share } = recipe;
  const ridge = recipe.mapRidge ?? 0;
  const size = n * n;
  const map = new Float64Array(size);
  for (let i = 0; i < n; i++) map[i * n + i] = 1;
  const moment = new Float64Array(size);
  const velocity = new Float64Array(size);
  const gradient = new Float64Array(size);
  const random = seededRandom(7);
  const batchSize = 64;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const gp = new Float64Array(n);
  const gq = new Float64Array(n);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffled(x.length, random);
    for (let from = 0; from < order.length; from += batchSize) {
      const batch = order.slice(from, from + batchSize);
      gradient.fill(0);
      for (const row of batch) {
        const a = x[row]!;
        const b = y[row]!;
        multiply(a, map, p);
        multiply(b, map, q);
        let pq = 0;
        let pp = 0;
        let qq = 0;
        for (let j = 0; j < n; j++) {
          pq += p[j]! * q[j]!;
          pp += p[j]! * p[j]!;
          qq += q[j]! * q[j]!;
        }
        const np = Math.sqrt(pp) || 1e-12;
        const nq = Math.sqrt(qq) || 1e-12;
        const cos = pq / (np * nq);
        const similarity = (1 - share) * cos + share * lexical[row]!;
        const residual = (2 * (similarity - scores[row]! / 5) * (1 - share)) / batch.length;
        // d cos / dp = q / (|p||q|) - cos p / |p|^2, and symmetrically for q; dp/dM = a^T.
        for (let j = 0; j < n; j++) {
          gp[j] = q[j]! / (np * nq) - (cos * p[j]!) / pp;
          gq[j] = p[j]! / (np * nq) - (cos * q[j]!) / qq;
        }
        for (let k = 0; k < n; k++) {
          const ak = a[k]! * residual;
          const bk = b[k]! * residual;
          if (ak === 0 && bk === 0) continue;
          for (let j = 0; j < n; j++) gradient[k * n + j]! += ak * gp[j]! + bk * gq[j]!;
        }
      }
      step++;
      for (let i = 0; i < size; i++) {
        const identity = i % (n + 1) === 0 ? 1 : 0;
        const g = gradient[i]! + 2 * ridge * (map[i]! - identity);
        moment[i] = 0.9 * moment[i]! + 0.1 * g;
        velocity[i] = 0.999 * velocity[i]! + 0.001 * g * g;
        const corrected = moment[i]! / (1 - 0.9 ** step);
        map[i]! -= (rate * corrected) / (Math.sqrt(velocity[i]! / (1 - 0.999 ** step)) + 1e-8);
      }
    }
  }
  return map;
}

function multiply(vector: Float64Array, matrix: Float64Array, out: Float64Array): void {
  out.fill(0);
  for (let k = 0; k < n; k++) {
    const v = vector[k]!;
    if (v === 0) continue;
    for (let j = 0; j < n; j++) out[j]! += v * matrix[k * n + j]!;
  }
}

/** What learning on some pairs gives. */
export interface LearnedModel {
  readonly sentenceDirections: number[][];
  readonly semanticMap?: Float64Array;
}

/** Learns the common directions and the map (when the recipe has one) from the pairs at `rows`. */
export function learnFrom(data: FeaturisedPairs, rows: readonly number[]): LearnedModel {
  const { recipe } = data;
  const { first, second, scores } = data.rows(rows);
  const sentences = [...new Set([...first, ...second])];
  const sentenceDirections = commonDirections(
    sentences.map((sentence) => sentence.semantic),
    recipe.sentenceDirectionsRemoved,
  );
  if (recipe.mapRidge === null) return { sentenceDirections };
  const projection = semanticMatrix(sentenceDirections);
  const project = (features: SentenceFeatures) => mapToUnit(features.semantic, projection, n);
  const lexical = first.map((f, i) => sparseDot(f.lexical, second[i]!.lexical));
  const semanticMap = fitSemanticMap(first.map(project), second.map(project), lexical, scores, recipe);
  return { sentenceDirections, semanticMap };
}

/** Spearman x100 of the model's similarity against the gold scores, on the pairs at `rows`. */
export function scoreOn(data: FeaturisedPairs, rows: readonly number[], learned: LearnedModel): number {
  const matrix = semanticMatrix(learned.sentenceDirections, learned.semanticMap);
  const { first, second, scores } = data.rows(rows);
  const share = data.recipe.lexicalShare;
  const similarities = first.map((a, i) => {
    const b = second[i]!;
    const u = mapToUnit(a.semantic, matrix, n);
    const v = mapToUnit(b.semantic, matrix, n);
    let cos = 0;
    for (let j = 0; j < n; j++) cos += u[j]! * v[j]!;
    return (1 - share) * cos + share * sparseDot(a.lexical, b.lexical);
  });
  return spearman(similarities, scores) * 100;
}

/** k-fold cross-validation inside the given (train) pairs: learn on k-1 folds, score the k-th. */
export function crossValidate(data: FeaturisedPairs, folds = 5): CrossValidation {
  const order = shuffled(data.pairs.length, seededRandom(2017));
  const scores: number[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const held = order.filter((_, i) => i % folds === fold);
    const learnRows = order.filter((_, i) => i % folds !== fold);
    scores.push(scoreOn(data, held, learnFrom(data, learnRows)));
  }
  const mean = scores.reduce((sum, s) => sum + s, 0) / folds;
  const spread = Math.sqrt(scores.reduce((sum, s) => sum + (s - mean) ** 2, 0) / (folds - 1));
  return { folds: scores, mean, spread };
}
