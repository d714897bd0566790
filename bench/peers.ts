// `npm run bench:peers`: ddb-faiss's index layer side by side with LanceDB 0.31 (the peer a
// self-hosting user would pick instead), on the same vectors, on this machine. At each size
// (default 100,000 and 1,000,000 vectors of the default model: texts of two STS train sentences,
// drawn with the seed of bench/scale.ts), each system builds its index in a process of its own
// (ddb-faiss as merge writes it; LanceDB's IVF_PQ and IVF_HNSW_SQ, cosine), then three fresh
// processes open them and answer the same 200 STS dev queries interleaved, query by query,
// timing only the index layer (no query embedding, no hydration). LanceDB's settings are the
// fastest reaching recall@10 0.95 against exact search, found by a sweep; ddb-faiss's are its
// own (index-store/segment.ts). Then each adds 1,000 items (written, and searchable: found by
// a search for its own vector), replaces 1,000, and is searched again (LanceDB once more after
// optimize()). Writes bench/results-peers.json; docs/benchmarks.md and the README quote it.
//
//   npm run bench:peers                       # 100k and 1M (~40 min here)
//   npm run bench:peers -- --sizes=20000      # a quick try
//
// LanceDB is installed into .cache/peers on first use (bench/peers-lance.ts). Its `dot` distance
// is not used: in 0.31 it gave recall 0.01 with HNSW_SQ and fell from 0.97 to 0.35 after
// optimize() with IVF_PQ; cosine ranks unit vectors the same. IVF_RQ needs a dimension divisible
// by 8 (the default model has 356).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadEmbedder } from '../embedding/runtime.ts';
import { flatIndexOf } from '../index-store/segment.ts';
import { ensureDefaultBundle } from '../models/default-model/build.ts';
import { readSts, stsDir } from '../models/sts.ts';
import { ensureLanceDb, LANCEDB_VERSION, type PeerCommand, type PeerSetting } from './peers-lance.ts';
import { embedTexts } from './embed-texts.ts';
import { seededRandom } from './random.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SIZES = process.argv
  .find((arg) => arg.startsWith('--sizes='))
  ?.slice(8)
  .split(',')
  .map(Number) ?? [100_000, 1_000_000];
const QUERIES = 200;
const K = 10;
const CHANGE = 1_000;
const TARGET_RECALL = 0.95;
const SYSTEMS = ['ddb-faiss', 'lancedb-ivf-pq', 'lancedb-hnsw-sq'] as const;
type SystemName = (typeof SYSTEMS)[number];
/** LanceDB's settings tried, fastest first as far as known; unset is LanceDB's default. */
const SWEEPS: Record<Exclude<SystemName, 'ddb-faiss'>, PeerSetting[]> = {
  'lancedb-ivf-pq': [20, 40, 80, 160].flatMap((nprobes) =>
    [undefined, 5, 10, 20].map((refineFactor) => ({ nprobes, ...(refineFactor ? { refineFactor } : {}) })),
  ),
  'lancedb-hnsw-sq': [undefined, 2, 4, 8].flatMap((nprobes) =>
    [undefined, 20, 40, 80, 160].map((ef) => ({ ...(nprobes ? { nprobes } : {}), ...(ef ? { ef } : {}) })),
  ),
};

const started = performance.now();
const log = (message: string) =>
  console.log(`[peers ${((performance.now() - started) / 1000).toFixed(0)} s] ${message}`);
const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** A probe that did not answer in time (it is stopped): its later figures are not measured. */
class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
}

/** Past this, a write or optimize() is reported as not finished and its system left out after. */
const WRITE_TIMEOUT_MS = 180_000;

/** A probe (bench/peers-probe.ts) for one system, answering one command at a time. */
class Probe {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];

  constructor(
    readonly system: SystemName,
    dataDir: string,
    dimensions: number,
    lanceModule: string,
  ) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(HERE, 'peers-probe.ts'), system, dataDir, String(dimensions), lanceModule],
      // LanceDB's Rust side warns on every query that selects columns: errors only.
      // eslint-disable-next-line no-restricted-properties -- passed through to the child, not read
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'error', LANCEDB_LOG: 'error' } },
    );
    this.child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[${system}] ${chunk.toString()}`));
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (line) => {
      if (line.startsWith('{')) this.pending.shift()?.(line);
      else console.log(`[${system}] ${line}`);
    });
  }

  /** Sends a command; past `timeoutMs`, the probe is stopped and the answer is a ProbeTimeoutError. */
  async ask<T>(command: PeerCommand, timeoutMs = Infinity): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const line = await new Promise<string>((resolve, reject) => {
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
      if (Number.isFinite(timeoutMs))
        timer = setTimeout(() => {
          this.child.kill('SIGKILL');
          reject(new ProbeTimeoutError(`${this.system} did not finish ${command.op} in ${timeoutMs / 1000} s`));
        }, timeoutMs);
    }).finally(() => clearTimeout(timer));
    const answer = JSON.parse(line) as { ok: boolean; error?: string } & T;
    if (!answer.ok) throw new Error(`${this.system} failed ${command.op}: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

