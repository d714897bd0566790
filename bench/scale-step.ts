// One step of a run of `npm run bench -- --scale`, in a fresh process as a Lambda invocation
// would run it, so its time and peak memory are its own: the merge stage over shard files the
// bench wrote, or one compaction step. The stack (DynamoDB for the lease and progress) runs in
// the bench's process, reached by its endpoints. Prints one JSON line: seconds, peak RSS, result.
// Arguments: <data dir> <endpoints JSON> <step JSON: ScaleStep>
import { createAwsClients, type ServiceEndpoints } from '../aws/clients.ts';
import { FLAGS_MODE } from './bench-stack.ts';
import { compactIndex } from '../indexer/compact.ts';
import type { ModelDescriptor, RunInfo } from '../indexer/context.ts';
import { acquireLease, releaseLease } from '../indexer/lease.ts';
import { mergeShards } from '../indexer/merge.ts';
import type { ShardDescriptor } from '../indexer/run-files.ts';
import { freePortConfig } from '../test/helpers/scratch.ts';

/** What a step does. */
export type ScaleStep =
  | {
      readonly kind: 'merge';
      readonly run: RunInfo;
      readonly model: ModelDescriptor;
      readonly shards: readonly ShardDescriptor[];
      /** Runs merged after it in the same process, as a warm Lambda container would merge them: each timed. */
      readonly warmRuns?: readonly { readonly run: RunInfo; readonly shards: readonly ShardDescriptor[] }[];
    }
  | { readonly kind: 'compact'; readonly run: RunInfo; readonly model: ModelDescriptor; readonly everything: boolean };

export interface ScaleStepResult {
  readonly seconds: number;
  /** The seconds of each of the step's warm runs, in order. */
  readonly warmSeconds?: readonly number[];
  readonly peakRssMb: number;
  readonly result: Record<string, unknown>;
}

const [dataDir, endpointsJson, stepJson] = process.argv.slice(2) as [string, string, string];
const config = freePortConfig(dataDir, FLAGS_MODE);
const clients = createAwsClients(config, JSON.parse(endpointsJson) as ServiceEndpoints);
const context = { config, clients };
const step = JSON.parse(stepJson) as ScaleStep;

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
await acquireLease(context, step.run);
const t0 = performance.now();
const result =
  step.kind === 'merge'
    ? await mergeShards(context, step.run, step.model, { batchCount: step.shards.length }, step.shards)
    : await compactIndex(
        context,
        step.run,
        step.model,
        { added: 0, replaced: 0, removed: 0 },
        {
          everything: step.everything,
        },
      );
const seconds = (performance.now() - t0) / 1000;
await releaseLease(context, step.run);
const warmSeconds: number[] = [];
for (const { run, shards } of step.kind === 'merge' ? (step.warmRuns ?? []) : []) {
  await acquireLease(context, run);
  const started = performance.now();
  await mergeShards(context, run, step.model, { batchCount: shards.length }, shards);
  warmSeconds.push((performance.now() - started) / 1000);
  await releaseLease(context, run);
}
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const output: ScaleStepResult = {
  seconds,
  ...(warmSeconds.length > 0 ? { warmSeconds } : {}),
  peakRssMb: Math.round(peak / 2 ** 20),
  result: result as unknown as Record<string, unknown>,
};
console.log(JSON.stringify(output));
clients.dynamodb.destroy();
clients.stepFunctions.destroy();
clients.s3.destroy();
