// Learns the default model's parameters from the STS Benchmark *train* split and writes
// models/default-model/learned.json (commit it): the common sentence directions, the semantic
// map, and the 5-fold cross-validation inside train of the recipe they were learned with.
//   npm run learn-default-model [-- --explore] [-- --train path/to/sts-train.csv]
// --explore first cross-validates each part of the recipe on its own, and each left out of the
// full recipe: how each setting was chosen. The dev split is never read here.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LEARNED_FILE, recipeHash } from '../models/default-model/build.ts';
import { type CrossValidation, crossValidate, FeaturisedPairs, learnFrom } from '../models/default-model/learn.ts';
import { DEFAULT_RECIPE, type DefaultRecipe } from '../models/default-model/recipe.ts';
import { buildWordTable, readWinkEmbeddings } from '../models/default-model/word-vectors.ts';
import { readSts, stsDir } from '../models/sts.ts';

const { values } = parseArgs({
  options: { explore: { type: 'boolean', default: false }, train: { type: 'string' }, only: { type: 'string' } },
});
const pairs = readSts(values.train ?? path.join(stsDir(), 'sts-train.csv'));
const source = readWinkEmbeddings();
const format = (cv: CrossValidation) =>
  `Spearman ${cv.mean.toFixed(2)} ± ${cv.spread.toFixed(2)}, pair recall@10 ${(cv.pairRecallAt10 * 100).toFixed(1)}%`;
const evaluate = (recipe: DefaultRecipe) =>
  crossValidate(new FeaturisedPairs(pairs, recipe, buildWordTable(source, recipe)));

if (values.explore) {
  /** The recipe of ddb-faiss 0.1: SIF, two common directions removed, hashed words. */
  const previous: DefaultRecipe = {
    ...DEFAULT_RECIPE,
    sifA: 3e-4,
    sentenceDirectionsRemoved: 2,
    lexicalShare: 0.25,
    bigramWeight: 0,
    negationWindow: 0,
    negatedVectorFactor: 1,
    splitContractions: false,
    mapRidge: null,
    mapContrastiveWeight: 0,
  };
  /** The default with its map fitted to the gold scores alone: most STS, less retrieval. */
  const scoresOnly: DefaultRecipe = { ...DEFAULT_RECIPE, mapContrastiveWeight: 0 };
  const experiments: [string, DefaultRecipe][] = [
    ['0.1 recipe', previous],
    ['0.1 + learned linear map', { ...previous, mapRidge: 0 }],
    ['0.1 + SIF a 0.002', { ...previous, sifA: 2e-3 }],
    ['0.1 + lexical share 0.35', { ...previous, lexicalShare: 0.35 }],
    ["0.1 + contractions split (n't -> not)", { ...previous, splitContractions: true }],
    [
      '0.1 + negation (the 4 words after)',
      { ...previous, splitContractions: true, negationWindow: 4, negatedVectorFactor: -0.25 },
    ],
    ['0.1 + word pairs 0.25', { ...previous, bigramWeight: 0.25 }],
    ['new default (map with contrastive term 0.3)', DEFAULT_RECIPE],
    ['map fitted to scores alone (contrastive 0)', { ...scoresOnly }],
    ['scores alone - learned map', { ...scoresOnly, mapRidge: null, sentenceDirectionsRemoved: 2 }],
    ['scores alone - SIF a 0.002', { ...scoresOnly, sifA: 3e-4 }],
    ['scores alone - lexical share 0.35', { ...scoresOnly, lexicalShare: 0.25 }],
    ['scores alone - negated vectors flipped (x1)', { ...scoresOnly, negatedVectorFactor: 1 }],
    ['scores alone - negation', { ...scoresOnly, negationWindow: 0 }],
    ['scores alone - word pairs', { ...scoresOnly, bigramWeight: 0 }],
    ['contrastive term 0.1', { ...DEFAULT_RECIPE, mapContrastiveWeight: 0.1 }],
    ['contrastive term 1', { ...DEFAULT_RECIPE, mapContrastiveWeight: 1 }],
    ['- number tokens', { ...DEFAULT_RECIPE, numberTokens: 0, numberDecimals: 0 }],
    ['number tokens weighted 1', { ...DEFAULT_RECIPE, numberWeight: 1 }],
    ['number tokens weighted 2', { ...DEFAULT_RECIPE, numberWeight: 2 }],
    ['number tokens weighted 6', { ...DEFAULT_RECIPE, numberWeight: 6 }],
    ['- decimal number tokens', { ...DEFAULT_RECIPE, numberDecimals: 0 }],
    ['decimal number tokens, 1 place only', { ...DEFAULT_RECIPE, numberDecimals: 1 }],
  ];
  for (const [name, recipe] of experiments) {
    if (values.only && !name.includes(values.only)) continue;
    const cv = evaluate(recipe);
    console.log(`${name.padEnd(44)} ${format(cv)} (folds ${cv.folds.map((f) => f.toFixed(1)).join(' ')})`);
  }
}

const data = new FeaturisedPairs(pairs, DEFAULT_RECIPE, buildWordTable(source, DEFAULT_RECIPE));
const crossValidation = crossValidate(data);
const learned = learnFrom(
  data,
  pairs.map((_, row) => row),
);
writeFileSync(
  LEARNED_FILE,
  `${JSON.stringify(
    {
      recipeHash: recipeHash(DEFAULT_RECIPE),
      sentenceDirections: learned.sentenceDirections,
      ...(learned.semanticMap ? { semanticMap: Array.from(learned.semanticMap) } : {}),
      crossValidation,
    },
    null,
    1,
  )}\n`,
);
console.log(`train ${pairs.length} pairs, 5-fold cross-validation: ${format(crossValidation)} -> ${LEARNED_FILE}`);
