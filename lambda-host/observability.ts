/**
 * The task handlers' observability on the local stack: the same Powertools Logger and Metrics
 * as in Lambda, but the metrics' EMF lines go to a file in the data folder (the local stand-in
 * for CloudWatch, which the monitor charts) instead of stdout, and log lines go to stdout only
 * where the command asks (`up`), at the configured level.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { LogFormat, LogLevel } from '../config/settings.ts';
import { TextLogger } from './text-logger.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../tasks/metrics.ts';
import type { Observability } from '../tasks/observability.ts';

/** The local metrics file: one EMF document per line, as the handlers published them. */
export function localMetricsFile(dataDir: string): string {
  return path.join(dataDir, 'metrics', 'emf.jsonl');
}

/** Powertools Metrics whose published EMF documents are appended to a file, one per line. */
export class FileMetrics extends Metrics {
  readonly #file: string;

  constructor(file: string) {
    super({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
    this.#file = file;
    mkdirSync(path.dirname(file), { recursive: true });
  }

  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics()) appendFileSync(this.#file, `${JSON.stringify(this.serializeMetrics())}\n`);
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}

/** Options of {@link localObservability}. */
export interface LocalObservabilityProps {
  /** The data folder; metrics go to {@link localMetricsFile}. */
  readonly dataDir: string;
  /** The log lines' level; `SILENT` keeps a command's own output clean. */
  readonly logLevel: LogLevel;
  /** Readable lines (`up`'s default) or Powertools' JSON. @default 'json' */
  readonly logFormat?: LogFormat;
}

export function localObservability(props: LocalObservabilityProps): Observability {
  return {
    logger:
      props.logFormat === 'text'
        ? new TextLogger({ serviceName: SERVICE_NAME, logLevel: props.logLevel })
        : new Logger({ serviceName: SERVICE_NAME, logLevel: props.logLevel }),
    metrics: new FileMetrics(localMetricsFile(props.dataDir)),
  };
}
