/**
 * Long content on the local stack: items of about 390 KB (near DynamoDB's 400 KB item limit),
 * each made of STS sentences, imported, then
 *  - the embed stage in a process of its own (`embed-probe.ts`), as one embed iteration runs in
 *    Lambda, on batches of two sizes: what it keeps from one read of 100 items to the next should
 *    not grow with the batch (each item's vectors are written as soon as they are made), though
 *    the content does;
 *  - the whole workflow (one run): the passages indexed, and their rate.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSts } from '../models/sts.ts';
import { startWorkflowBench } from './bench-stack.ts';

export interface EmbedProbe {
  readonly items: number;
  readonly passages: number;
  readonly seconds: number;
  readonly peakRssMb: number;
  /** The heap in use at each read of items after a full collection, the largest: what one read leaves to the next. */
  readonly retainedHeapMb: number;
}

export interface LongContentBench {
  readonly items: number;
  readonly contentMb: number;
  readonly passages: number;
  readonly runSeconds: number;
  readonly passagesPerSecond: number;
  /** The embed stage alone, on batches of the probes' sizes. */
  readonly embed: readonly EmbedProbe[];
}

/** Characters of each item: under the 400 KB limit with its keys and flag. */
const ITEM_CHARS = 390_000;
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Runs the probe; asynchronously, as the local stack it reads runs in this process. */
async function embedProbe(dataDir: string, items: number): Promise<EmbedProbe> {
  const { stdout: output } = await promisify(execFile)(
    process.execPath,
    [
      '--expose-gc',
      '--openssl-legacy-provider',
      '--import',
      'tsx',
      path.join(HERE, 'embed-probe.ts'),
      dataDir,
      String(items),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return { items, ...(JSON.parse(output.trim().split('\n').at(-1)!) as Omit<EmbedProbe, 'items'>) };
}

/**
 * @param items items imported and indexed by the run
 * @param probes the batch sizes the embed stage is measured alone on (at most `items`)
 */
export async function benchLongContent(
  stsDirectory: string,
  items: number,
  probes: readonly number[],
): Promise<LongContentBench> {
  // One batch holds every item, as in the probe of all of them.
  const bench = await startWorkflowBench('ddb-faiss-bench-long-', { 'batch-size': String(items) });
  try {
    const sentences = readSts(path.join(stsDirectory, 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
    let next = 0;
    const lines = Array.from({ length: items }, (_, i) => {
      const parts: string[] = [];
      for (let length = 0; ;) {
        const sentence = sentences[next++ % sentences.length]!;
        if (length + sentence.length + 1 > ITEM_CHARS) break;
        parts.push(sentence);
        length += sentence.length + 1;
      }
      return JSON.stringify({ id: `long-${i}`, group: 'long', content: parts.join(' ') });
    });
    const file = path.join(bench.dir, 'long.jsonl');
    writeFileSync(file, lines.join('\n'));
    await bench.importItems(file);

    const embed: EmbedProbe[] = [];
    for (const count of probes) embed.push(await embedProbe(bench.dir, count));

    const t0 = performance.now();
    const merge = (await bench.run()).output?.['merge'] as { vectors: number; items: number; poison: number };
    const runSeconds = (performance.now() - t0) / 1000;
    if (merge.items !== items || merge.poison !== 0)
      throw new Error(`indexed ${merge.items} of ${items} items, ${merge.poison} poison`);
    return {
      items,
      contentMb: Math.round((items * ITEM_CHARS) / 2 ** 20),
      passages: merge.vectors,
      runSeconds,
      passagesPerSecond: merge.vectors / runSeconds,
      embed,
    };
  } finally {
    await bench.close();
  }
}
