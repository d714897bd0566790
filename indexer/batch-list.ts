/**
 * The Embed Map's input and output on S3, so that the state data stays the same size whatever
 * the run's size (Step Functions allows 256 KiB): plan writes the run's batch list to the
 * assets bucket, the Distributed Map reads it with its `ItemReader` and writes each iteration's
 * result with its `ResultWriter`, and merge reads those results back.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { IndexerContext, RunInfo } from './context.ts';
import { type BatchDescriptor, type FailedBatch, runDir, type ShardDescriptor } from './run-files.ts';

/** Where a run's batch list is: the Map's ItemReader reads it. */
export interface BatchList {
  readonly bucket: string;
  readonly key: string;
}

/** Where the ResultWriter wrote the Map's results: its manifest (the Map's `ResultWriterDetails`). */
export interface MapResults {
  readonly Bucket: string;
  readonly Key: string;
}

/** One child execution's record in a ResultWriter results file. */
interface ChildExecutionRecord {
  readonly Status: string;
  readonly Input?: string;
  readonly Output?: string;
  readonly Error?: string;
  readonly Cause?: string;
}

/** The ResultWriter's manifest. */
interface ResultManifest {
  readonly ResultFiles: Readonly<Record<'SUCCEEDED' | 'FAILED' | 'PENDING', readonly { readonly Key: string }[]>>;
}

/** Writes the run's batch descriptors as one JSON array (a few hundred kilobytes at most per 3,000 batches). */
export async function writeBatchList(
  context: IndexerContext,
  run: RunInfo,
  batches: readonly BatchDescriptor[],
): Promise<BatchList> {
  const { config, clients } = context;
  const list = { bucket: config.bucketName, key: `${runDir(run.execution)}/batches.json` };
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: list.bucket,
      Key: list.key,
      Body: JSON.stringify(batches),
      ContentType: 'application/json',
    }),
  );
  return list;
}

async function readJson<T>(context: IndexerContext, bucket: string, key: string): Promise<T> {
  const object = await context.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString('utf8')) ?? 'null') as T;
}

/** The batch an iteration was given, from a child execution's input (when the record includes it). */
function batchOf(record: ChildExecutionRecord): BatchDescriptor {
  try {
    const input = JSON.parse(record.Input ?? '') as { batch?: BatchDescriptor };
    if (input.batch) return input.batch;
  } catch {
    // answered below
  }
  return { batch: 0, file: '', items: 0 };
}

/**
 * Every iteration's result, from the ResultWriter's files: a shard, or a batch that failed (caught
 * in the iteration, or a child execution that failed, timed out or never ran).
 */
export async function readMapResults(
  context: IndexerContext,
  results: MapResults,
): Promise<(ShardDescriptor | FailedBatch)[]> {
  const manifest = await readJson<ResultManifest>(context, results.Bucket, results.Key);
  const records = async (status: keyof ResultManifest['ResultFiles']) =>
    (
      await Promise.all(
        (manifest.ResultFiles[status] ?? []).map((file) =>
          readJson<ChildExecutionRecord[]>(context, results.Bucket, file.Key),
        ),
      )
    ).flat();
  const [succeeded, failed, pending] = await Promise.all([records('SUCCEEDED'), records('FAILED'), records('PENDING')]);
  return [
    ...succeeded.map((record) => JSON.parse(record.Output ?? 'null') as ShardDescriptor | FailedBatch),
    ...[...failed, ...pending].map((record): FailedBatch => ({
      batch: batchOf(record),
      failed: true,
      error: record.Error ?? `States.${record.Status}`,
      cause: record.Cause ?? `the batch's child execution ended ${record.Status}`,
    })),
  ];
}
