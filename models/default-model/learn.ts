/**
 * Learning the default model's parameters from the STS Benchmark *train* split, and the
 * k-fold cross-validation inside train that chooses the recipe's settings. The dev split plays
 * no part here: it is measured once, by the bench, after everything is chosen.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { gram, symmetricEigen } from '../linear-algebra.ts';
import { spearman, type StsPair } from '../sts.ts';
import {
  lexicalVector,
  mapToUnit,
  multiplyInto,
  negatedTokens,
  semanticSum,
  type SparseVector,
  sparseDot,
} from './features.ts';
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
  /** Spearman x100 on each held-out fold. */
  readonly folds: number[];
  readonly mean: number;
  /** Standard deviation across the folds. */
  readonly spread: number;
  /**
   * Recall@10 of the paired sentence over the held-out paraphrase pairs (score >= 4), among
   * every sentence of the split: what search sees.
   */
  readonly pairRecallAt10: number;
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

/** Gold score from which a pair counts as a paraphrase for the contrastive term. */
const PARAPHRASE_SCORE = 4;
/** Scale of the cosines in the contrastive softmax (sentence-transformers' default). */
const CONTRASTIVE_SCALE = 20;

/**
 * Fits the semantic map M (n x n, from the identity) on two terms:
 * - regression: (1 - share) cos(xM, yM) + share lexical should match the gold score / 5
 *   (squared error), which orders pairs as people do (Spearman);
 * - contrastive, weighted by `mapContrastiveWeight`: each paraphrase pair (score >= 4) should
 *   find its partner first among the minibatch's other second sentences (softmax over scaled
 *   cosines, the multiple-negatives ranking loss), which keeps retrieval sharp: regression
 *   alone pulls unrelated sentences together and costs recall.
 * A ridge penalty pulls M toward the identity. Minibatch Adam, a fixed seed.
 */
