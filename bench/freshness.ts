/**
 * Freshness in stream mode (issue 32): how long from a write through the SDK (no ddb-faiss
 * attribute) until `/search` returns the item as its top hit, on the local stack following the
 * table's stream: single writes one at a time, and a burst of 1,000. For single writes, `/search`
 * is polled every 25 ms. For the burst, each new index generation is detected (CURRENT.json polled
 * every 20 ms) and the items not yet found are searched through `/search` then; an item's time is
 * its write's acknowledgement to the detection of the generation in which `/search` first returns
 * it first. Also: what a small captured run spends its time on, by stage (medians over the single
 * writes).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { BatchWriteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { percentile } from '../workflow/monitor/metrics-source.ts';
import { readHistory } from '../workflow/indexer-client.ts';
import { summarizeHistory } from '../workflow/run-progress.ts';
import { forEachConcurrently } from '../aws/concurrency.ts';
import { corpus } from './e2e.ts';
import { startWorkflowBench } from './bench-stack.ts';

export interface FreshnessBench {
  readonly singleWrites: number;
  readonly singleP50Seconds: number;
  readonly singleP99Seconds: number;
  readonly burstItems: number;
  readonly burstP50Seconds: number;
  readonly burstP99Seconds: number;
  /** Runs the burst took (each captured run takes what was captured before it planned). */
  readonly burstRuns: number;
  /** A single write's captured run, stage by stage: median milliseconds. */
  readonly smallRunStageMs: Readonly<Record<string, number>>;
  readonly debounceSeconds: number;
}

