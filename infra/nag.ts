/**
 * The AwsSolutions findings (cdk-nag, checked in `npm test`) that stay, each acknowledged with its
 * evidence on the construct it concerns; the rest are fixed where the parts are built (VPC flow
 * log, bucket access logs, state machine logs of every event, API access logs).
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EMBED_RESULTS_PREFIX } from '../asl/indexer.ts';
import type { FunctionName } from '../asl/tasks.ts';
import type { DeployedSettings } from '../config/settings.ts';
import { RUNS_PREFIX } from '../indexer/run-files.ts';
import { type DdbFaissFunctions, mountsFileSystem } from './functions.ts';
import { indexerName } from './indexer-names.ts';

/** What the findings concern. */
export interface NagScope {
  readonly functions: DdbFaissFunctions;
  readonly stateMachine: sfn.StateMachine;
  readonly bucket: s3.Bucket;
  readonly captureFailures?: sqs.Queue;
  readonly config: DeployedSettings;
  readonly tracing: boolean;
}

/** Acknowledges the findings that stay, under `scope` (the whole system) and on its parts. */
export function acknowledgeNagFindings(scope: Construct, parts: NagScope): void {
  const { functions, stateMachine, config } = parts;
  const acknowledge = (on: Construct, finding: string, reason: string) =>
    Validations.of(on).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
  const logicalId = (construct: Construct) => Stack.of(scope).getLogicalId(construct.node.defaultChild as CfnElement);
  const managed = (name: string) => `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
  acknowledge(
    scope,
    managed('AWSLambdaBasicExecutionRole'),
    "Lambda's own managed policy: a function writes its log streams, nothing else.",
  );
  acknowledge(
    scope,
    managed('AWSLambdaVPCAccessExecutionRole'),
    'Lambda\'s own managed policy for functions in a VPC: the network interfaces, which IAM grants only on "*".',
  );
  // A function's "*" grants: EFS mounts (narrowed by a condition), and X-Ray where tracing is on.
  for (const [name, fn] of Object.entries(functions)) {
    const reasons = [
      ...(mountsFileSystem(name as FunctionName)
        ? [
            'EFS: elasticfilesystem:ClientMount/ClientWrite on "*", narrowed by a condition naming our access ' +
              'point (checked in test/unit/infra.test.ts).',
          ]
        : []),
      ...(parts.tracing
        ? ['X-Ray: xray:PutTraceSegments/PutTelemetryRecords have no resource-level permissions.']
        : []),
      ...(name === 'capture'
        ? [
            "Stream: dynamodb:ListStreams, which the event source mapping's role needs, has no resource-level " +
              "permissions (the stream reads themselves are granted on the table's stream only).",
          ]
        : []),
    ];
    if (reasons.length > 0) acknowledge(fn, 'IAM5[Resource::*]', reasons.join(' '));
  }
  acknowledge(
    stateMachine,
    'IAM5[Resource::*]',
    'Log delivery and X-Ray for the state machine: these actions have no resource-level permissions.',
  );
  for (const fn of Object.values(functions))
    acknowledge(
      stateMachine,
      `IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
      "lambda:InvokeFunction on the function's versions and aliases, as CDK grants it.",
    );
  const region = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>';
  const executions = `IAM5[Resource::${region}:execution:${indexerName(scope)}:*]`;
  acknowledge(
    stateMachine,
    executions,
    "The Distributed Map starts, describes and stops this state machine's own child executions.",
  );
  acknowledge(
    stateMachine,
    `IAM5[Resource::${region}:execution:${indexerName(scope)}/*:*]`,
    "A redrive of a run whose Map Run failed redrives that Map Run's failed child executions, whose names " +
      'Step Functions makes up.',
  );
  acknowledge(
    functions.lease,
    executions,
    "The lease function describes this state machine's executions (is the lease holder still running?).",
  );
  if (functions.capture)
    acknowledge(
      functions.capture,
      executions,
      "The capture function describes this state machine's executions (does the requested run still run?).",
    );
  const objects = (prefix: string) => `IAM5[Resource::<${logicalId(parts.bucket)}.Arn>/${prefix}*]`;
  acknowledge(
    functions.bootstrap,
    objects(config.modelPrefix),
    `Bootstrap reads the model bundles, all under the ${config.modelPrefix} prefix of the assets bucket.`,
  );
  for (const on of [functions.plan, stateMachine])
    acknowledge(
      on,
      objects(RUNS_PREFIX),
      "Each run's batch list is its own object under runs/: plan writes it, the Embed Map's ItemReader reads it.",
    );
  for (const on of [functions.merge, stateMachine])
    acknowledge(
      on,
      objects(`${EMBED_RESULTS_PREFIX}/`),
      "The Embed Map's ResultWriter writes each map run's results under embed-results/<map run id>/; " +
        'merge reads them.',
    );
  if (parts.captureFailures)
    acknowledge(
      parts.captureFailures,
      'SQS3',
      "This queue is itself a failure destination (the stream event source mapping's on-failure queue): its " +
        'messages name stream records, which `ddb-faiss capture redrive` reads again; a queue behind it ' +
        'would hold nothing.',
    );
  if (config.apiAuthorization === 'none')
    acknowledge(
      scope,
      'APIG4',
      'Chosen explicitly with apiAuthorization=none: the search API is public (deploy warns, and the ' +
        'ApiAuthorization output says so).',
    );
  if (!parts.tracing)
    acknowledge(
      scope,
      'SF2',
      'X-Ray tracing is opt-in (cost): `-c tracing=true` turns it on for the state machine and the functions.',
    );
}