// The vectors: the largest size's base, then 1,000 to add and 1,000 replacements; and the queries.
const embedder = await loadEmbedder(await ensureDefaultBundle());
const d = embedder.dimensions;
const largest = Math.max(...SIZES);
const train = readSts(path.join(stsDir(), 'sts-train.csv')).flatMap((pair) => [pair.first, pair.second]);
const draw = seededRandom(2026);
const text = () => `${train[Math.floor(draw() * train.length)]!} ${train[Math.floor(draw() * train.length)]!}`;
const embedAll = (texts: readonly string[]) => embedTexts(embedder, texts);
const lanceModule = ensureLanceDb(ROOT);
const work = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-peers-'));
const vectors = await embedAll(Array.from({ length: largest + 2 * CHANGE }, text));
const queries = await embedAll(
  readSts(path.join(stsDir(), 'sts-dev.csv'))
    .map((pair) => pair.first)
    .slice(0, QUERIES),
);
writeFileSync(path.join(work, 'vectors.f32'), new Uint8Array(vectors.buffer));
writeFileSync(path.join(work, 'queries.f32'), new Uint8Array(queries.buffer));
log(`embedded ${(largest + 2 * CHANGE).toLocaleString('en')} texts and ${QUERIES} queries`);
const row = (i: number) => vectors.subarray(i * d, (i + 1) * d);

/** The exact top 10 ids of each query over the live rows (ids[i] holds the vector of rows[i]). */
function exactTop(ids: readonly number[], rows: readonly number[]): Set<number>[] {
  const live = new Float32Array(rows.length * d);
  rows.forEach((r, i) => live.set(row(r), i * d));
  const flat = flatIndexOf(live, d);
  return Array.from({ length: QUERIES }, (_, q) => {
    const { labels } = flat.search(Array.from(queries.subarray(q * d, (q + 1) * d)), K);
    return new Set(labels.map((label) => ids[label]!));
  });
}
const recallOf = (answers: readonly number[][], truth: readonly Set<number>[]) =>
  answers.reduce((sum, ids, q) => sum + ids.filter((id) => truth[q]!.has(id)).length, 0) / (QUERIES * K);

interface Round {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly recall: number;
}
/** Every query asked of every probe in turn, query by query. */
async function searchRound(probes: readonly Probe[], truth: readonly Set<number>[]): Promise<Round[]> {
  const times = probes.map((): number[] => []);
  const answers = probes.map((): number[][] => []);
  for (let q = 0; q < QUERIES; q++)
    for (const [i, probe] of probes.entries()) {
      const { ms, ids } = await probe.ask<{ ms: number; ids: number[] }>({ op: 'search', query: q });
      times[i]!.push(ms);
      answers[i]!.push(ids);
    }
  return probes.map((_, i) => ({
    p50Ms: round(percentile(times[i]!, 50)),
    p99Ms: round(percentile(times[i]!, 99)),
    recall: round(recallOf(answers[i]!, truth), 4),
  }));
}

// Sizes measured before and not now are kept: a run of one size adds to the others.
const resultsFile = path.join(HERE, 'results-peers.json');
const kept = existsSync(resultsFile)
  ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as { sizes: { vectors: number }[] }).sizes.filter(
      (size) => !SIZES.includes(size.vectors),
    )
  : [];
