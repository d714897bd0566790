/**
 * Logs, metrics and traces of the Lambda handlers, through AWS Lambda Powertools used as middy
 * middlewares: every log line is structured JSON carrying the execution, the stage and (for an
 * embed call) the batch; metrics leave as Embedded Metric Format lines (Powertools Metrics)
 * that CloudWatch turns into the metrics of `tasks/metrics.ts`; X-Ray traces where the function
 * has tracing on.
 *
 * @example
 * ```ts
 * const observability = await lambdaObservability(config.logLevel, config.tracing);
 * const keysOf = (event: EmbedEvent) => ({ execution: event.run.execution, batch: event.batch.batch });
 * const handler = middy(embed).use(observeTask(observability, 'embed', { keysOf }));
 * ```
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj, Request } from '@middy/core';
import type { LogLevel } from '../config/settings.ts';
import { type MetricKey, METRICS, METRICS_NAMESPACE, SERVICE_NAME } from './metrics.ts';

/** The Powertools utilities a handler reports through. */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Lambda with tracing on only: Powertools Tracer's middleware, which sends the handler's segments to X-Ray. */
  readonly traceHandler?: () => MiddlewareObj;
}

/** The keys on every log line of one task call. */
export interface TaskLogKeys {
  /** The execution's name. */
  readonly execution?: string;
  /** The embed batch's number, on an embed call's lines. */
  readonly batch?: number;
}

/** Metric values a task call reports, by metric. */
export type MetricValues = Partial<Record<MetricKey, number>>;

/**
 * The handlers' observability in Lambda: log lines and EMF metrics on stdout (CloudWatch Logs
 * reads both), and where the stack turned X-Ray on, Powertools Tracer. The tracer is loaded only
 * then: the X-Ray SDK it brings installs async hooks that make every promise about 15 times
 * slower (measured here: 2 million awaits, 0.11 s without it, 1.7 s with it).
 */
export async function lambdaObservability(logLevel: LogLevel, tracing: boolean): Promise<Observability> {
  const observability = {
    logger: new Logger({ serviceName: SERVICE_NAME, logLevel }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
  };
  if (!tracing) return observability;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  const tracer = new Tracer({ serviceName: SERVICE_NAME });
  return { ...observability, traceHandler: () => captureLambdaHandler(tracer) as MiddlewareObj };
}

/** Adds each value to the metrics buffer (published by the logMetrics middleware after the call). */
function addMetrics(metrics: Metrics, values: MetricValues): void {
  for (const [key, value] of Object.entries(values) as [MetricKey, number | undefined][]) {
    if (value !== undefined && Number.isFinite(value)) metrics.addMetric(METRICS[key].name, METRICS[key].unit, value);
  }
}

/** The scalar fields of a result (counts, names): what a log line says about it. */
function scalars(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return Object.fromEntries(Object.entries(value).filter(([, field]) => typeof field !== 'object'));
}

/**
 * An HTTP error that refuses a request rather than reports a fault: a 4xx, or a 503 with
 * Retry-After (busy). Its status and reason (the answer's message), or undefined for anything else.
 */
function refusalOf(error: unknown): { statusCode: number; reason: string } | undefined {
  const { statusCode, message, headers } = (error ?? {}) as {
    statusCode?: number;
    message?: string;
    headers?: Record<string, string>;
  };
  if (statusCode === undefined || (statusCode >= 500 && headers?.['Retry-After'] === undefined)) return undefined;
  let reason = message ?? '';
  try {
    reason = (JSON.parse(reason) as { message?: string }).message ?? reason;
  } catch {
    // a plain-text message is the reason as it is
  }
  return { statusCode, reason };
}

/** What {@link observeTask} reads from a call, beyond its stage. */
export interface TaskObservation<E, R> {
  /** The keys of the call's log lines. @default none */
  readonly keysOf?: (event: E) => TaskLogKeys;
  /** The call's metric values. @default none */
  readonly metricsOf?: (event: E, result: R, durationMs: number) => MetricValues;
  /** What the "succeeded" line says of the result. @default its scalar fields */
  readonly summaryOf?: (result: R) => Record<string, unknown> | undefined;
}

/**
 * The middlewares of one task: Lambda context on the log lines, a "started" line and a
 * "succeeded" (with the result's counts and the time taken) or "failed" line, each carrying the
 * execution, stage and batch; the call's metrics published after it; the handler traced.
 * The keys go on a child logger per call, so concurrent calls in one process (the local
 * engine runs a Map's batches side by side) never mix their keys.
 */
export function observeTask<E, R>(
  observability: Observability,
  stage: string,
  observation: TaskObservation<E, R> = {},
): MiddlewareObj<E, R>[] {
  const { logger, metrics, traceHandler } = observability;
  const { keysOf = () => ({}), metricsOf = () => ({}), summaryOf = scalars } = observation;
  const calls = new WeakMap<object, { log: Logger; started: number }>();
  const logCall: MiddlewareObj<E, R> = {
    before: (request: Request<E, R>) => {
      const log = logger.createChild({ persistentKeys: { stage, ...keysOf(request.event) } });
      calls.set(request, { log, started: performance.now() });
      log.info(`${stage} started`);
    },
    after: (request: Request<E, R>) => {
      const call = calls.get(request);
      const durationMs = call ? performance.now() - call.started : 0;
      addMetrics(metrics, metricsOf(request.event, request.response as R, durationMs));
      // Published here rather than by Powertools' logMetrics middleware, which warns on every
      // call that has no metrics (most tasks).
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      call?.log.info(`${stage} succeeded`, {
        durationMs: Math.round(durationMs),
        result: summaryOf(request.response as R),
      });
    },
    onError: (request: Request<E, R>) => {
      const log = calls.get(request)?.log ?? logger;
      const refusal = refusalOf(request.error);
      // A request refused for what it asked (4xx), or told to come back (503 Retry-After), is the
      // service working as it should: a warning with the reason, no stack trace.
      if (refusal) log.warn(`${stage} refused the request`, refusal);
      else log.error(`${stage} failed`, request.error as Error);
    },
  };
  return [
    injectLambdaContext(logger) as MiddlewareObj<E, R>,
    ...(traceHandler ? [traceHandler() as MiddlewareObj<E, R>] : []),
    logCall,
  ];
}
