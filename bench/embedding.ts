/**
 * The default model: embedding throughput on STS sentences at several batch sizes, Spearman
 * on the dev split, and the 5-fold cross-validation inside the train split that its recipe
 * was chosen by (recomputed here, not read from learned.json).
 */
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { type CrossValidation, crossValidate, FeaturisedPairs } from '../models/default-model/learn.ts';
import { DEFAULT_RECIPE } from '../models/default-model/recipe.ts';
import { Embedder } from '../embedding/runtime.ts';
import { readSts, stsSpearman } from '../models/sts.ts';

export interface EmbeddingBench {
  readonly sentences: number;
  readonly byBatchSize: { readonly batchSize: number; readonly itemsPerSecond: number }[];
  readonly bestItemsPerSecond: number;
  readonly stsDevSpearman: number;
  readonly stsTrainCrossValidation: CrossValidation;
}

export async function benchEmbedding(stsDir: string, quick: boolean): Promise<EmbeddingBench> {
  const dir = await ensureDefaultBundle();
  const pairs = readSts(`${stsDir}/sts-train.csv`);
  const sentences = pairs.flatMap((pair) => [pair.first, pair.second]);
  const workload = quick ? sentences.slice(0, 5000) : sentences;
  const byBatchSize: EmbeddingBench['byBatchSize'] = [];
  for (const batchSize of [16, 64, 256]) {
    const embedder = await Embedder.create(dir, { batchSize });
    await embedder.embed(workload.slice(0, 500)); // warm up
    const rounds = quick ? 1 : 3;
    const started = process.hrtime.bigint();
    for (let round = 0; round < rounds; round++) await embedder.embed(workload);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    byBatchSize.push({ batchSize, itemsPerSecond: (workload.length * rounds) / seconds });
  }
  const embedder = await Embedder.create(dir, {});
  const stsDevSpearman = await stsSpearman(embedder, readSts(`${stsDir}/sts-dev.csv`));
  const stsTrainCrossValidation = crossValidate(new FeaturisedPairs(pairs, DEFAULT_RECIPE));
  return {
    stsTrainCrossValidation,
    sentences: workload.length,
    byBatchSize,
    bestItemsPerSecond: Math.max(...byBatchSize.map((row) => row.itemsPerSecond)),
    stsDevSpearman,
  };
}
