// One system of `npm run bench:peers`, in a process of its own so that its memory is its own:
// ddb-faiss's index layer (the index store, as merge writes it and search reads it) or a LanceDB
// 0.31 table with one vector index. It reads commands as JSON lines on stdin and answers each
// with one JSON line on stdout, timing only its own work:
//
//   {"op":"build","rows":N}           write rows [0, N) and index them (a fresh index)
//   {"op":"open"}                     open the index for search: load seconds
//   {"op":"tune","setting":{...}}     search with these settings from now on (LanceDB)
//   {"op":"search","query":i}         the 10 best rows for query i: milliseconds and row ids
//   {"op":"add","from":a,"to":b}      add rows [a, b): seconds until written, and until the first
//                                     of them is found by a search for its own vector
//   {"op":"replace","ids":[...],"from":a}  give rows ids the vectors of rows a.. (an update)
//   {"op":"optimize"}                 LanceDB's optimize(): seconds
//   {"op":"stats"}                    peak RSS (MB) and bytes on disk
//
// Arguments: <system: ddb-faiss | lancedb-ivf-pq | lancedb-hnsw-sq> <data dir> <dimensions>
// <LanceDB module path>. Vectors are rows of <data dir>/vectors.f32, queries of queries.f32.
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { GenerationStore } from '../index-store/generations.ts';
import { applyChange, HeldItems, onePassage, writeSegments } from '../index-store/index-writer.ts';
import { type SegmentCache, SegmentedIndex } from '../index-store/segmented-index.ts';
import type { LanceConnection, LanceTable, LanceModule, PeerCommand, PeerSetting } from './peers-lance.ts';

const [system, dataDir, dimensionsArg, lanceModule] = process.argv.slice(2) as [string, string, string, string];
const d = Number(dimensionsArg);
const K = 10;
const MODEL = { name: 'bench', checksum: 'b'.repeat(64), dimensions: d };

let peak = process.memoryUsage().rss;
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();

const vectorsFd = openSync(path.join(dataDir, 'vectors.f32'), 'r');
/** Rows [from, to) of the bench's vectors. */
function rowsOf(from: number, to: number): Float32Array {
  const bytes = Buffer.alloc((to - from) * d * 4);
  readSync(vectorsFd, bytes, 0, bytes.length, from * d * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}
const queries = (() => {
  const bytes = readFileSync(path.join(dataDir, 'queries.f32'));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
})();
const queryOf = (i: number) => queries.subarray(i * d, (i + 1) * d);
const bytesUnder = (dir: string): number =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(path.join(entry.parentPath, entry.name)).size, 0);
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const ROWS_PER_WRITE = 50_000;
/** How long a written row may take to be found by a search for its own vector. */
const SEARCHABLE_WAIT_S = 60;

/** What every system answers. */
interface System {
  readonly dir: string;
  build(rows: number): Promise<void>;
  open(): Promise<void>;
  tune(setting: PeerSetting): void;
  search(query: Float32Array): Promise<number[]>;
  /** Writes rows (ids `ids`, vectors of rows `from`..), new or `replacing` rows of those ids: resolves when written. */
  write(ids: readonly number[], from: number, replacing: boolean): Promise<void>;
  optimize(): Promise<void>;
}

/** ddb-faiss's index layer: segments written as merge writes them, searched as search reads them. */
function ddbFaiss(): System {
  const dir = path.join(dataDir, 'ddb-faiss');
  const store = new GenerationStore(dir);
  const cache: SegmentCache = new Map();
  let index: SegmentedIndex | undefined;
  const item = (id: number, vector: Float32Array) => onePassage({ group: 'g', id: `r${id}`, version: 1 }, vector);
  const current = () => {
    const pointer = store.current()!;
    if (index?.meta.generation !== pointer.generation) index = SegmentedIndex.open(store, store.meta(pointer), cache);
    return index;
  };
  return {
    dir,
    async build(rows) {
      const vectors = rowsOf(0, rows);
      const items = Array.from({ length: rows }, (_, i) => item(i, vectors.subarray(i * d, (i + 1) * d)));
      store.publish(await writeSegments(store, items, d), MODEL, 'bench');
    },
    async open() {
      current();
    },
    tune() {},
    async search(query) {
      return current()
        .search(query, K)
        .map((hit) => Number(hit.entry.id.slice(1)));
    },
    async write(ids, from) {
      const meta = store.meta(store.current()!);
      const vectors = rowsOf(from, from + ids.length);
      const items = ids.map((id, i) => item(id, vectors.subarray(i * d, (i + 1) * d)));
      const held = new HeldItems(store, meta.segments);
      const keys = items.map((entry) => entry.entry);
      store.publish(await applyChange(store, held, keys, items, d), MODEL, 'bench');
    },
    async optimize() {},
  };
}