const SEED = 1_000;
const SINGLES = 20;
const BURST = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchFreshness(
  stsDirectory: string,
  debounce?: string,
  singles = SINGLES,
  burst = BURST,
): Promise<FreshnessBench> {
  // Writes here come one after another's run: with runs spaced (captureRunSpacing), each would wait
  // out the spacing. Measured is the freshness of a change after a quiet spell, so runs are not spaced.
  const bench = await startWorkflowBench('ddb-faiss-bench-fresh-', {
    'change-capture': 'stream',
    'capture-run-spacing': '0s',
    ...(debounce ? { 'capture-debounce': debounce } : {}),
  });
  const { config, stack } = bench;
  const search = `${stack.info.endpoints.http}/search`;
  const topHit = async (text: string): Promise<string | undefined> => {
    const response = await fetch(search, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ q: text, k: 1 }),
    });
    if (!response.ok) return undefined;
    return ((await response.json()) as { hits: { id: string }[] }).hits[0]?.id;
  };
  const item = (id: string, content: string) => ({
    [config.groupAttribute]: { S: 'g' },
    [config.idAttribute]: { S: id },
    [config.contentAttribute]: { S: content },
  });
  const writeMany = async (rows: { id: string; content: string }[], acked: Map<string, number>) => {
    const chunks = Array.from({ length: Math.ceil(rows.length / 25) }, (_, i) => rows.slice(i * 25, i * 25 + 25));
    await forEachConcurrently(chunks, 4, async (chunk) => {
      let requests = chunk.map((row) => ({ PutRequest: { Item: item(row.id, row.content) } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await stack.clients.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [config.tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[config.tableName] ?? []) as typeof requests;
      }
      const now = performance.now();
      for (const row of chunk) acked.set(row.id, now);
    });
  };
  const current = path.join(config.efsRoot, 'index', 'CURRENT.json');
  const generationStamp = (): number => {
    try {
      return statSync(current).mtimeMs;
    } catch {
      return 0;
    }
  };
  const waitUntilSearchable = async (ids: Map<string, string>, acked: Map<string, number>, deadlineMs: number) => {
    const found = new Map<string, number>();
    let seen = generationStamp();
    const deadline = performance.now() + deadlineMs;
    while (found.size < ids.size && performance.now() < deadline) {
      const stamp = generationStamp();
      if (stamp !== seen) {
        seen = stamp;
        const detected = performance.now();
        const left = [...ids].filter(([id]) => !found.has(id));
        await forEachConcurrently(left, 4, async ([id, text]) => {
          if ((await topHit(text)) === id) found.set(id, (detected - acked.get(id)!) / 1000);
        });
      }
      await sleep(20);
    }
    return found;
  };

  try {
    const sentences = corpus(stsDirectory, SEED + singles + burst);
    // A table of 1,000 items, captured and indexed from the stream like everything after.
    const seedAcked = new Map<string, number>();
    const seedIds = new Map(sentences.slice(0, SEED).map((text, i) => [`seed-${i}`, text]));
    await writeMany(
      [...seedIds].map(([id, content]) => ({ id, content })),
      seedAcked,
    );
    const seeded = await waitUntilSearchable(seedIds, seedAcked, 300_000);
    if (seeded.size < SEED) throw new Error(`only ${seeded.size} of ${SEED} seed items became searchable`);
    await sleep(2_000);

    const single: number[] = [];
    for (let i = 0; i < singles; i++) {
      const id = `single-${i}`;
      const text = sentences[SEED + i]!;
      const started = performance.now();
      await stack.clients.dynamodb.send(new PutItemCommand({ TableName: config.tableName, Item: item(id, text) }));
      const acked = performance.now();
      while ((await topHit(text)) !== id) {
        if (performance.now() - started > 60_000) throw new Error(`${id} was not searchable within a minute`);
        await sleep(25);
      }
      single.push((performance.now() - acked) / 1000);
      await sleep(1_500); // the next write finds the system idle
    }
    const executions = async () =>
      (
        await stack.clients.stepFunctions.send(
          new ListExecutionsCommand({ stateMachineArn: stack.info.stateMachineArn, maxResults: 1000 }),
        )
      ).executions ?? [];
    // The single writes' runs are the newest ones: their stages, median per stage.
    const runs = (await executions()).filter((execution) => execution.status === 'SUCCEEDED').slice(0, singles);
    const byStage = new Map<string, number[]>();
    for (const run of runs) {
      const progress = summarizeHistory(await readHistory(stack.clients.stepFunctions, run.executionArn!));
      for (const stage of progress.stages)
        if (stage.startedAt && stage.endedAt)
          byStage.set(stage.name, [
            ...(byStage.get(stage.name) ?? []),
            stage.endedAt.getTime() - stage.startedAt.getTime(),
          ]);
    }
    const smallRunStageMs = Object.fromEntries(
      [...byStage].map(([name, values]) => [
        name,
        percentile(
          values.sort((a, b) => a - b),
          50,
        ),
      ]),
    );

    const before = (await executions()).length;
    const burstIds = new Map(sentences.slice(SEED + singles).map((text, i) => [`burst-${i}`, text]));
    const burstAcked = new Map<string, number>();
    const searchable = waitUntilSearchable(burstIds, burstAcked, 300_000);
    await writeMany(
      [...burstIds].map(([id, content]) => ({ id, content })),
      burstAcked,
    );
    const found = await searchable;
    if (found.size < burstIds.size)
      throw new Error(`only ${found.size} of ${burstIds.size} burst items became searchable`);
    const burstRuns = (await executions()).length - before;

    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    const singleSorted = sorted(single);
    const burstSorted = sorted([...found.values()]);
    return {
      singleWrites: singles,
      singleP50Seconds: percentile(singleSorted, 50),
      singleP99Seconds: percentile(singleSorted, 99),
      burstItems: burstIds.size,
      burstP50Seconds: percentile(burstSorted, 50),
      burstP99Seconds: percentile(burstSorted, 99),
      burstRuns,
      smallRunStageMs,
      debounceSeconds: Number.parseFloat(config.captureDebounce),
    };
  } finally {
    await bench.close();
  }
}

/** The bench's figures as `bench/results.json` keeps them. */
export function freshnessResults(bench: FreshnessBench) {
  const round = (value: number): number => Number(value.toFixed(2));
  return {
    freshness_p50_s: { single: round(bench.singleP50Seconds), burst_1000: round(bench.burstP50Seconds) },
    freshness_p99_s: { single: round(bench.singleP99Seconds), burst_1000: round(bench.burstP99Seconds) },
    freshness_detail: {
      single_writes: bench.singleWrites,
      burst_items: bench.burstItems,
      burst_runs: bench.burstRuns,
      capture_debounce_s: bench.debounceSeconds,
      small_run_stage_ms: bench.smallRunStageMs,
    },
  };
}

// `npm run bench:freshness`: this bench alone, its figures merged into bench/results.json; with
// `-- --capture-debounce=0s`, another debounce, printed only (the results keep the default's).
if (process.argv[1]?.endsWith('freshness.ts')) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { stsDir } = await import('../models/sts.ts');
  const debounce = process.argv.find((arg) => arg.startsWith('--capture-debounce='))?.split('=')[1];
  const figures = freshnessResults(await benchFreshness(stsDir(), debounce));
  const file = new URL('./results.json', import.meta.url);
  if (!debounce)
    writeFileSync(file, `${JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...figures }, null, 2)}\n`);
  console.log(JSON.stringify(figures, null, 2));
}
