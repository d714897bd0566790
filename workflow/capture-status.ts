/**
 * How stream mode's capture is doing, for `status`, `run --wait` and the monitor: the failure
 * destination's batches, and on the local stack what its follower records besides (records read and
 * per minute, changes captured per minute, the lag, changes the stream lost before capture with the
 * backfill that heals them). A deployed stack's failed batches wait in its SQS queue; its lag and
 * rates are Lambda's and the capture function's metrics, on the stack's dashboard.
 *
 * @example
 * ```ts
 * const capture = await readCaptureStatus(config); // undefined when the stack does not follow a stream
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { type FailureDestination, sqsFailureQueue } from '../aws/capture-failures.ts';
import { createSqsClient } from '../aws/clients.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { localMetricsFile } from '../lambda-host/observability.ts';
import { METRICS } from '../tasks/metrics.ts';

/** Batches waiting in the failure destination (`ddb-faiss capture redrive`), and where it is. */
export interface CaptureFailures {
  readonly failedBatches: number;
  readonly failureDestination: string;
}

/** What the local stack's follower records of its progress. */
export interface CaptureProgress {
  /** Stream records read since the stack's data began, and of them those the filter dropped (ddb-faiss's own). */
  readonly recordsRead: number;
  readonly recordsFiltered: number;
  /** Over the last five minutes: records handed to the capture step, and user changes captured, per minute. */
  readonly recordsPerMinute: number;
  readonly changesPerMinute: number;
  /** When the last batch was captured. */
  readonly lastCaptureAt?: string;
  /** Whether the capture has read everything the stream holds; else the age of the oldest record it last took. */
  readonly caughtUp: boolean;
  readonly lagSeconds?: number;
  /** Changes the stream no longer held when the capture came for them. */
  readonly lost?: { readonly at: string; readonly reason: string; readonly remedy: string };
}

/** The capture's status: the local follower's (progress and failures), or a deployed stack's (failures). */
export type CaptureStatus = CaptureFailures &
  (({ readonly where: 'local' } & CaptureProgress) | { readonly where: 'aws' });

const WINDOW_MS = 5 * 60_000;

/** Sums of metrics over the window, from the local EMF file. */
function recentSums(dataDir: string, names: readonly string[], now: number): Map<string, number> {
  const sums = new Map(names.map((name) => [name, 0]));
  const file = localMetricsFile(dataDir);
  if (!existsSync(file)) return sums;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!names.some((name) => line.includes(name))) continue;
    let document: Record<string, unknown> & { _aws?: { Timestamp?: number } };
    try {
      document = JSON.parse(line) as typeof document;
    } catch {
      continue; // a torn line is skipped
    }
    if (Number(document._aws?.Timestamp ?? 0) < now - WINDOW_MS) continue;
    for (const name of names) if (typeof document[name] === 'number') sums.set(name, sums.get(name)! + document[name]);
  }
  return sums;
}

/** The failure destination's count, and where it is. */
export async function readCaptureFailures(destination: FailureDestination): Promise<CaptureFailures> {
  return { failedBatches: await destination.count(), failureDestination: destination.where };
}

/**
 * The capture's status, or undefined where nothing follows a stream: a local stack whose follower
 * left no state, a deployed stack without a capture failure queue among its outputs (flags mode).
 */
export async function readCaptureStatus(
  config: Pick<DdbFaissConfig, 'target' | 'dataDir' | 'region' | 'captureFailureQueueUrl'>,
): Promise<CaptureStatus | undefined> {
  if (config.target === 'local') return readLocalCaptureStatus(config.dataDir);
  if (!config.captureFailureQueueUrl) return undefined;
  const sqs = createSqsClient(config);
  try {
    return { where: 'aws', ...(await readCaptureFailures(sqsFailureQueue(sqs, config.captureFailureQueueUrl))) };
  } finally {
    sqs.destroy();
  }
}

/** The local stack's capture status, from its follower's files (the emulator is loaded for the local target only). */
async function readLocalCaptureStatus(dataDir: string, now = Date.now()): Promise<CaptureStatus | undefined> {
  const { captureFiles, failureFile, readCaptureState } = await import('../local-stack/stream-follower.ts');
  if (!existsSync(captureFiles(dataDir).state)) return undefined;
  const state = readCaptureState(dataDir);
  const { streamRecords, changesCaptured } = METRICS;
  const sums = recentSums(dataDir, [streamRecords.name, changesCaptured.name], now);
  const perMinute = (name: string): number => Math.round((sums.get(name)! / (WINDOW_MS / 60_000)) * 10) / 10;
  const caughtUp = state.caughtUp ?? true;
  return {
    where: 'local',
    recordsRead: state.totals.records,
    recordsFiltered: state.totals.filtered,
    recordsPerMinute: perMinute(streamRecords.name),
    changesPerMinute: perMinute(changesCaptured.name),
    ...(state.lastCapture ? { lastCaptureAt: state.lastCapture.at } : {}),
    caughtUp,
    ...(!caughtUp && state.lastCapture ? { lagSeconds: Math.round(state.lastCapture.lagSeconds) } : {}),
    ...(await readCaptureFailures(failureFile(dataDir))),
    ...(state.lost ? { lost: state.lost } : {}),
  };
}
