import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadEmbedder, type Embedder } from '../../embedding/runtime.ts';
import { buildDefaultBundle } from '../../models/default-model/build.ts';
import { lexicalVector, mapToUnit, negatedTokens, semanticSum } from '../../models/default-model/features.ts';
import { type LearnedParameters, semanticMatrix, seededRandom } from '../../models/default-model/learn.ts';
import { DEFAULT_RECIPE, type DefaultRecipe } from '../../models/default-model/recipe.ts';
import {
  buildWordTable,
  negationFlags,
  readWinkEmbeddings,
  WORD_DIMENSIONS,
  wordLevelTokenizer,
} from '../../models/default-model/word-vectors.ts';

const n = WORD_DIMENSIONS;
/** Every part of the recipe switched on, on a small vocabulary. */
const recipe: DefaultRecipe = {
  ...DEFAULT_RECIPE,
  vocabularySize: 5000,
  wordDirectionSample: 5000,
  bigramWeight: 0.7,
  negationWindow: 2,
  negatedVectorFactor: -0.5,
  splitContractions: true,
  mapRidge: 1,
};

describe('the default model graph', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'default-graph-'));
  const words = buildWordTable(readWinkEmbeddings(), recipe);
  const random = seededRandom(1);
  // A map far from the identity, so a graph that dropped or transposed it would show.
  const learned: LearnedParameters = {
    recipeHash: 'test',
    sentenceDirections: [Array.from({ length: n }, (_, i) => (i === 3 ? 1 : 0))],
    semanticMap: Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0) + (random() - 0.5) * 0.4),
  };
  let embedder: Embedder;
  before(async () => {
    await buildDefaultBundle(dir, undefined, recipe, learned);
    embedder = await loadEmbedder(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** What features.ts computes for a text: the vector the graph must give. */
  function reference(text: string): Float64Array {
    const tokenizer = new Tokenizer(wordLevelTokenizer(words.words, recipe), { unk_token: '[UNK]' });
    const ids = tokenizer.encode(text).ids;
    const negated = negatedTokens(ids, negationFlags(words), recipe.negationWindow);
    const semantic = mapToUnit(
      semanticSum(ids, negated, words, recipe),
      semanticMatrix(learned.sentenceDirections, learned.semanticMap),
      n,
    );
    const out = new Float64Array(n + recipe.lexicalBuckets);
    const share = recipe.lexicalShare;
    semantic.forEach((value, d) => (out[d] = value * Math.sqrt(1 - share)));
    for (const [bucket, value] of lexicalVector(ids, negated, words, recipe))
      out[n + bucket] = value * Math.sqrt(share);
    return out;
  }

  it('computes what features.ts computes, in batches with padding', async () => {
    // Prepare: texts of different lengths (one batch pads the short ones), negations, a contraction, one word
    const texts = [
      'The dog bit the man.',
      'the man bit the dog',
      "The man isn't happy at all, he is not smiling and never laughs.",
      'happy',
      'A much longer sentence about markets and prices, which fell sharply today without any warning to traders.',
    ];
    // Act
    const results = await embedder.embed(texts);
    // Assess: every coordinate within float precision of the reference
    results.forEach((result, i) => {
      assert.ok(result.ok);
      const expected = reference(texts[i]!);
      const worst = Math.max(...expected.map((value, d) => Math.abs(value - result.vector[d]!)));
      assert.ok(worst < 1e-5, `${texts[i]}: differs by ${worst}`);
    });
  });
});
