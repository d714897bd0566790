/**
 * Search latency at a given index size: the index is built from real sentence embeddings
 * (STS sentences and numbered variants), the items written to the local DynamoDB, then
 * queries (STS dev sentences) go through the service's query path. Reports p50/p99 of the
 * whole query (embedding + Faiss + hydration) and of Faiss alone, and queries per second; then
 * p50 of the other kinds of query: an attribute filter admitting 1% and one admitting 50% of the
 * items, lexical (BM25) and hybrid ranking.
 */
import { startBenchStack } from './bench-stack.ts';
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { batchWriteItems } from '../aws/dynamodb-batch.ts';
import path from 'node:path';
import { readSts } from '../models/sts.ts';
import { publishFixture } from './index-fixture.ts';
import { IndexReader } from '../search/index-reader.ts';
import { search, type SearchRequest } from '../search/query.ts';
import { termCounts } from '../index-store/lexical-terms.ts';
import { acquireLease } from '../indexer/lease.ts';
import { mergeShards } from '../indexer/merge.ts';
import { writeShard } from '../indexer/run-files.ts';

export interface SearchBench {
  readonly vectors: number;
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly faissP50Ms: number;
  readonly faissP99Ms: number;
  readonly embedP50Ms: number;
  readonly hydrateP50Ms: number;
  readonly queriesPerSecond: number;
  readonly loadSeconds: number;
  /** The merge stage folding 1,000 new items into this index: seconds and peak RSS growth. */
  readonly merge1kSeconds: number;
  /** p50 of whole queries of other kinds, ms. */
  readonly otherP50Ms: {
    readonly filter1Percent: number;
    readonly filter50Percent: number;
    readonly lexical: number;
    readonly hybrid: number;
  };
}

/** Item i's filterable attributes: `band` admits 1% of the items per value, `half` 50%. */
const attributesOf = (i: number) => ({ band: i % 100, half: i % 2 });

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

export async function benchSearch(stsDirectory: string, vectors: number, queries = 200): Promise<SearchBench> {
  const { config, stack, context, model, embedder, close } = await startBenchStack('ddb-faiss-bench-search-');
  try {
    const base = readSts(path.join(stsDirectory, 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
    const texts = Array.from({ length: vectors }, (_, i) =>
      i < base.length ? base[i]! : `${base[i % base.length]} (${i})`,
    );

    // Index: embed in chunks, publish as one generation.
    const indexed = new Float32Array(texts.length * model.dimensions);
    for (let start = 0; start < texts.length; start += 10_000) {
      const results = await embedder.embed(texts.slice(start, start + 10_000));
      results.forEach((result, i) => result.ok && indexed.set(result.vector, (start + i) * model.dimensions));
    }
    await publishFixture(
      config.efsRoot,
      { name: model.name, checksum: model.checksum, dimensions: model.dimensions },
      texts.map((_, i) => ({ group: `g${i % 16}`, id: `s${i}`, version: 1 })),
      indexed,
      (i) => ({ attributes: attributesOf(i), terms: [termCounts(texts[i]!)] }),
    );

    // Items, for hydration.
    const requests: WriteRequest[] = texts.map((content, i) => ({
      PutRequest: {
        Item: {
          [config.groupAttribute]: { S: `g${i % 16}` },
          [config.idAttribute]: { S: `s${i}` },
          [config.contentAttribute]: { S: content },
          band: { N: String(attributesOf(i).band) },
          half: { N: String(attributesOf(i).half) },
        },
      },
    }));
    const written = await batchWriteItems(stack.clients.dynamodb, config.tableName, requests);
    if (written.failed.length > 0)
      throw new Error(`DynamoDB refused ${written.failed.length} bench items: ${written.failed[0]!.error}`);

    const reader = new IndexReader(config.efsRoot);
    const l0 = performance.now();
    reader.current();
    const loadSeconds = (performance.now() - l0) / 1000;
    const questions = readSts(path.join(stsDirectory, 'sts-dev.csv'))
      .map((pair) => pair.first)
      .slice(0, queries);
    await search(context, reader, { text: questions[0]!, k: 10 }); // warm up
    const totals: number[] = [];
    const faiss: number[] = [];
    const embed: number[] = [];
    const hydrate: number[] = [];
    const started = performance.now();
    for (const question of questions) {
      const t0 = performance.now();
      const result = await search(context, reader, { text: question, k: 10 });
      totals.push(performance.now() - t0);
      faiss.push(result.timings.faiss);
      embed.push(result.timings.embed);
      hydrate.push(result.timings.hydrate);
    }
    const elapsed = (performance.now() - started) / 1000;
    const p50Of = async (request: Omit<SearchRequest, 'text' | 'k'>): Promise<number> => {
      const times: number[] = [];
      for (const question of questions) {
        const t0 = performance.now();
        await search(context, reader, { text: question, k: 10, ...request });
        times.push(performance.now() - t0);
      }
      return percentile(times, 50);
    };
    const otherP50Ms = {
      filter1Percent: await p50Of({ filter: { band: { in: [7] } } }),
      filter50Percent: await p50Of({ filter: { half: { in: [1] } } }),
      lexical: await p50Of({ mode: 'lexical' }),
      hybrid: await p50Of({ mode: 'hybrid' }),
    };

    // Merge cost: the real merge stage adds a shard of 1,000 new items to this index.
    const run = {
      mode: 'incremental' as const,
      execution: 'bench-merge',
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:bench:bench-merge',
    };
    await acquireLease(context, run);
    const fresh = questions
      .concat(base)
      .slice(0, 1000)
      .map((text, i) => `${text} [new ${i}]`);
    const embedded = await embedder.embed(fresh);
    const flat = new Float32Array(fresh.length * model.dimensions);
    embedded.forEach((result, i) => result.ok && flat.set(result.vector, i * model.dimensions));
    const shard = writeShard(
      config.efsRoot,
      run.execution,
      1,
      model.checksum,
      fresh.map((_, i) => ({
        group: 'new',
        id: `n${i}`,
        version: 1,
        kind: 'vector' as const,
        row: i,
        passages: [[0, 0]] as const,
      })),
      flat,
    );
    const m0 = performance.now();
    const merged = await mergeShards(context, run, model, { batchCount: 1 }, [shard]);
    const merge1kSeconds = (performance.now() - m0) / 1000;
    if (!merged.complete || merged.vectors !== vectors + 1000)
      throw new Error(`merge produced ${JSON.stringify(merged)}, expected ${vectors + 1000} vectors`);
    return {
      merge1kSeconds,
      otherP50Ms,
      vectors,
      queries: questions.length,
      p50Ms: percentile(totals, 50),
      p99Ms: percentile(totals, 99),
      faissP50Ms: percentile(faiss, 50),
      faissP99Ms: percentile(faiss, 99),
      embedP50Ms: percentile(embed, 50),
      hydrateP50Ms: percentile(hydrate, 50),
      queriesPerSecond: questions.length / elapsed,
      loadSeconds,
    };
  } finally {
    await close();
  }
}
