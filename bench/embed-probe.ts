// The embed stage in a process of its own, as one embed iteration runs in Lambda (run by
// bench/long-content.ts, with --expose-gc): `embed-probe.ts <data-dir> <items>` embeds one batch
// of the first <items> items of group `long` from the local stack the bench started, with the
// real stage (embedBatch: reads 100 items at a time, writes the shard as it goes). Prints one
// JSON line: its seconds, its own peak RSS, sampled (getrusage's peak survives execve on Linux),
// and the heap still in use at each read of items after a full garbage collection, the largest:
// what the stage keeps from one read to the next (V8 collects lazily, so RSS alone says little).
import { performance } from 'node:perf_hooks';
import { createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { loadConfig } from '../config/config.ts';
import { bootstrapModel } from '../indexer/bootstrap.ts';
import { embedBatch } from '../indexer/embed-batch.ts';
import { acquireLease, releaseLease } from '../indexer/lease.ts';
import { writeBatch } from '../indexer/run-files.ts';
import { resolveEndpoints } from '../workflow/endpoints.ts';

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const [dataDir, count] = process.argv.slice(2) as [string, string];
const config = loadConfig({ flags: { 'data-dir': dataDir } });
const clients = createAwsClients(config, await resolveEndpoints(config));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run the probe with --expose-gc');
let retainedHeap = 0;
clients.dynamodb.middlewareStack.add(
  (next, info) => async (args) => {
    if (info.commandName === 'BatchGetItemCommand') {
      gc();
      retainedHeap = Math.max(retainedHeap, process.memoryUsage().heapUsed);
    }
    return next(args);
  },
  { step: 'initialize', name: 'retainedHeapAtEachRead' },
);
try {
  const context = { config, clients };
  const model = await bootstrapModel(context);
  const run = {
    mode: 'incremental' as const,
    execution: `bench-embed-${count}`,
    executionArn: `arn:aws:states:us-east-1:000000000000:execution:bench:bench-embed-${count}`,
  };
  await acquireLease(context, run);
  const keys = Array.from({ length: Number(count) }, (_, i) => ({ group: 'long', id: `long-${i}`, version: 0 }));
  const batch = writeBatch(config.efsRoot, run.execution, 0, keys);
  const t = performance.now();
  const shard = await embedBatch(context, run, model, batch).finally(() => releaseLease(context, run));
  if (shard.vectors !== keys.length) throw new Error(`embedded ${shard.vectors} of ${keys.length} items`);
  clearInterval(sampler);
  const peakRssMb = Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20);
  const retainedHeapMb = Math.round(retainedHeap / 2 ** 20);
  console.log(
    JSON.stringify({ seconds: (performance.now() - t) / 1000, passages: shard.rows, peakRssMb, retainedHeapMb }),
  );
} finally {
  destroyAwsClients(clients);
}
