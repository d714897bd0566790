/**
 * The metrics the Lambda handlers publish (CloudWatch Embedded Metric Format, through
 * Powertools Metrics): one definition read by the handlers that publish them, the CDK
 * dashboard that graphs them and the monitor that charts them.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';

/** The CloudWatch namespace of every ddb-faiss metric. */
export const METRICS_NAMESPACE = 'ddb-faiss';

/** The service name Powertools puts on every log line and metric (`service` dimension). */
export const SERVICE_NAME = 'ddb-faiss';

/** Each metric by what it measures: its CloudWatch name and unit. */
export const METRICS = {
  /** Items waiting in the sparse index when a scheduled run plans (capped at the run's item cap). */
  pendingItems: { name: 'PendingItems', unit: MetricUnit.Count },
  /** How long the oldest of those items has waited. */
  oldestPendingAge: { name: 'OldestPendingAgeSeconds', unit: MetricUnit.Seconds },
  /** Items one embed call turned into vectors. */
  itemsEmbedded: { name: 'ItemsEmbedded', unit: MetricUnit.Count },
  /** A run's changes to the index (added + replaced + removed), published when its flags are cleared. */
  itemsIndexed: { name: 'ItemsIndexed', unit: MetricUnit.Count },
  /** A run's wall time from the execution's start to its flags cleared. */
  runDuration: { name: 'RunDurationSeconds', unit: MetricUnit.Seconds },
  /** A run's changes per second of its wall time. */
  itemsPerSecond: { name: 'ItemsIndexedPerSecond', unit: MetricUnit.CountPerSecond },
  /** Stream records one capture call read (stream mode). */
  streamRecords: { name: 'StreamRecords', unit: MetricUnit.Count },
  /** Of them, the records that changed an item's indexed view: the user changes. */
  changesCaptured: { name: 'ChangesCaptured', unit: MetricUnit.Count },
  /** Of them, the records whose change marker could not be written (the batch's failures). */
  captureFailures: { name: 'CaptureFailures', unit: MetricUnit.Count },
  /** How old the oldest record of a captured batch was when captured: the capture lag. */
  captureLag: { name: 'CaptureLagSeconds', unit: MetricUnit.Seconds },
  /** One search request, from the request read to the response built. */
  searchLatency: { name: 'SearchLatency', unit: MetricUnit.Milliseconds },
} as const;

/** A metric's key in {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;
