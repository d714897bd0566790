/**
 * The indexer on AWS: the state machine rendered from `asl/indexer.asl.json` (the functions' ARNs
 * substituted by CloudFormation), its schedule, and in stream mode the capture function's event
 * source mapping on the table's stream with its failure queue.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { EMBED_RESULTS_PREFIX, renderIndexerDefinition } from '../asl/indexer.ts';
import { INDEXER_TASK_NAMES, type IndexerTask, placeholderOf } from '../asl/tasks.ts';
import type { DeployedSettings } from '../config/settings.ts';
import { RUNS_PREFIX } from '../indexer/run-files.ts';
import { CAPTURE_EVENT_SOURCE, captureFilterPattern } from '../tasks/capture-handler.ts';
import type { DdbFaissFunctions } from './functions.ts';
import { indexerArn, indexerExecutionsArn, indexerMapRunExecutionsArn, indexerName } from './indexer-names.ts';

/** What the state machine is built with. */
export interface IndexerProps {
  readonly functions: DdbFaissFunctions;
  readonly bucket: s3.IBucket;
  readonly maxConcurrency: number;
  readonly tracing: boolean;
}

/** The indexer state machine, allowed to call its functions, read and write its run files, and run its Map. */
export function createIndexer(scope: Construct, props: IndexerProps): sfn.StateMachine {
  const { functions, bucket } = props;
  const stateMachineLogs = new logs.LogGroup(scope, 'IndexerLogs', {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // The definition keeps its placeholders; CloudFormation substitutes the functions' ARNs.
  const placeholders = Object.fromEntries(
    INDEXER_TASK_NAMES.map((task) => [task, `\${${placeholderOf(task)}}`]),
  ) as Record<IndexerTask, string>;
  const stateMachine = new sfn.StateMachine(scope, 'Indexer', {
    stateMachineName: indexerName(scope),
    definitionBody: sfn.DefinitionBody.fromString(
      renderIndexerDefinition({ functionArns: placeholders, maxConcurrency: props.maxConcurrency }),
    ),
    definitionSubstitutions: Object.fromEntries(
      INDEXER_TASK_NAMES.map((task) => [placeholderOf(task), functions[task].functionArn]),
    ),
    stateMachineType: sfn.StateMachineType.STANDARD,
    // Every event, without execution data (item keys and texts stay out of the logs).
    logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    tracingEnabled: props.tracing,
  });
  for (const task of INDEXER_TASK_NAMES) functions[task].grantInvoke(stateMachine);
  // The Embed Map reads the batch list (ItemReader) and writes its results (ResultWriter) in the bucket.
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${RUNS_PREFIX}*`)] }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${EMBED_RESULTS_PREFIX}/*`)],
    }),
  );
  // A Distributed Map starts child executions of its own state machine.
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
      resources: [indexerArn(scope), indexerExecutionsArn(scope)],
    }),
  );
  // Redriving a run whose Map Run failed redrives that Map Run's failed children, as this role
  // (the grant the CDK's own DistributedMap state adds).
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['states:RedriveExecution'], resources: [indexerMapRunExecutionsArn(scope)] }),
  );
  return stateMachine;
}

/** Starts an incremental run every `minutes` (none when 0). */
export function scheduleRuns(scope: Construct, stateMachine: sfn.IStateMachine, minutes: number): void {
  if (minutes === 0) return;
  new Schedule(scope, 'IndexerSchedule', {
    schedule: ScheduleExpression.rate(Duration.minutes(minutes)),
    description: 'ddb-faiss incremental indexer runs',
    target: new StepFunctionsStartExecution(stateMachine, {
      input: ScheduleTargetInput.fromObject({ mode: 'incremental' }),
    }),
  });
}

/**
 * Stream mode: the capture function follows the table's stream through an event source mapping
 * with the settings the local follower uses (`CAPTURE_EVENT_SOURCE`): ddb-faiss's own items
 * filtered out, bisection, bounded retries, partial batch responses, and an SQS failure destination.
 * @returns the failure destination
 */
export function followStream(
  scope: Construct,
  capture: lambda.Function,
  table: dynamodb.ITable,
  config: DeployedSettings,
): sqs.Queue {
  const failures = new sqs.Queue(scope, 'CaptureFailures', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const source = CAPTURE_EVENT_SOURCE;
  capture.addEventSource(
    new DynamoEventSource(table, {
      startingPosition: lambda.StartingPosition[source.startingPosition],
      batchSize: source.batchSize,
      maxBatchingWindow: Duration.seconds(source.maxBatchingWindowSeconds),
      bisectBatchOnError: source.bisectBatchOnError,
      retryAttempts: source.retryAttempts,
      reportBatchItemFailures: source.reportBatchItemFailures,
      onFailure: new SqsDlq(failures),
      filters: [lambda.FilterCriteria.filter(captureFilterPattern(config))],
    }),
  );
  // Captured changes start runs.
  capture.addEnvironment('DDB_FAISS_STATE_MACHINE_ARN', indexerArn(scope));
  capture.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [indexerArn(scope)] }),
  );
  return failures;
}
