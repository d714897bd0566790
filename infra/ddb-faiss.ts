/**
 * ddb-faiss on AWS as one construct, for any CDK app: the items table (or an existing one), the
 * assets bucket, EFS in an isolated VPC (gateway endpoints for S3 and DynamoDB, no NAT), one Lambda
 * per task from one container image, the indexer state machine rendered from `asl/indexer.asl.json`,
 * its schedule, in stream mode the capture of the table's stream, the search HTTP API, a dashboard
 * and alarms. Each part is built by a module of its own (`network-storage.ts`, `functions.ts`,
 * `workflow.ts`, `search-api.ts`, `observability.ts`, `nag.ts`); `DdbFaissStack` (`stack.ts`) is
 * the stack `ddb-faiss deploy` deploys, this construct and its outputs.
 *
 * @example
 * ```ts
 * import { App, Stack } from 'aws-cdk-lib';
 * import { DdbFaiss } from 'ddb-faiss/infra/ddb-faiss.ts'; // the checkout as a dependency, run through tsx
 *
 * const stack = new Stack(new App(), 'Search');
 * const search = new DdbFaiss(stack, 'DdbFaiss', {
 *   scheduleMinutes: 30,
 *   settings: { batchSize: 250, apiAuthorization: 'iam' },
 * });
 * search.api.apiEndpoint; // the search API's URL
 * ```
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as efs from 'aws-cdk-lib/aws-efs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  authorizationProblems,
  defaultOf,
  type DeployedSettings,
  DEPLOYED_SETTINGS,
  deployedSettingProblems,
  isTableName,
} from '../config/settings.ts';
import { createFunctions, type DdbFaissFunctions } from './functions.ts';
import { LAMBDA_ARCHITECTURES, type LambdaArchitecture } from './lambda-image.ts';
import { acknowledgeNagFindings } from './nag.ts';
import { createNetworkAndStorage } from './network-storage.ts';
import { addDashboardAndAlarms } from './observability.ts';
import { createSearchApi } from './search-api.ts';
import { createIndexer, followStream, scheduleRuns } from './workflow.ts';

export { LAMBDA_ARCHITECTURES, type LambdaArchitecture } from './lambda-image.ts';

import { DEFAULT_SCHEDULE_MINUTES } from './sizing.ts';

export { DEFAULT_SCHEDULE_MINUTES };

/** Properties of {@link DdbFaiss}. */
export interface DdbFaissProps {
  /** Use this existing table (it must have the sparse GSI) instead of creating one. @default a new table */
  readonly existingTableName?: string;
  /**
   * The existing table's stream (its `LatestStreamArn`, new and old images), which stream mode
   * (`changeCapture: stream`) follows; `ddb-faiss deploy` enables the stream and fills this in.
   * @default none: needed with `existingTableName` in stream mode
   */
  readonly existingTableStreamArn?: string;
  /** Minutes between scheduled incremental runs; 0 turns the schedule off. @default 15 */
  readonly scheduleMinutes?: number;
  /**
   * Settings the functions run with (`config/settings.ts` DEPLOYED_SETTINGS: attribute names,
   * model, batch size, concurrency, layout, lease, change capture, API authorization), checked by
   * the configuration schema.
   * @default each setting's default, except maxConcurrency 10
   */
  readonly settings?: Readonly<Partial<DeployedSettings>>;
  /** X-Ray tracing of the state machine and functions. @default false */
  readonly tracing?: boolean;
  /**
   * Search instances kept warm (Lambda provisioned concurrency, billed while deployed): the API
   * then calls a `live` alias of the search function, whose instances have loaded the model and
   * the index before the first query.
   * @default 0 (none: the first query after an idle spell pays the cold start)
   */
  readonly searchProvisionedConcurrency?: number;
  /**
   * The functions' processor: `arm64` (Graviton) is cheaper per GB-second; the image builds faiss
   * generic there (NEON), with AVX2 on `x86_64`.
   * @default 'x86_64'
   */
  readonly lambdaArchitecture?: LambdaArchitecture;
  /** What happens to the table, bucket and file system when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly dataRemovalPolicy?: RemovalPolicy;
}

/** Thrown for invalid props, naming every problem at once. */
export class DdbFaissPropsError extends Error {
  override readonly name = 'DdbFaissPropsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid DdbFaiss props:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The deployed settings' defaults; on AWS ten embed batches run at once. */
const DEPLOYED_DEFAULTS: DeployedSettings = {
  ...(Object.fromEntries(DEPLOYED_SETTINGS.map((name) => [name, defaultOf(name)])) as DeployedSettings),
  maxConcurrency: 10,
};

/** The whole system on AWS, in one construct. Invalid props are all reported at once ({@link DdbFaissPropsError}). */
export class DdbFaiss extends Construct {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.Bucket;
  readonly fileSystem: efs.FileSystem;
  readonly functions: DdbFaissFunctions;
  readonly stateMachine: sfn.StateMachine;
  readonly api: HttpApi;
  readonly dashboard: cloudwatch.Dashboard;
  /** Stream mode: the failure destination of stream records the capture step could not take. */
  readonly captureFailures?: sqs.Queue;
  /** The settings the functions run with: the props' over the defaults. */
  readonly settings: DeployedSettings;

