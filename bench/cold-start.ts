// `npm run bench:cold-start`: what a cold search or merge function pays at 100k and 1M items,
// measured on this machine, for the AWS figures of docs/deploying.md. For each size it publishes a
// generation (random unit vectors of the default model's dimensions, keys like the demo's),
// then runs the search function's and the merge stage's loading (and, once, an embed batch)
// in fresh processes
// (bench/cold-start-probe.ts), so each peak RSS is that function's own. Writes
// bench/cold-start.json.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishFixture } from './index-fixture.ts';
import { readManifest } from '../embedding/bundle.ts';
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { tempDir } from '../test/helpers/scratch.ts';
import { randomUnitVectors } from './random.ts';
import type { ProbeResult, Stage } from './cold-start-probe.ts';
import type { ShardEntry } from '../indexer/run-files.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIZES = process.argv.includes('--quick') ? [100_000] : [100_000, 1_000_000];

function bytesUnder(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(path.join(entry.parentPath, entry.name)).size, 0);
}

function probe(stage: Stage, efsRoot: string, modelDir: string, ...rest: string[]): ProbeResult {
  const output = execFileSync(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '--import',
      'tsx',
      path.join(HERE, 'cold-start-probe.ts'),
      stage,
      efsRoot,
      modelDir,
      ...rest,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(output.trim().split('\n').at(-1)!) as ProbeResult;
}

const modelDir = await ensureDefaultBundle();
const model = readManifest(modelDir);
// An embed iteration's cost does not depend on the index.
const embed = probe('embed', os.tmpdir(), modelDir);
console.log(`embed: one batch of 500 long texts, ${embed.seconds.toFixed(2)} s, peak RSS ${embed.peakRssMb} MB`);
const rows = [];
for (const size of SIZES) {
  const dir = tempDir('ddb-faiss-bench-cold-');
  try {
    // The load cost does not depend on the vectors' values.
    const entries = Array.from({ length: size }, (_, i) => ({
      group: `g${i % 16}`,
      id: `item-${String(i).padStart(8, '0')}`,
      version: 1,
    }));
    const meta = await publishFixture(
      dir.path,
      { name: model.name, checksum: model.checksum, dimensions: model.dimensions },
      entries,
      randomUnitVectors(size, model.dimensions, 1),
    );
    const generationBytes = bytesUnder(dir.path);
    // A backfill of `size` items leaves a clear list of as many entries.
    const clearList: ShardEntry[] = entries.map((entry, row) => ({
      group: entry.group,
      id: entry.id,
      version: 1_764_028_800_000_000 + row,
      kind: 'vector',
      row,
      passages: [[0, 0]],
    }));
    writeFileSync(path.join(dir.path, 'clear.json'), JSON.stringify(clearList));
    const search = probe('search', dir.path, modelDir);
    const merge = probe('merge', dir.path, modelDir);
    const compact = probe('compact', dir.path, modelDir);
    const clear = probe('clear', dir.path, modelDir);
    const backfill = probe('backfill', dir.path, modelDir, String(size));
    rows.push({
      items: size,
      generation: meta.generation,
      generation_mb: generationBytes / 2 ** 20,
      search,
      merge,
      compact,
      clear,
      backfill,
    });
    console.log(
      `${size.toLocaleString('en')} items: generation ${(generationBytes / 2 ** 20).toFixed(0)} MiB; ` +
        `search: model ${search.modelLoadS.toFixed(2)} s, index ${search.indexLoadS.toFixed(2)} s, ` +
        `first query ${search.firstQueryMs.toFixed(1)} ms, peak RSS ${search.peakRssMb} MB; ` +
        `merge of +1,000: ${merge.seconds.toFixed(2)} s, peak RSS ${merge.peakRssMb} MB; ` +
        `full compaction: ${compact.seconds.toFixed(1)} s, peak RSS ${compact.peakRssMb} MB; ` +
        `clear list: peak RSS ${clear.peakRssMb} MB; backfill merge: ${backfill.seconds.toFixed(1)} s, ` +
        `peak RSS ${backfill.peakRssMb} MB`,
    );
  } finally {
    dir.remove();
  }
}
const results = {
  date: new Date().toISOString(),
  machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  model: { name: model.name, dimensions: model.dimensions },
  embed,
  sizes: rows,
};
writeFileSync(path.join(HERE, 'cold-start.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('written to bench/cold-start.json');
