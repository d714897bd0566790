/**
 * End to end on the local stack: N items imported -> indexer run -> all searchable. Reports
 * items/s and the time per stage (from the execution history), then two checks of what was
 * indexed:
 *  - a self-match check of the key <-> label mapping: each item's own text, embedded again,
 *    must find that item first. With exact inner-product search over unit vectors it cannot
 *    miss unless the mapping is wrong; its only "misses" are ties with an identical vector
 *    (two texts that differ only in words the model does not know);
 *  - retrieval quality through the real search path (HTTP /search): recall@10 of the paired
 *    sentence, over STS Benchmark dev pairs scored 4 or more, for each ranking mode (vector,
 *    lexical, hybrid).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readSts } from '../models/sts.ts';
import { loadEmbedder } from '../embedding/runtime.ts';
import { modelDirFor } from '../embedding/bundle.ts';
import { IndexReader } from '../search/index-reader.ts';
import { SEARCH_MODES, type SearchMode } from '../search/results.ts';
import { readHistory } from '../workflow/indexer-client.ts';
import { summarizeHistory } from '../workflow/run-progress.ts';
import { startWorkflowBench } from './bench-stack.ts';

export interface E2eBench {
  readonly items: number;
  readonly importSeconds: number;
  readonly runSeconds: number;
  readonly itemsPerSecond: number;
  readonly stageSeconds: Record<string, number>;
  /** DynamoDB requests the clear stage made per 1,000 items (flags cleared 25 to a request). */
  readonly clearRequestsPer1000: number | null;
  /** The self-match check of the label mapping: items checked (all up to 10,000, else a sample). */
  readonly selfMatchChecked: number;
  /** Items whose own text finds them first. */
  readonly selfMatchFirst: number;
  /** Items tied for first with another item whose vector is identical (not a miss of the mapping). */
  readonly selfMatchTied: number;
  /** Items not in the index at all: poison (no word of their text is known to the model). */
  readonly selfMatchNotIndexed: number;
  /** Indexed items whose own text does not find them first or tied: a wrong mapping. Must be 0. */
  readonly selfMatchMissed: number;
  /** STS dev pairs (score >= 4) queried through /search, and those whose paired sentence was in the top 10, by mode. */
  readonly pairRecall: Readonly<Record<SearchMode, PairRecall>>;
}

export interface PairRecall {
  readonly pairs: number;
  readonly found: number;
  readonly recallAt10: number;
}

const normalize = (sentence: string): string =>
  sentence
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

/**
 * Distinct sentences: STS dev first (so its pairs are always indexed), then train,
 * deduplicated ignoring case and punctuation (exact ties would make the self-match ambiguous).
 */
/** Distinct STS sentences (dev, then train), repeated with a variant number past the end. */
export function corpus(stsDirectory: string, count: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const file of ['sts-dev.csv', 'sts-train.csv']) {
    const full = path.join(stsDirectory, file);
    if (!existsSync(full)) continue;
    for (const pair of readSts(full)) {
      for (const sentence of [pair.first, pair.second]) {
        const norm = normalize(sentence);
        if (norm && !seen.has(norm)) {
          seen.add(norm);
          out.push(sentence);
        }
      }
    }
  }
  for (let i = 0; out.length < count; i++) out.push(`${out[i % out.length]} (variant ${i})`);
  return out.slice(0, count);
}

/**
 * Recall@10 of the paired sentence through the search service: for each STS dev pair scored 4
 * or more whose two sentences are distinct items, search the first (k = 11, its own item left
 * out) and look for the second among the top 10.
 */
