/**
 * The figures the monitor charts over time, read where the handlers publish them: on the local
 * stack the EMF documents in `<data-dir>/metrics/emf.jsonl`, on AWS CloudWatch (the same
 * metrics the dashboard graphs). Both answer the same shape, with the same statistics:
 * per minute, the backlog's maximum and search latency p50/p99.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { sdkClient } from '../../aws/clients.ts';
import type { DdbFaissConfig } from '../../config/config.ts';
import { localMetricsFile } from '../../lambda-host/observability.ts';
import { METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../../tasks/metrics.ts';

/** One point of the backlog: when (epoch ms) and how many items were pending. */
export type BacklogPoint = readonly [at: number, pending: number];

/** Search latency over one minute: p50 and p99 in ms, and how many searches. */
export interface LatencyPoint {
  readonly at: number;
  readonly p50: number;
  readonly p99: number;
  readonly count: number;
}

export interface MetricSeries {
  readonly backlog: readonly BacklogPoint[];
  readonly searchLatency: readonly LatencyPoint[];
}

/** Where the monitor reads its charts' series. */
export interface MetricsSource {
  /** The series of the last `windowMs` up to now. */
  read(windowMs: number): Promise<MetricSeries>;
}

const BACKLOG_PERIOD_MS = 60_000;
const LATENCY_PERIOD_MS = 60_000;
/** The most samples the local reader keeps (the oldest go first). */
const MAX_SAMPLES = 200_000;

/** The nearest-rank percentile of sorted values, as CloudWatch's pNN statistics. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Groups samples by period start and folds each group. */
function perPeriod<T>(
  samples: readonly (readonly [number, number])[],
  periodMs: number,
  fold: (at: number, values: number[]) => T,
): T[] {
  const groups = new Map<number, number[]>();
  for (const [at, value] of samples) {
    const start = Math.floor(at / periodMs) * periodMs;
    let group = groups.get(start);
    if (!group) groups.set(start, (group = []));
    group.push(value);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([at, values]) => fold(at, values));
}

/**
 * The local stack's series, from the EMF file: it reads only what was appended since the last
 * read, so polling stays cheap however long the file grows.
 * @example
 * ```ts
 * const source = localMetricsSource(localMetricsFile(config.dataDir));
 * const { backlog, searchLatency } = await source.read(24 * 3600_000);
 * ```
 */
export function localMetricsSource(file: string): MetricsSource {
  let offset = 0;
  let partial = '';
  const backlog: [number, number][] = [];
  const latency: [number, number][] = [];
  const readAppended = (): void => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) [offset, partial, backlog.length, latency.length] = [0, '', 0, 0]; // replaced
    if (size === offset) return;
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const lines = (partial + buffer.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let document: Record<string, unknown> & { _aws?: { Timestamp?: number } };
      try {
        document = JSON.parse(line) as typeof document;
      } catch {
        continue; // a torn line is skipped, never fatal
      }
      const at = Number(document._aws?.Timestamp ?? 0);
      const pending = document[METRICS.pendingItems.name];
      const ms = document[METRICS.searchLatency.name];
      if (typeof pending === 'number') backlog.push([at, pending]);
      if (typeof ms === 'number') latency.push([at, ms]);
    }
    if (backlog.length > MAX_SAMPLES) backlog.splice(0, backlog.length - MAX_SAMPLES);
    if (latency.length > MAX_SAMPLES) latency.splice(0, latency.length - MAX_SAMPLES);
  };
  return {
    async read(windowMs) {
      readAppended();
      const since = Date.now() - windowMs;
      const recent = (samples: [number, number][]) => samples.filter(([at]) => at >= since);
      return {
        backlog: perPeriod(recent(backlog), BACKLOG_PERIOD_MS, (at, values): BacklogPoint => [at, Math.max(...values)]),
        searchLatency: perPeriod(recent(latency), LATENCY_PERIOD_MS, (at, values): LatencyPoint => {
          const sorted = values.sort((a, b) => a - b);
          return { at, p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length };
        }),
      };
    },
  };
}

/** A deployed stack's series, from CloudWatch's GetMetricData (one call per read). */
export function cloudWatchMetricsSource(cloudWatch: CloudWatchClient): MetricsSource {
  const query = (id: string, metricName: string, stat: string, periodMs: number): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      },
      Period: periodMs / 1000,
      Stat: stat,
    },
  });
  return {
    async read(windowMs) {
      const now = Date.now();
      const series = new Map<string, Map<number, number>>();
      let nextToken: string | undefined;
      do {
        const page = await cloudWatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(now - windowMs),
            EndTime: new Date(now),
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
            MetricDataQueries: [
              query('backlog', METRICS.pendingItems.name, 'Maximum', BACKLOG_PERIOD_MS),
              query('p50', METRICS.searchLatency.name, 'p50', LATENCY_PERIOD_MS),
              query('p99', METRICS.searchLatency.name, 'p99', LATENCY_PERIOD_MS),
              query('count', METRICS.searchLatency.name, 'SampleCount', LATENCY_PERIOD_MS),
            ],
          }),
        );
        for (const result of page.MetricDataResults ?? []) {
          const values = series.get(result.Id ?? '') ?? new Map<number, number>();
          (result.Timestamps ?? []).forEach((at, i) => values.set(at.getTime(), result.Values?.[i] ?? Number.NaN));
          series.set(result.Id ?? '', values);
        }
        nextToken = page.NextToken;
      } while (nextToken);
      const of = (id: string) => series.get(id) ?? new Map<number, number>();
      return {
        backlog: [...of('backlog').entries()].sort(([a], [b]) => a - b),
        searchLatency: [...of('p50').entries()]
          .sort(([a], [b]) => a - b)
          .map(([at, p50]) => ({ at, p50, p99: of('p99').get(at) ?? p50, count: of('count').get(at) ?? 0 })),
      };
    },
  };
}

/** The target's source: the local stack's EMF file, or CloudWatch in the configured region. */
export function metricsSourceFor(config: DdbFaissConfig): MetricsSource {
  return config.target === 'aws'
    ? cloudWatchMetricsSource(sdkClient(new CloudWatchClient({ region: config.region })))
    : localMetricsSource(localMetricsFile(config.dataDir));
}