/** A LanceDB table of `{ id, vector }` with one vector index (cosine: the vectors are unit length). */
async function lance(kind: 'ivf-pq' | 'hnsw-sq'): Promise<System> {
  const lancedb = (await import(pathToFileURL(lanceModule).href)) as LanceModule;
  const dir = path.join(dataDir, `lancedb-${kind}`);
  let db: LanceConnection | undefined;
  let table: LanceTable | undefined;
  let setting: PeerSetting = {};
  const records = (ids: readonly number[], vectors: Float32Array) =>
    ids.map((id, i) => ({ id, vector: Array.from(vectors.subarray(i * d, (i + 1) * d)) }));
  const connect = async () => (db ??= await lancedb.connect(dir));
  return {
    dir,
    async build(rows) {
      const connection = await connect();
      for (let from = 0; from < rows; from += ROWS_PER_WRITE) {
        const to = Math.min(rows, from + ROWS_PER_WRITE);
        const batch = records(
          Array.from({ length: to - from }, (_, i) => from + i),
          rowsOf(from, to),
        );
        if (!table) table = await connection.createTable('items', batch, { mode: 'overwrite' });
        else await table.add(batch);
      }
      const config =
        kind === 'ivf-pq'
          ? lancedb.Index.ivfPq({ distanceType: 'cosine', numSubVectors: d / 4 })
          : lancedb.Index.hnswSq({ distanceType: 'cosine' });
      await table!.createIndex('vector', { config });
    },
    async open() {
      table = await (await connect()).openTable('items');
      await table.countRows();
    },
    tune(next) {
      setting = next;
    },
    async search(query) {
      let request = table!.vectorSearch(Array.from(query)).distanceType('cosine').limit(K).select(['id']);
      if (setting.nprobes !== undefined) request = request.nprobes(setting.nprobes);
      if (setting.refineFactor !== undefined) request = request.refineFactor(setting.refineFactor);
      if (setting.ef !== undefined) request = request.ef(setting.ef);
      return (await request.toArray()).map((row) => Number(row.id));
    },
    async write(ids, from, replacing) {
      const batch = records(ids, rowsOf(from, from + ids.length));
      // New rows are added; replaced ones upserted by id (the way to update rows in place).
      if (replacing) await table!.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(batch);
      else await table!.add(batch);
    },
    async optimize() {
      await table!.optimize();
    },
  };
}

const peer: System =
  system === 'ddb-faiss' ? ddbFaiss() : await lance(system === 'lancedb-ivf-pq' ? 'ivf-pq' : 'hnsw-sq');

async function answer(command: PeerCommand): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  switch (command.op) {
    case 'build':
      await peer.build(command.rows);
      return { seconds: seconds(t0) };
    case 'open':
      await peer.open();
      return { seconds: seconds(t0) };
    case 'tune':
      peer.tune(command.setting);
      return {};
    case 'search': {
      const ids = await peer.search(queryOf(command.query));
      return { ms: performance.now() - t0, ids };
    }
    case 'add':
    case 'replace': {
      const ids =
        command.op === 'add'
          ? Array.from({ length: command.to - command.from }, (_, i) => command.from + i)
          : command.ids;
      await peer.write(ids, command.from, command.op === 'replace');
      const written = seconds(t0);
      // Searchable: a search for the first written row's vector finds that row first (null: not
      // within SEARCHABLE_WAIT_S).
      const probe = rowsOf(command.from, command.from + 1);
      for (;;) {
        const [first] = await peer.search(probe);
        if (first === ids[0]) return { written, searchable: seconds(t0) };
        if (seconds(t0) > SEARCHABLE_WAIT_S) return { written, searchable: null };
      }
    }
    case 'optimize':
      await peer.optimize();
      return { seconds: seconds(t0) };
    case 'stats':
      return {
        peakRssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20),
        diskBytes: bytesUnder(peer.dir),
      };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  try {
    console.log(JSON.stringify({ ok: true, ...(await answer(JSON.parse(line) as PeerCommand)) }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: (error as Error).stack ?? String(error) }));
  }
}
closeSync(vectorsFd);