async function pairRecallAt10(
  searchUrl: string,
  stsDirectory: string,
  idOf: ReadonlyMap<string, string>,
  mode: SearchMode,
): Promise<PairRecall> {
  let pairs = 0;
  let found = 0;
  for (const pair of readSts(path.join(stsDirectory, 'sts-dev.csv')).filter((candidate) => candidate.score >= 4)) {
    const query = idOf.get(normalize(pair.first));
    const target = idOf.get(normalize(pair.second));
    if (!query || !target || query === target) continue;
    const response = await fetch(`${searchUrl}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ q: pair.first, k: 11, mode }),
    });
    if (!response.ok) throw new Error(`search failed (HTTP ${response.status}): ${await response.text()}`);
    const { hits } = (await response.json()) as { hits: { id: string }[] };
    pairs += 1;
    if (
      hits
        .filter((hit) => hit.id !== query)
        .slice(0, 10)
        .some((hit) => hit.id === target)
    )
      found += 1;
  }
  return { pairs, found, recallAt10: pairs > 0 ? found / pairs : 0 };
}

export async function benchEndToEnd(stsDirectory: string, count: number): Promise<E2eBench> {
  const bench = await startWorkflowBench('ddb-faiss-bench-', { 'batch-size': '1000', 'max-concurrency': '2' });
  const { dir, config, stack } = bench;
  try {
    const sentences = corpus(stsDirectory, count);
    const file = path.join(dir, 'items.jsonl');
    writeFileSync(
      file,
      sentences.map((content, i) => JSON.stringify({ id: `s${i}`, group: `g${i % 8}`, content })).join('\n'),
    );

    const t0 = performance.now();
    await bench.importItems(file);
    const t1 = performance.now();
    const { executionArn, output } = await bench.run();
    const clearRequests = (output as { clear?: { requests?: number } } | null)?.clear?.requests;
    const t2 = performance.now();

    const progress = summarizeHistory(await readHistory(stack.clients.stepFunctions, executionArn));
    const stageSeconds = Object.fromEntries(
      progress.stages.map((stage) => [
        stage.name,
        stage.startedAt && stage.endedAt ? (stage.endedAt.getTime() - stage.startedAt.getTime()) / 1000 : 0,
      ]),
    );

    // The self-match check: every item up to 10,000, else an evenly spaced sample of 2,000.
    const loaded = new IndexReader(config.efsRoot).current()!;
    const embedder = await loadEmbedder(
      path.join(config.efsRoot, modelDirFor(config.modelName, loaded.meta.model.checksum)),
    );
    const checked =
      count <= 10_000
        ? sentences.map((_, i) => i)
        : Array.from({ length: 2000 }, (_, j) => Math.floor((j * count) / 2000));
    const vectors = await embedder.embed(checked.map((i) => sentences[i]!));
    let first = 0;
    let tied = 0;
    let notIndexed = 0;
    let missed = 0;
    vectors.forEach((result, j) => {
      const id = `s${checked[j]}`;
      if (!loaded.has(`g${checked[j]! % 8}`, id)) notIndexed += 1;
      else if (!result.ok) missed += 1;
      else {
        // Texts that differ only in words the model drops share one vector: the item may sit
        // anywhere among the hits tied for the best score.
        const hits = loaded.search(result.vector, 10);
        const best = hits[0]?.score ?? Number.NaN;
        if (hits[0]?.entry.id === id) first += 1;
        else if (hits.some((hit) => hit.entry.id === id && Math.abs(hit.score - best) < 1e-6)) tied += 1;
        else missed += 1;
      }
    });
    const idOf = new Map(sentences.map((sentence, i) => [normalize(sentence), `s${i}`]));
    const pairRecall = Object.fromEntries(
      await Promise.all(
        SEARCH_MODES.map(
          async (mode) => [mode, await pairRecallAt10(stack.info.endpoints.http, stsDirectory, idOf, mode)] as const,
        ),
      ),
    ) as Record<SearchMode, PairRecall>;
    return {
      items: count,
      importSeconds: (t1 - t0) / 1000,
      runSeconds: (t2 - t1) / 1000,
      itemsPerSecond: count / ((t2 - t0) / 1000),
      stageSeconds,
      clearRequestsPer1000: clearRequests === undefined ? null : Number(((clearRequests / count) * 1000).toFixed(1)),
      selfMatchChecked: checked.length,
      selfMatchFirst: first,
      selfMatchTied: tied,
      selfMatchNotIndexed: notIndexed,
      selfMatchMissed: missed,
      pairRecall,
    };
  } finally {
    await bench.close();
  }
}