  constructor(scope: Construct, id: string, props: DdbFaissProps = {}) {
    super(scope, id);
    const problems = validateProps(props);
    if (problems.length > 0) throw new DdbFaissPropsError(problems);
    const config: DeployedSettings = { ...DEPLOYED_DEFAULTS, ...props.settings };
    const tracing = props.tracing ?? false;
    const scheduleMinutes = props.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES;
    this.settings = config;

    const parts = createNetworkAndStorage(this, {
      config,
      removal: props.dataRemovalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.existingTableName
        ? {
            existingTable: {
              name: props.existingTableName,
              ...(props.existingTableStreamArn ? { streamArn: props.existingTableStreamArn } : {}),
            },
          }
        : {}),
    });
    this.table = parts.table;
    this.bucket = parts.bucket;
    this.fileSystem = parts.fileSystem;
    this.functions = createFunctions(this, {
      config,
      parts,
      tracing,
      architecture: props.lambdaArchitecture ?? LAMBDA_ARCHITECTURES[0],
    });
    if (this.functions.capture) this.captureFailures = followStream(this, this.functions.capture, this.table, config);
    this.stateMachine = createIndexer(this, {
      functions: this.functions,
      bucket: this.bucket,
      maxConcurrency: config.maxConcurrency,
      tracing,
    });
    scheduleRuns(this, this.stateMachine, scheduleMinutes);
    this.api = createSearchApi(this, {
      search: this.functions.search,
      config,
      provisionedConcurrency: props.searchProvisionedConcurrency ?? 0,
    });
    this.dashboard = addDashboardAndAlarms(this, {
      functions: this.functions,
      stateMachine: this.stateMachine,
      scheduleMinutes,
      ...(this.captureFailures ? { captureFailures: this.captureFailures } : {}),
    });
    acknowledgeNagFindings(this, {
      functions: this.functions,
      stateMachine: this.stateMachine,
      bucket: this.bucket,
      config,
      tracing,
      ...(this.captureFailures ? { captureFailures: this.captureFailures } : {}),
    });
  }
}

/** Collects every invalid property. */
export function validateProps(props: DdbFaissProps): string[] {
  const problems: string[] = [];
  if (props.scheduleMinutes !== undefined && (!Number.isInteger(props.scheduleMinutes) || props.scheduleMinutes < 0))
    problems.push(`scheduleMinutes must be a whole number >= 0 (0 = off), got ${props.scheduleMinutes}`);
  if (props.lambdaArchitecture !== undefined && !LAMBDA_ARCHITECTURES.includes(props.lambdaArchitecture))
    problems.push(
      `lambdaArchitecture must be one of ${LAMBDA_ARCHITECTURES.join(', ')}, got ${props.lambdaArchitecture}`,
    );
  const warm = props.searchProvisionedConcurrency;
  if (warm !== undefined && (!Number.isInteger(warm) || warm < 0))
    problems.push(`searchProvisionedConcurrency must be a whole number >= 0 (0 = none), got ${warm}`);
  problems.push(...deployedSettingProblems(props.settings ?? {}, 'stack settings'));
  problems.push(...authorizationProblems(props.settings ?? {}, 'stack settings', true));
  if (props.existingTableName !== undefined && !isTableName(props.existingTableName))
    problems.push(
      `existingTableName "${props.existingTableName}" is not a valid table name (3 to 255 letters, digits, _ . -)`,
    );
  const streamMode = (props.settings?.changeCapture ?? defaultOf('changeCapture')) === 'stream';
  if (streamMode && props.existingTableName !== undefined && props.existingTableStreamArn === undefined)
    problems.push(
      `existingTableStreamArn: stream mode follows the table's stream; enable it with \`aws dynamodb update-table ` +
        `--table-name ${props.existingTableName} --stream-specification ` +
        'StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES` ' +
        '(or let `ddb-faiss deploy` do it) and pass its LatestStreamArn',
    );
  if (
    props.existingTableStreamArn !== undefined &&
    !/^arn:aws[\w-]*:dynamodb:[\w-]+:\d{12}:table\/[\w.-]+\/stream\/.+$/.test(props.existingTableStreamArn)
  )
    problems.push(`existingTableStreamArn "${props.existingTableStreamArn}" is not a DynamoDB stream ARN`);
  return problems;
}
