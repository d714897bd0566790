/**
 * The stack's dashboard and alarms: the same metrics the local monitor charts (`tasks/metrics.ts`,
 * published by the handlers through Powertools), the state machine's executions, each function's
 * duration and errors, and in stream mode the capture's lag, pace and failed batches.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type MetricKey, METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../tasks/metrics.ts';
import type { DdbFaissFunctions } from './functions.ts';

/** What is watched. */
export interface ObservabilityProps {
  readonly functions: DdbFaissFunctions;
  readonly stateMachine: sfn.StateMachine;
  /** Minutes between scheduled runs: pending items older than three of them raise an alarm. */
  readonly scheduleMinutes: number;
  /** Stream mode's failure queue. */
  readonly captureFailures?: sqs.Queue;
}

/** One of the handlers' metrics. */
const metric = (key: MetricKey, statistic: string, label?: string, period = Duration.minutes(5)) =>
  new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: METRICS[key].name,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period,
    ...(label ? { label } : {}),
  });

/**
 * An alarm on one metric: `over` a threshold (greater than), or `atLeast` one (greater or equal),
 * for `periods` periods in a row; missing data is fine.
 */
function addAlarm(
  scope: Construct,
  id: string,
  props: { description: string; metric: cloudwatch.IMetric; periods: number } & (
    { over: number } | { atLeast: number }
  ),
): void {
  const over = 'over' in props;
  new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: over ? props.over : props.atLeast,
    evaluationPeriods: props.periods,
    comparisonOperator: over
      ? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
      : cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** Builds the dashboard and the alarms in `scope`. */
export function addDashboardAndAlarms(scope: Construct, props: ObservabilityProps): cloudwatch.Dashboard {
  const { functions, stateMachine } = props;
  const pending = metric('pendingItems', 'Maximum', 'pending items', Duration.minutes(1));
  const backlogAge = metric('oldestPendingAge', 'Maximum');
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `${Stack.of(scope).stackName}-ddb-faiss`,
  });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Pending backlog', left: [pending], right: [backlogAge] }),
    new cloudwatch.GraphWidget({
      title: 'Runs: duration and items/s',
      left: [metric('runDuration', 'Maximum', 'run duration (s)')],
      right: [metric('itemsPerSecond', 'Average', 'items/s')],
    }),
    new cloudwatch.GraphWidget({
      title: 'Search latency (ms)',
      left: [
        metric('searchLatency', 'p50', 'p50', Duration.minutes(1)),
        metric('searchLatency', 'p99', 'p99', Duration.minutes(1)),
      ],
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Executions',
      left: [
        stateMachine.metricStarted(),
        stateMachine.metricSucceeded(),
        stateMachine.metricFailed(),
        stateMachine.metricAborted(),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: 'Stage durations (p90)',
      left: Object.entries(functions).map(([name, fn]) => fn.metricDuration({ statistic: 'p90', label: name })),
    }),
    new cloudwatch.GraphWidget({
      title: 'Stage failures',
      left: Object.entries(functions).map(([name, fn]) => fn.metricErrors({ label: name })),
    }),
  );
  addAlarm(scope, 'FailedExecutionsAlarm', {
    description: 'An indexer execution failed',
    metric: stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
    atLeast: 1,
    periods: 1,
  });
  if (props.captureFailures) addCaptureWatch(scope, dashboard, props.captureFailures);
  addAlarm(scope, 'BacklogAgeAlarm', {
    description: 'Pending items have waited longer than three schedule intervals',
    metric: backlogAge,
    over: Math.max(15, props.scheduleMinutes) * 60 * 3,
    periods: 2,
  });
  return dashboard;
}

/**
 * Stream mode on the dashboard: the capture lag (the oldest record of each batch, as the handler
 * publishes it) and records and changes a minute; alarms when the lag passes five minutes and
 * when a batch lands in the failure queue (`ddb-faiss capture redrive` is the remedy).
 */
function addCaptureWatch(scope: Construct, dashboard: cloudwatch.Dashboard, failures: sqs.Queue): void {
  const minute = Duration.minutes(1);
  const lag = metric('captureLag', 'Maximum', undefined, minute);
  const pace = [metric('streamRecords', 'Sum', 'records', minute), metric('changesCaptured', 'Sum', 'changes', minute)];
  const waiting = failures.metricApproximateNumberOfMessagesVisible({ period: minute });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Capture: lag (s) and pace a minute', left: [lag], right: pace }),
    new cloudwatch.GraphWidget({ title: 'Capture: failed batches waiting', left: [waiting] }),
  );
  addAlarm(scope, 'CaptureLagAlarm', {
    description: 'The capture step is more than five minutes behind the table stream',
    metric: lag,
    over: 300,
    periods: 3,
  });
  addAlarm(scope, 'CaptureFailuresAlarm', {
    description: 'Stream records the capture step could not take wait in the failure queue',
    metric: waiting,
    atLeast: 1,
    periods: 1,
  });
}
