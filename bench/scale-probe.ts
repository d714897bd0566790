// The search side of `npm run bench -- --scale`, in a fresh process so its load time and memory
// are a search instance's own: opens the published index (timed), answers the queries one at a
// time through the service's query path (hydrating from the bench's local DynamoDB), and prints
// one JSON line: load seconds, per-query milliseconds, the ids of each query's hits, peak RSS.
// Arguments: <data dir> <DynamoDB endpoint> <queries file (JSON array of texts)>
import { readFileSync } from 'node:fs';
import { createAwsClients } from '../aws/clients.ts';
import { freePortConfig } from '../test/helpers/scratch.ts';
import { IndexReader } from '../search/index-reader.ts';
import { preloadSearch, search } from '../search/query.ts';

export interface ScaleProbeResult {
  readonly indexLoadS: number;
  readonly vectors: number;
  readonly queryMs: number[];
  readonly hitIds: string[][];
  readonly peakRssMb: number;
}

const [dataDir, dynamodb, queriesFile] = process.argv.slice(2) as [string, string, string];
const config = freePortConfig(dataDir);
const clients = createAwsClients(config, { dynamodb, s3: undefined, stepFunctions: undefined, http: undefined });
const context = { config, clients };
const queries = JSON.parse(readFileSync(queriesFile, 'utf8')) as string[];

let peak = process.memoryUsage().rss;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const reader = new IndexReader(config.efsRoot, config.indexLayout);
const t0 = performance.now();
reader.current();
const indexLoadS = (performance.now() - t0) / 1000;
const vectors = await preloadSearch(context, reader); // the model too, so the first query pays no load
const queryMs: number[] = [];
const hitIds: string[][] = [];
for (const text of queries) {
  const t = performance.now();
  const result = await search(context, reader, { text, k: 10 });
  queryMs.push(performance.now() - t);
  hitIds.push(result.hits.map((hit) => hit.id));
}
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
const result: ScaleProbeResult = { indexLoadS, vectors, queryMs, hitIds, peakRssMb: Math.round(peak / 2 ** 20) };
console.log(JSON.stringify(result));
clients.dynamodb.destroy();
