/** Embedding throughput of the default model on STS sentences at several batch sizes. */
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { Embedder } from '../embedding/runtime.ts';
import { readSts, stsSpearman } from '../models/sts.ts';

export interface EmbeddingBench {
  readonly sentences: number;
  readonly byBatchSize: { readonly batchSize: number; readonly itemsPerSecond: number }[];
  readonly bestItemsPerSecond: number;
  readonly stsDevSpearman: number;
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
  return {
    sentences: workload.length,
    byBatchSize,
    bestItemsPerSecond: Math.max(...byBatchSize.map((row) => row.itemsPerSecond)),
    stsDevSpearman,
  };
}