const sizes: ({ vectors: number } & Record<string, unknown>)[] = [];
/** Writes the figures so far (after each size: a later failure keeps them). */
function saveReport(): void {
  const report = {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown' },
    lancedb: LANCEDB_VERSION,
    dimensions: d,
    queries: QUERIES,
    target_recall_at_10: TARGET_RECALL,
    sizes: [...kept, ...sizes].sort((a, b) => a.vectors - b.vectors),
  };
  writeFileSync(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
  log('written to bench/results-peers.json');
}
try {
  for (const size of SIZES) {
    const base = Array.from({ length: size }, (_, i) => i);
    const truth = exactTop(base, base);
    const result: Record<string, Record<string, unknown>> = Object.fromEntries(SYSTEMS.map((s) => [s, {}]));

    // Builds, one system at a time, each in its own process.
    for (const system of SYSTEMS) {
      const builder = new Probe(system, work, d, lanceModule);
      const { seconds } = await builder.ask<{ seconds: number }>({ op: 'build', rows: size });
      await builder.close();
      result[system]!['build_s'] = round(seconds, 1);
      log(`${size.toLocaleString('en')}: ${system} built in ${seconds.toFixed(1)} s`);
    }

    // Fresh processes open them; LanceDB's settings swept; then the measured round.
    const probes = SYSTEMS.map((system) => new Probe(system, work, d, lanceModule));
    for (const probe of probes)
      result[probe.system]!['load_s'] = round((await probe.ask<{ seconds: number }>({ op: 'open' })).seconds, 3);
    for (const probe of probes) {
      if (probe.system === 'ddb-faiss') continue;
      const tried: (PeerSetting & Round)[] = [];
      for (const setting of SWEEPS[probe.system]) {
        await probe.ask({ op: 'tune', setting });
        const [measured] = await searchRound([probe], truth);
        tried.push({ ...setting, ...measured! });
      }
      const reached = tried.filter((t) => t.recall >= TARGET_RECALL).sort((a, b) => a.p50Ms - b.p50Ms);
      const best = reached[0] ?? [...tried].sort((a, b) => b.recall - a.recall)[0]!;
      const { p50Ms: _, p99Ms: __, recall: ___, ...setting } = best;
      await probe.ask({ op: 'tune', setting });
      result[probe.system]!['setting'] = setting;
      result[probe.system]!['sweep'] = tried;
      log(`${size.toLocaleString('en')}: ${probe.system} tuned: ${JSON.stringify(best)}`);
    }
    await searchRound(probes, truth); // warm every system the same
    const measured = await searchRound(probes, truth);
    for (const [i, probe] of probes.entries()) {
      const stats = await probe.ask<{ peakRssMb: number; diskBytes: number }>({ op: 'stats' });
      Object.assign(result[probe.system]!, {
        search_p50_ms: measured[i]!.p50Ms,
        search_p99_ms: measured[i]!.p99Ms,
        recall_at_10: measured[i]!.recall,
        search_rss_mb: stats.peakRssMb,
        disk_mb: round(stats.diskBytes / 2 ** 20, 1),
      });
    }
    log(`${size.toLocaleString('en')}: ${JSON.stringify(measured)}`);
    // And each system alone, the others idle: interleaving costs each some of its caches.
    for (const probe of probes) {
      const [alone] = await searchRound([probe], truth);
      result[probe.system]!['search_p50_ms_alone'] = alone!.p50Ms;
    }

    // +1,000 items, then 1,000 replaced: the same rows for every system. A system that does not
    // finish a write in time is stopped, said so, and left out after.
    let live = [...probes];
    const write = async <T>(probe: Probe, command: PeerCommand): Promise<T | undefined> => {
      try {
        return await probe.ask<T>(command, WRITE_TIMEOUT_MS);
      } catch (error) {
        if (!(error instanceof ProbeTimeoutError)) throw error;
        result[probe.system]![`${command.op}_not_finished`] = error.message;
        live = live.filter((other) => other !== probe);
        log(error.message);
        return undefined;
      }
    };
    for (const probe of [...live]) {
      const add = await write<{ written: number; searchable: number | null }>(probe, {
        op: 'add',
        from: largest,
        to: largest + CHANGE,
      });
      if (add)
        Object.assign(result[probe.system]!, {
          add_1k_written_s: round(add.written, 3),
          add_1k_searchable_s: add.searchable === null ? null : round(add.searchable, 3),
        });
    }
    const pick = seededRandom(size);
    const replaced = [...new Set(Array.from({ length: CHANGE * 2 }, () => Math.floor(pick() * size)))].slice(0, CHANGE);
    for (const probe of [...live]) {
      const replace = await write<{ written: number; searchable: number | null }>(probe, {
        op: 'replace',
        ids: replaced,
        from: largest + CHANGE,
      });
      if (replace)
        result[probe.system]!['replace_1k_searchable_s'] =
          replace.searchable === null ? null : round(replace.searchable, 3);
    }
    // The truth after: the replaced ids hold their new vectors, the added ids theirs.
    const liveRows = [...base];
    replaced.forEach((id, i) => (liveRows[id] = largest + CHANGE + i));
    const added = Array.from({ length: CHANGE }, (_, i) => largest + i);
    const truthAfter = exactTop([...base, ...added], [...liveRows, ...added]);
    const changed = await searchRound(live, truthAfter);
    live.forEach((probe, i) =>
      Object.assign(result[probe.system]!, {
        search_p50_ms_after_changes: changed[i]!.p50Ms,
        recall_at_10_after_changes: changed[i]!.recall,
      }),
    );
    for (const probe of live.filter((probe) => probe.system !== 'ddb-faiss')) {
      const optimized = await write<{ seconds: number }>(probe, { op: 'optimize' });
      if (optimized) result[probe.system]!['optimize_s'] = round(optimized.seconds, 1);
    }
    const lance = live.filter((probe) => probe.system !== 'ddb-faiss');
    const optimized = await searchRound(lance, truthAfter);
    lance.forEach((probe, i) =>
      Object.assign(result[probe.system]!, {
        search_p50_ms_after_optimize: optimized[i]!.p50Ms,
        recall_at_10_after_optimize: optimized[i]!.recall,
      }),
    );
    for (const probe of probes) await probe.close();
    log(`${size.toLocaleString('en')}: after changes ${JSON.stringify(changed)}`);
    log(`${size.toLocaleString('en')}: LanceDB after optimize ${JSON.stringify(optimized)}`);
    sizes.push({ vectors: size, ...result });
    saveReport();
    for (const system of SYSTEMS) rmSync(path.join(work, system), { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
