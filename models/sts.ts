/** The STS Benchmark format and Spearman's rank correlation, for measuring embedding quality. */
import { readFileSync } from 'node:fs';
import { settingFromEnv } from '../config/settings.ts';
import type { Embedder } from '../embedding/runtime.ts';

/**
 * The STS Benchmark folder (sts-train.csv, sts-dev.csv): the `stsDir` setting
 * (`$DDB_FAISS_STS_DIR`, else `shared/data/stsb` beside the repository).
 */
export function stsDir(): string {
  return settingFromEnv('stsDir');
}

export interface StsPair {
  readonly score: number;
  readonly first: string;
  readonly second: string;
}

/** Reads an STS Benchmark split (tab-separated: genre, file, year, id, score, sentence1, sentence2). */
export function readSts(file: string): StsPair[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((fields) => fields.length >= 7)
    .map((fields) => ({ score: Number(fields[4]), first: fields[5]!, second: fields[6]! }));
}

function ranks(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const result = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.value === order[i]!.value) j++;
    for (let k = i; k <= j; k++) result[order[k]!.index] = (i + j) / 2 + 1; // ties share their mean rank
    i = j + 1;
  }
  return result;
}

export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (ra.length + 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/** Spearman x 100 between gold scores and the cosine of the two sentences' embeddings. */
export async function stsSpearman(embedder: Embedder, pairs: readonly StsPair[]): Promise<number> {
  const first = await embedder.embed(pairs.map((pair) => pair.first));
  const second = await embedder.embed(pairs.map((pair) => pair.second));
  const similarities = first.map((a, i) => {
    const b = second[i]!;
    if (!a.ok || !b.ok) return 0;
    let dot = 0;
    for (let d = 0; d < a.vector.length; d++) dot += a.vector[d]! * b.vector[d]!;
    return dot;
  });
  return (
    spearman(
      similarities,
      pairs.map((pair) => pair.score),
    ) * 100
  );
}
