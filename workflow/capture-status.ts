/**
 * How stream mode's capture is doing, for `status` and the monitor: records read and per minute,
 * changes captured per minute, the lag, the failure destination's batches, and changes the stream
 * lost before capture (with the backfill that heals them). Read from the local stack's capture
 * folder and metrics file; a deployed stack's come from CloudWatch and SQS (not built yet).
 *
 * @example
 * ```ts
 * const capture = readLocalCaptureStatus(config.dataDir);
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { localMetricsFile } from '../local-stack/local-observability.ts';
import { captureFiles, readCaptureState, readFailureMessages } from '../local-stack/stream-follower.ts';
import { METRICS } from '../tasks/metrics.ts';

export interface CaptureStatus {
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
  /** Batches waiting in the failure destination (`ddb-faiss capture redrive`), and where it is. */
  readonly failedBatches: number;
  readonly failureDestination: string;
  /** Changes the stream no longer held when the capture came for them. */
  readonly lost?: { readonly at: string; readonly reason: string; readonly remedy: string };
}

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

/** The local stack's capture status when it follows the table's stream (it left its state), else undefined. */
export function readCaptureStatusIfFollowed(dataDir: string): CaptureStatus | undefined {
  return existsSync(captureFiles(dataDir).state) ? readLocalCaptureStatus(dataDir) : undefined;
}

/** The local stack's capture status. */
export function readLocalCaptureStatus(dataDir: string, now = Date.now()): CaptureStatus {
  const state = readCaptureState(dataDir);
  const { streamRecords, changesCaptured } = METRICS;
  const sums = recentSums(dataDir, [streamRecords.name, changesCaptured.name], now);
  const perMinute = (name: string): number => Math.round((sums.get(name)! / (WINDOW_MS / 60_000)) * 10) / 10;
  const caughtUp = state.caughtUp ?? true;
  return {
    recordsRead: state.totals.records,
    recordsFiltered: state.totals.filtered,
    recordsPerMinute: perMinute(streamRecords.name),
    changesPerMinute: perMinute(changesCaptured.name),
    ...(state.lastCapture ? { lastCaptureAt: state.lastCapture.at } : {}),
    caughtUp,
    ...(!caughtUp && state.lastCapture ? { lagSeconds: Math.round(state.lastCapture.lagSeconds) } : {}),
    failedBatches: readFailureMessages(dataDir).length,
    failureDestination: captureFiles(dataDir).failures,
    ...(state.lost ? { lost: state.lost } : {}),
  };
}
