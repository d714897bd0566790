/**
 * End to end on the local stack: N items imported -> indexer run -> all searchable. Reports
 * items/s, the time per stage (from the execution history), and checks that every item is
 * the top hit for its own text.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { readSts } from '../embedding/sts.ts';
import { loadEmbedder } from '../embedding/runtime.ts';
import { modelDirFor } from '../indexer/bootstrap.ts';
import { startLocalStack } from '../local-stack/stack.ts';
import { IndexReader } from '../search/index-reader.ts';
import { main } from '../workflow/cli/main.ts';
import { readHistory } from '../workflow/indexer-client.ts';
import { ensureModelPublished, localStackProps } from '../workflow/local-stack-props.ts';
import { summarizeHistory } from '../workflow/run-progress.ts';
import { testConfig, tempDir } from '../test/helpers/local-stack.ts';

export interface E2eBench {
  readonly items: number;
  readonly importSeconds: number;
  readonly runSeconds: number;
  readonly itemsPerSecond: number;
  readonly stageSeconds: Record<string, number>;
  /** Items checked (all up to 10,000, else a sample). */
  readonly ownTextChecked: number;
  readonly ownTextTopHit: number;
  /** Items tied for the top score with another item whose vector is identical. */
  readonly ownTextTiedTopHit: number;
}

/** Distinct sentences: STS train + dev, deduplicated ignoring case and punctuation (exact ties would make "top hit" ambiguous). */
function corpus(stsDirectory: string, count: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const file of ['sts-train.csv', 'sts-dev.csv']) {
    const full = path.join(stsDirectory, file);
    if (!existsSync(full)) continue;
    for (const pair of readSts(full)) {
      for (const sentence of [pair.first, pair.second]) {
        const norm = sentence.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
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

export async function benchEndToEnd(stsDirectory: string, count: number): Promise<E2eBench> {
  const dir = tempDir('ddb-faiss-bench-');
  const config = testConfig(dir.path, { 'batch-size': '1000', 'max-concurrency': '2' });
  const stack = await startLocalStack(localStackProps(config));
  const silent = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from([]) };
  silent.stdout.resume();
  silent.stderr.resume();
  try {
    await ensureModelPublished(stack.clients.s3, config);
    const sentences = corpus(stsDirectory, count);
    const file = path.join(dir.path, 'items.jsonl');
    writeFileSync(file, sentences.map((content, i) => JSON.stringify({ id: `s${i}`, group: `g${i % 8}`, content })).join('\n'));

    const t0 = performance.now();
    if ((await main(['import', file, '--data-dir', dir.path], silent)) !== 0) throw new Error('import failed');
    const t1 = performance.now();
    let executionArn = '';
    const runOut = new PassThrough();
    let runText = '';
    runOut.on('data', (chunk) => (runText += chunk));
    if ((await main(['run', '--wait', '--json', '--data-dir', dir.path], { ...silent, stdout: runOut })) !== 0) throw new Error(`run failed: ${runText}`);
    const t2 = performance.now();
    executionArn = JSON.parse(runText.trim().split('\n').at(-1)!).executionArn;

    const progress = summarizeHistory(await readHistory(stack.clients.stepFunctions, executionArn));
    const stageSeconds = Object.fromEntries(progress.stages.map((stage) => [stage.name, stage.startedAt && stage.endedAt ? (stage.endedAt.getTime() - stage.startedAt.getTime()) / 1000 : 0]));

    // Each item must be the top hit for its own text: every item up to 10,000, else an evenly
    // spaced sample of 2,000 (a full check at 100k would be 100k searches).
    const loaded = new IndexReader(config.efsRoot).current()!;
    const embedder = await loadEmbedder(path.join(config.efsRoot, modelDirFor(config.modelName, loaded.meta.model.checksum)));
    const checked = count <= 10_000 ? sentences.map((_, i) => i) : Array.from({ length: 2000 }, (_, j) => Math.floor((j * count) / 2000));
    const vectors = await embedder.embed(checked.map((i) => sentences[i]!));
    let top = 0;
    let tiedTop = 0;
    vectors.forEach((result, j) => {
      const id = `s${checked[j]}`;
      if (!result.ok) return;
      const [best, second] = loaded.state.search(result.vector, 2);
      if (best?.entry.id === id) top += 1;
      // Another item with an identical vector (texts that differ only in words the model lacks).
      else if (second?.entry.id === id && Math.abs(best!.score - second.score) < 1e-6) tiedTop += 1;
    });
    return {
      items: count,
      importSeconds: (t1 - t0) / 1000,
      runSeconds: (t2 - t1) / 1000,
      itemsPerSecond: count / ((t2 - t0) / 1000),
      stageSeconds,
      ownTextChecked: checked.length,
      ownTextTopHit: top,
      ownTextTiedTopHit: tiedTop,
    };
  } finally {
    await stack.close();
    dir.remove();
  }
}