export function fitSemanticMap(
  x: readonly Float64Array[],
  y: readonly Float64Array[],
  lexical: readonly number[],
  scores: readonly number[],
  recipe: DefaultRecipe,
): Float64Array {
  const { mapEpochs: epochs, mapLearningRate: rate, lexicalShare: share, mapContrastiveWeight: contrastive } = recipe;
  const ridge = recipe.mapRidge ?? 0;
  const size = n * n;
  const map = new Float64Array(size);
  for (let i = 0; i < n; i++) map[i * n + i] = 1;
  const moment = new Float64Array(size);
  const velocity = new Float64Array(size);
  const gradient = new Float64Array(size);
  const random = seededRandom(7);
  const batchSize = 64;
  const unit = (v: Float64Array, norm: number) => v.map((value) => value / norm);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffled(x.length, random);
    for (let from = 0; from < order.length; from += batchSize) {
      const batch = order.slice(from, from + batchSize);
      gradient.fill(0);
      const p = batch.map((row) => multiplied(x[row]!, map));
      const q = batch.map((row) => multiplied(y[row]!, map));
      const np = p.map((v) => Math.max(Math.hypot(...v), 1e-12));
      const nq = q.map((v) => Math.max(Math.hypot(...v), 1e-12));
      const u = p.map((v, i) => unit(v, np[i]!));
      const w = q.map((v, i) => unit(v, nq[i]!));
      // dL/d cos(u_i, w_j), then through the cosines to p_i and q_j.
      const dCos = batch.map(() => new Float64Array(batch.length));
      batch.forEach((row, i) => {
        const cos = dotProduct(u[i]!, w[i]!);
        const similarity = (1 - share) * cos + share * lexical[row]!;
        dCos[i]![i]! += (2 * (similarity - scores[row]! / 5) * (1 - share)) / batch.length;
      });
      const paraphrases = batch.flatMap((row, i) => (scores[row]! >= PARAPHRASE_SCORE ? [i] : []));
      if (contrastive > 0 && paraphrases.length > 0) {
        for (const i of paraphrases) {
          const logits = w.map((partner) => CONTRASTIVE_SCALE * dotProduct(u[i]!, partner));
          const top = Math.max(...logits);
          const exps = logits.map((logit) => Math.exp(logit - top));
          const total = exps.reduce((sum, value) => sum + value, 0);
          exps.forEach((value, j) => {
            const softmax = value / total;
            dCos[i]![j]! += (contrastive * CONTRASTIVE_SCALE * (softmax - (i === j ? 1 : 0))) / paraphrases.length;
          });
        }
      }
      const dp = p.map(() => new Float64Array(n));
      const dq = q.map(() => new Float64Array(n));
      for (let i = 0; i < batch.length; i++) {
        for (let j = 0; j < batch.length; j++) {
          const c = dCos[i]![j]!;
          if (c === 0) continue;
          const cos = dotProduct(u[i]!, w[j]!);
          // d cos / dp = (w - cos u) / |p|, d cos / dq = (u - cos w) / |q|
          for (let d = 0; d < n; d++) {
            dp[i]![d]! += (c * (w[j]![d]! - cos * u[i]![d]!)) / np[i]!;
            dq[j]![d]! += (c * (u[i]![d]! - cos * w[j]![d]!)) / nq[j]!;
          }
        }
      }
      batch.forEach((row, i) => {
        const a = x[row]!;
        const b = y[row]!;
        for (let k = 0; k < n; k++) {
          const ak = a[k]!;
          const bk = b[k]!;
          if (ak === 0 && bk === 0) continue;
          for (let d = 0; d < n; d++) gradient[k * n + d]! += ak * dp[i]![d]! + bk * dq[i]![d]!;
        }
      });
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

function dotProduct(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let d = 0; d < a.length; d++) dot += a[d]! * b[d]!;
  return dot;
}

function multiplied(vector: Float64Array, matrix: Float64Array): Float64Array {
  const out = new Float64Array(n);
  multiplyInto(vector, matrix, n, out);
  return out;
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

/** The model's vectors of some sentences: the semantic part mapped to unit length, and the lexical part. */
function similarityOf(data: FeaturisedPairs, learned: LearnedModel) {
  const matrix = semanticMatrix(learned.sentenceDirections, learned.semanticMap);
  const semantic = new Map<SentenceFeatures, Float64Array>();
  const unit = (s: SentenceFeatures) => {
    let vector = semantic.get(s);
    if (!vector) semantic.set(s, (vector = mapToUnit(s.semantic, matrix, n)));
    return vector;
  };
  const share = data.recipe.lexicalShare;
  return (a: SentenceFeatures, b: SentenceFeatures): number => {
    return (1 - share) * dotProduct(unit(a), unit(b)) + share * sparseDot(a.lexical, b.lexical);
  };
}

/** Spearman x100 of the model's similarity against the gold scores, on the pairs at `rows`. */
export function scoreOn(data: FeaturisedPairs, rows: readonly number[], learned: LearnedModel): number {
  const similarity = similarityOf(data, learned);
  const { first, second, scores } = data.rows(rows);
  return (
    spearman(
      first.map((a, i) => similarity(a, second[i]!)),
      scores,
    ) * 100
  );
}

/**
 * Retrieval, as search uses the model: for each paraphrase pair at `rows` (score >= 4), whether
 * the second sentence is among the 10 nearest to the first out of every sentence of the data.
 * @returns hits and queries
 */
export function pairRetrievalOn(
  data: FeaturisedPairs,
  rows: readonly number[],
  learned: LearnedModel,
): { hits: number; queries: number } {
  const similarity = similarityOf(data, learned);
  const corpus = [...new Set([...data.first, ...data.second])];
  let hits = 0;
  let queries = 0;
  for (const row of rows) {
    if (data.scores[row]! < PARAPHRASE_SCORE) continue;
    const query = data.first[row]!;
    const partner = data.second[row]!;
    const own = similarity(query, partner);
    let closer = 0;
    for (const sentence of corpus) {
      if (sentence !== query && sentence !== partner && similarity(query, sentence) > own && ++closer >= 10) break;
    }
    queries++;
    if (closer < 10) hits++;
  }
  return { hits, queries };
}

/** k-fold cross-validation inside the given (train) pairs: learn on k-1 folds, score the k-th. */
export function crossValidate(data: FeaturisedPairs, folds = 5): CrossValidation {
  const order = shuffled(data.pairs.length, seededRandom(2017));
  const scores: number[] = [];
  let hits = 0;
  let queries = 0;
  for (let fold = 0; fold < folds; fold++) {
    const held = order.filter((_, i) => i % folds === fold);
    const learned = learnFrom(
      data,
      order.filter((_, i) => i % folds !== fold),
    );
    scores.push(scoreOn(data, held, learned));
    const retrieval = pairRetrievalOn(data, held, learned);
    hits += retrieval.hits;
    queries += retrieval.queries;
  }
  const mean = scores.reduce((sum, s) => sum + s, 0) / folds;
  const spread = Math.sqrt(scores.reduce((sum, s) => sum + (s - mean) ** 2, 0) / (folds - 1));
  return { folds: scores, mean, spread, pairRecallAt10: hits / queries };
}
