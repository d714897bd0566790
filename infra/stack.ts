/**
 * The whole ddb-faiss system on AWS: the table (or an existing one), the assets bucket, EFS
 * in an isolated VPC (gateway endpoints for S3 and DynamoDB, no NAT), one Lambda per task
 * from one container image, the indexer state machine rendered from `asl/indexer.asl.json`,
 * an EventBridge Scheduler schedule, the search HTTP API, a dashboard and alarms.
 * Environment-agnostic: account and region come from the deploy environment.
 */
import {
  ArnFormat,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { PROJECT_ROOT } from '../config/project.ts';
import { EMBED_RESULTS_PREFIX, renderIndexerDefinition } from '../asl/indexer.ts';
import { RUNS_PREFIX } from '../indexer/run-files.ts';
import {
  type FunctionName,
  functionNameOf,
  INDEXER_TASK_NAMES,
  INDEXER_TASKS,
  type IndexerTask,
  placeholderOf,
} from '../asl/tasks.ts';
import { CAPTURE_EVENT_SOURCE, captureFilterPattern } from '../tasks/capture-handler.ts';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  defaultOf,
  type DeployedSettings,
  deployedEnvironment,
  DEPLOYED_SETTINGS,
  deployedSettingProblems,
  authorizationProblems,
  isTableName,
} from '../config/settings.ts';
import { RESERVED_GROUP } from '../table/reserved-items.ts';
import { type KeyAttribute, itemsTableDefinition } from '../table/definition.ts';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { bundleLambdas } from './bundle.ts';
import { writeNativePackages } from './native-packages.ts';
import { type MetricKey, METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../tasks/metrics.ts';
import { SEARCH_ROUTES } from '../tasks/search-routes.ts';

/** The processors the Lambda image is built for. */
export const LAMBDA_ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type LambdaArchitecture = (typeof LAMBDA_ARCHITECTURES)[number];

/** How often the schedule starts an incremental run, unless `scheduleMinutes` says otherwise. */
export const DEFAULT_SCHEDULE_MINUTES = 15;

/**
 * Properties of {@link DdbFaissStack}.
 *
 * @example
 * ```ts
 * new DdbFaissStack(app, 'DdbFaiss', {
 *   scheduleMinutes: 30,
 *   settings: { batchSize: 250, indexLayout: 'per-group' },
 *   existingTableName: 'my-items', // optional: it must have the sparse GSI
 * });
 * ```
 */
export interface DdbFaissStackProps extends StackProps {
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
   * model, batch size, concurrency, layout, lease), checked by the configuration schema.
   * @default each setting's default, except maxConcurrency 10
   */
  readonly settings?: Readonly<Partial<DeployedSettings>>;
  /** X-Ray tracing of the state machine and functions. @default false */
  readonly tracing?: boolean;
  /**
   * Search instances kept warm (Lambda provisioned concurrency, billed while deployed): the API
   * then calls a `live` alias of the search function, whose instances have loaded the model and
   * the index before the first query (see the README's cold start figures).
   * @default 0 (none: the first query after an idle spell pays the cold start)
   */
  readonly searchProvisionedConcurrency?: number;
  /**
   * The functions' processor: `arm64` (Graviton) is cheaper per GB-second; the image builds faiss
   * generic there (NEON), with AVX2 on `x86_64`. Neither image has been built on this project's
   * machine (no Docker), see the README.
   * @default 'x86_64'
   */
  readonly lambdaArchitecture?: LambdaArchitecture;
  /** What happens to the table, bucket and file system when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly dataRemovalPolicy?: RemovalPolicy;
}

/** The deployed settings' defaults; on AWS ten embed batches run at once. */
const DEPLOYED_DEFAULTS: DeployedSettings = {
  ...(Object.fromEntries(DEPLOYED_SETTINGS.map((name) => [name, defaultOf(name)])) as DeployedSettings),
  maxConcurrency: 10,
};

// The checkout, found the same from the sources and from the compiled CLI (dist/cli/), which
// `ddb-faiss deploy` runs: a path relative to this module's own file would point into dist/.
const REPO_ROOT = PROJECT_ROOT;
const EFS_MOUNT = '/mnt/efs';

/** How a function reaches the shared file system. */
type EfsAccess = 'read-write' | 'read-only' | 'none';

/**
 * Memory and EFS access of each function, sized for its work at 1,000,000 items (peak RSS from
 * `npm run bench:cold-start`, in the README): search holds the index and the model (1,759 MB),
 * merge the index while it publishes the next generation (3,050 MB), clear a backfill's clear
 * list (1,614 MB), embed the model and one batch (278 MB; its memory buys CPU). Functions without EFS
 * run outside the VPC: the lease function must reach the Step Functions API (DescribeExecution),
 * which the isolated subnets (gateway endpoints for S3 and DynamoDB only, no NAT) cannot.
 */
const FUNCTIONS: Record<FunctionName, { memory: number; efs: EfsAccess }> = {
  lease: { memory: 512, efs: 'none' },
  bootstrap: { memory: 1024, efs: 'read-write' },
  plan: { memory: 1024, efs: 'read-write' },
  embed: { memory: 3008, efs: 'read-write' },
  merge: { memory: 4096, efs: 'read-write' },
  compact: { memory: 4096, efs: 'read-write' },
  clear: { memory: 2048, efs: 'read-only' },
  release: { memory: 256, efs: 'none' },
  search: { memory: 3008, efs: 'read-only' },
  capture: { memory: 512, efs: 'none' },
};

/** The functions a stack has: the capture step's only in stream mode. */
const functionsOf = (config: DeployedSettings): FunctionName[] =>
  (Object.keys(FUNCTIONS) as FunctionName[]).filter((name) => name !== 'capture' || config.changeCapture === 'stream');

/**
 * A function's timeout: its Task state's (`asl/tasks.ts`), so Lambda and Step Functions agree;
 * search's fits API Gateway's 29 s.
 */
const timeoutOf = (name: FunctionName): Duration =>
  Duration.seconds(
    name === 'search' ? 29 : name === 'capture' ? CAPTURE_TIMEOUT_SECONDS : INDEXER_TASKS[name].timeoutSeconds,
  );

/** A capture call writes at most a batch's markers: a minute is ample, and a stuck call soon retried. */
const CAPTURE_TIMEOUT_SECONDS = 60;

/** An EFS mount granted ClientMount only (lambda.FileSystem's constructor is protected). */
class ReadOnlyFileSystem extends lambda.FileSystem {
  static of(mount: lambda.FileSystem): lambda.FileSystem {
    const policies = (mount.config.policies ?? []).filter(
      (policy) => !policy.actions.includes('elasticfilesystem:ClientWrite'),
    );
    return new ReadOnlyFileSystem({ ...mount.config, policies });
  }
}

/**
 * The whole system on AWS: table (or an existing one), assets bucket, EFS in an isolated VPC,
 * one Lambda per task of `asl/tasks.ts` plus search, the indexer state machine, its schedule,
 * the search HTTP API, a dashboard and alarms. Invalid props are all reported at once.
 */
export class DdbFaissStack extends Stack {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.Bucket;
  readonly fileSystem: efs.FileSystem;
  readonly stateMachine: sfn.StateMachine;
  readonly api: HttpApi;
  readonly functions: Readonly<Record<string, lambda.DockerImageFunction>>;
  /** Stream mode: the failure destination of stream records the capture step could not take. */
  readonly captureFailures?: sqs.Queue;

  constructor(scope: Construct, id: string, props: DdbFaissStackProps = {}) {
    super(scope, id, props);
    const problems = validateProps(props);
    if (problems.length > 0) throw new Error(`invalid DdbFaissStack props:\n  - ${problems.join('\n  - ')}`);
    const removal = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const config = { ...DEPLOYED_DEFAULTS, ...props.settings };

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    // Rejected traffic only: the functions talk to S3, DynamoDB and EFS; a reject is the signal.
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    const lambdaSecurityGroup = new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
      vpc,
      description: 'ddb-faiss functions',
      allowAllOutbound: true,
    });
    const fileSystemSecurityGroup = new ec2.SecurityGroup(this, 'FileSystemSecurityGroup', {
      vpc,
      description: 'ddb-faiss EFS: NFS from the functions only',
      allowAllOutbound: false,
    });
    fileSystemSecurityGroup.addIngressRule(lambdaSecurityGroup, ec2.Port.tcp(2049), 'NFS from ddb-faiss functions');

    this.fileSystem = new efs.FileSystem(this, 'FileSystem', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroup: fileSystemSecurityGroup,
      encrypted: true,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      throughputMode: efs.ThroughputMode.ELASTIC,
      removalPolicy: removal,
      // With no policy EFS lets every client that reaches a mount target write. This one grants
      // mounting (read) only, so writes need the function's own ClientWrite grant: the search
      // and clear functions mount read-only.
      fileSystemPolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            actions: ['elasticfilesystem:ClientMount'],
            principals: [new iam.AnyPrincipal()],
            conditions: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
          }),
        ],
      }),
    });
    const accessPoint = this.fileSystem.addAccessPoint('AccessPoint', {
      path: '/ddb-faiss',
      createAcl: { ownerUid: '1001', ownerGid: '1001', permissions: '750' },
      posixUser: { uid: '1001', gid: '1001' },
    });

    this.table = props.existingTableName
      ? dynamodb.Table.fromTableAttributes(this, 'Table', {
          tableName: props.existingTableName,
          ...(props.existingTableStreamArn ? { tableStreamArn: props.existingTableStreamArn } : {}),
        })
      : this.createTable(config, removal);

    // Server access logs of the assets bucket go to a bucket of their own (which cannot log to itself).
    const accessLogs = new s3.Bucket(this, 'AssetsAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: removal,
    });
    this.bucket = new s3.Bucket(this, 'Assets', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'assets/',
      // A run's batch list and the Embed Map's results are read within the run; a week is plenty.
      lifecycleRules: [RUNS_PREFIX, `${EMBED_RESULTS_PREFIX}/`].map((prefix) => ({
        prefix,
        expiration: Duration.days(7),
        noncurrentVersionExpiration: Duration.days(1),
      })),
      removalPolicy: removal,
      autoDeleteObjects: false,
    });

    const environment: Record<string, string> = {
      DDB_FAISS_TARGET: 'aws',
      DDB_FAISS_TABLE: this.table.tableName,
      DDB_FAISS_BUCKET: this.bucket.bucketName,
      DDB_FAISS_EFS_ROOT: EFS_MOUNT,
      ...deployedEnvironment(config),
      // The handlers load Powertools' Tracer only where X-Ray active tracing is on.
      DDB_FAISS_TRACING: String(props.tracing ?? false),
      POWERTOOLS_TRACE_ENABLED: String(props.tracing ?? false),
      NODE_OPTIONS: '--enable-source-maps',
    };
    bundleLambdas();
    writeNativePackages();
    const arm64 = props.lambdaArchitecture === 'arm64';
    const image = (handler: string) =>
      lambda.DockerImageCode.fromImageAsset(REPO_ROOT, {
        file: 'infra/lambda-image/Dockerfile',
        cmd: [`lambda.${handler}`],
        platform: arm64 ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
        exclude: ['node_modules', '.git', '.ddb-faiss', 'cdk.out', 'bench/results.json', 'test-artifacts'],
      });
    const readWrite = lambda.FileSystem.fromEfsAccessPoint(accessPoint, EFS_MOUNT);
    const readOnly = ReadOnlyFileSystem.of(readWrite);
    const functions: Record<string, lambda.DockerImageFunction> = {};
    for (const name of functionsOf(config)) {
      const spec = FUNCTIONS[name];
      const network =
        spec.efs === 'none'
          ? {}
          : {
              vpc,
              vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
              securityGroups: [lambdaSecurityGroup],
              filesystem: spec.efs === 'read-write' ? readWrite : readOnly,
            };
      functions[name] = new lambda.DockerImageFunction(this, `${name[0]!.toUpperCase()}${name.slice(1)}Function`, {
        functionName: functionNameOf(this.stackName, name),
        code: image(name),
        architecture: arm64 ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: spec.memory,
        timeout: timeoutOf(name),
        ...network,
        environment,
        tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      });
    }
    this.functions = functions;
    this.grantExactly(functions, config);
    if (functions['capture']) this.captureFailures = this.followStream(functions['capture'], config);

    const stateMachineLogs = new logs.LogGroup(this, 'IndexerLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The definition keeps its placeholders; CloudFormation substitutes the functions' ARNs.
    const placeholders = Object.fromEntries(
      INDEXER_TASK_NAMES.map((task) => [task, `\${${placeholderOf(task)}}`]),
    ) as Record<IndexerTask, string>;
    this.stateMachine = new sfn.StateMachine(this, 'Indexer', {
      stateMachineName: `${this.stackName}-indexer`,
      definitionBody: sfn.DefinitionBody.fromString(
        renderIndexerDefinition({ functionArns: placeholders, maxConcurrency: config.maxConcurrency }),
      ),
      definitionSubstitutions: Object.fromEntries(
        INDEXER_TASK_NAMES.map((task) => [placeholderOf(task), functions[task]!.functionArn]),
      ),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Every event, without execution data (item keys and texts stay out of the logs).
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: props.tracing ?? false,
    });
    for (const task of INDEXER_TASK_NAMES) functions[task]!.grantInvoke(this.stateMachine);
    // The Embed Map reads the batch list (ItemReader) and writes its results (ResultWriter) in the bucket.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${RUNS_PREFIX}*`)] }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects(`${EMBED_RESULTS_PREFIX}/*`)],
      }),
    );
    // A Distributed Map starts child executions of its own state machine.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
        resources: [
          this.formatArn({
            service: 'states',
            resource: 'stateMachine',
            resourceName: `${this.stackName}-indexer`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
          this.formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${this.stackName}-indexer:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    const minutes = props.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES;
    if (minutes > 0) {
      new Schedule(this, 'IndexerSchedule', {
        schedule: ScheduleExpression.rate(Duration.minutes(minutes)),
        description: 'ddb-faiss incremental indexer runs',
        target: new StepFunctionsStartExecution(this.stateMachine, {
          input: ScheduleTargetInput.fromObject({ mode: 'incremental' }),
        }),
      });
    }

    // CORS only for the origins the settings list: by default a browser page elsewhere gets no
    // answer it may read, while server-side callers (and the monitor's proxy) need none.
    this.api = new HttpApi(this, 'SearchApi', {
      apiName: `${this.stackName}-search`,
      createDefaultStage: false,
      ...(config.corsOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: [...config.corsOrigins],
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
              allowHeaders: ['content-type', 'authorization'],
            },
          }
        : {}),
    });
    const searchIntegration = new HttpLambdaIntegration(
      'SearchIntegration',
      this.searchTarget(functions['search']!, props),
    );
    const authorizer = searchAuthorizer(config);
    for (const path of SEARCH_ROUTES)
      this.api.addRoutes({
        path,
        methods: [HttpMethod.GET, HttpMethod.POST],
        integration: searchIntegration,
        ...(authorizer ? { authorizer } : {}),
      });

    // The default stage, with access logs (request id, caller, route, status, latency), and
    // throttled: whoever calls it cannot read the table as fast as they like.
    new HttpStage(this, 'SearchStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new logs.LogGroup(this, 'SearchAccessLogs', {
            retention: logs.RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });

    this.addDashboardAndAlarms(functions, minutes);
    this.acknowledgeNagFindings(props, functions, config);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint });
    const callers = {
      iam: 'callers of the search API sign their requests with SigV4 (IAM: execute-api:Invoke)',
      jwt: `callers of the search API send a JWT from ${config.jwtIssuer ?? ''}`,
      none: 'PUBLIC: the search API takes no authorization; anyone with its URL reads the hits',
    } as const;
    new CfnOutput(this, 'ApiAuthorization', {
      value: config.apiAuthorization,
      description: callers[config.apiAuthorization],
    });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'FileSystemId', { value: this.fileSystem.fileSystemId });
    if (this.captureFailures)
      new CfnOutput(this, 'CaptureFailureQueueUrl', {
        value: this.captureFailures.queueUrl,
        description: 'stream records the capture step could not take: `ddb-faiss capture redrive` tries them again',
      });
  }

  /**
   * Stream mode: the capture function follows the table's stream through an event source mapping
   * with the settings the local follower uses (`CAPTURE_EVENT_SOURCE`): ddb-faiss's own items
   * filtered out, bisection, bounded retries, partial batch responses, and an SQS failure destination.
   */
  private followStream(capture: lambda.DockerImageFunction, config: DeployedSettings): sqs.Queue {
    const failures = new sqs.Queue(this, 'CaptureFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const source = CAPTURE_EVENT_SOURCE;
    capture.addEventSource(
      new DynamoEventSource(this.table, {
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
    // Captured changes start runs: the state machine's ARN by name (a reference would be a cycle).
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: `${this.stackName}-indexer`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    capture.addEnvironment('DDB_FAISS_STATE_MACHINE_ARN', stateMachineArn);
    capture.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
    );
    return failures;
  }

  private createTable(config: DeployedSettings, removal: RemovalPolicy): dynamodb.Table {
    const definition = itemsTableDefinition(config);
    const attribute = (key: KeyAttribute): dynamodb.Attribute => ({
      name: key.name,
      type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
    });
    const table = new dynamodb.Table(this, 'Table', {
      ...(definition.stream ? { stream: dynamodb.StreamViewType[definition.stream] } : {}),
      partitionKey: attribute(definition.keys.partition),
      sortKey: attribute(definition.keys.sort),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: removal,
    });
    table.addGlobalSecondaryIndex({
      indexName: definition.pendingIndex.name,
      partitionKey: attribute(definition.pendingIndex.partition),
      sortKey: attribute(definition.pendingIndex.sort),
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    return table;
  }

  /**
   * Each function gets exactly the DynamoDB, S3 and Step Functions actions its stage calls.
   * ddb-faiss's own items (lease, status, poison records) live under one partition key, so
   * writes to them are limited to it with `dynamodb:LeadingKeys`.
   */
  private grantExactly(functions: Record<string, lambda.DockerImageFunction>, config: DeployedSettings): void {
    const table = this.table.tableArn;
    const reservedOnly = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [RESERVED_GROUP] } };
    const grant = (
      name: keyof typeof FUNCTIONS,
      actions: string[],
      resources: string[],
      conditions?: Record<string, unknown>,
    ): void => {
      functions[name]!.addToRolePolicy(
        new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }),
      );
    };
    const reserved = (name: keyof typeof FUNCTIONS, actions: string[]): void =>
      grant(name, actions, [table], reservedOnly);
    const indexerExecutions = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stackName}-indexer:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    reserved('lease', ['dynamodb:GetItem', 'dynamodb:PutItem']);
    grant('lease', ['states:DescribeExecution'], [indexerExecutions]); // is the holder still running?
    grant('bootstrap', ['s3:GetObject'], [this.bucket.arnForObjects(`${config.modelPrefix}*`)]);
    // Listing lets a missing model answer NoSuchKey ("publish the model") rather than AccessDenied.
    grant('bootstrap', ['s3:ListBucket'], [this.bucket.bucketArn], {
      StringLike: { 's3:prefix': [`${config.modelPrefix}*`] },
    });
    grant('plan', ['dynamodb:Scan'], [table, `${table}/index/${config.pendingIndexName}`]);
    grant('plan', ['s3:PutObject'], [this.bucket.arnForObjects(`${RUNS_PREFIX}*`)]); // the batch list
    reserved('plan', ['dynamodb:UpdateItem', 'dynamodb:DeleteItem']); // renew; release when nothing is pending
    grant('embed', ['dynamodb:BatchGetItem'], [table]);
    reserved('embed', ['dynamodb:UpdateItem']); // renew per batch
    reserved('merge', ['dynamodb:UpdateItem', 'dynamodb:PutItem']); // renew; index status
    reserved('compact', ['dynamodb:UpdateItem', 'dynamodb:PutItem']); // renew; index status
    grant('merge', ['s3:GetObject'], [this.bucket.arnForObjects(`${EMBED_RESULTS_PREFIX}/*`)]); // the Map's results
    // Flags cleared 25 to a request (PartiQL UPDATE, conditional on the version); soft deletes.
    grant('clear', ['dynamodb:PartiQLUpdate', 'dynamodb:DeleteItem'], [table]);
    // Poison records, the stage's checkpoint and progress; renew the lease.
    reserved('clear', ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
    reserved('release', ['dynamodb:DeleteItem']);
    grant('search', ['dynamodb:BatchGetItem'], [table]);
    // Change markers (conditional on the stream's order), the run request, and whether its run still runs.
    if (functions['capture']) {
      reserved('capture', ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem']);
      grant('capture', ['dynamodb:Scan'], [`${table}/index/${config.pendingIndexName}`]); // anything pending?
      grant('capture', ['states:DescribeExecution'], [indexerExecutions]);
    }
  }

  /**
   * The AwsSolutions findings (cdk-nag, checked in `npm test`) that stay, each acknowledged with
   * its evidence; the rest are fixed above (VPC flow log, bucket access logs, state machine logs
   * of every event, API access logs).
   */
  private acknowledgeNagFindings(
    props: DdbFaissStackProps,
    functions: Record<string, lambda.DockerImageFunction>,
    config: DeployedSettings,
  ): void {
    const acknowledge = (scope: Construct, finding: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
    const logicalId = (construct: Construct) => this.getLogicalId(construct.node.defaultChild as CfnElement);
    const managed = (name: string) => `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
    acknowledge(
      this,
      managed('AWSLambdaBasicExecutionRole'),
      "Lambda's own managed policy: a function writes its log streams, nothing else.",
    );
    acknowledge(
      this,
      managed('AWSLambdaVPCAccessExecutionRole'),
      'Lambda\'s own managed policy for functions in a VPC: the network interfaces, which IAM grants only on "*".',
    );
    // A function's "*" grants: EFS mounts (narrowed by a condition), and X-Ray where tracing is on.
    for (const [name, fn] of Object.entries(functions)) {
      const reasons = [
        ...(FUNCTIONS[name as keyof typeof FUNCTIONS].efs !== 'none'
          ? [
              'EFS: elasticfilesystem:ClientMount/ClientWrite on "*", narrowed by a condition naming our access ' +
                'point (checked in test/unit/infra.test.ts).',
            ]
          : []),
        ...(props.tracing
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
      this.stateMachine,
      'IAM5[Resource::*]',
      'Log delivery and X-Ray for the state machine: these actions have no resource-level permissions.',
    );
    for (const fn of Object.values(functions))
      acknowledge(
        this.stateMachine,
        `IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        "lambda:InvokeFunction on the function's versions and aliases, as CDK grants it.",
      );
    const region = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>';
    const executionArns = `${region}:execution:${this.stackName}-indexer:*`;
    const executions = `IAM5[Resource::${executionArns}]`;
    acknowledge(
      this.stateMachine,
      executions,
      "The Distributed Map starts, describes and stops this state machine's own child executions.",
    );
    acknowledge(
      functions['lease']!,
      executions,
      "The lease function describes this state machine's executions (is the lease holder still running?).",
    );
    if (functions['capture'])
      acknowledge(
        functions['capture'],
        executions,
        "The capture function describes this state machine's executions (does the requested run still run?).",
      );
    const objects = (prefix: string) => `IAM5[Resource::<${logicalId(this.bucket)}.Arn>/${prefix}*]`;
    const { modelPrefix } = { ...DEPLOYED_DEFAULTS, ...props.settings };
    acknowledge(
      functions['bootstrap']!,
      objects(modelPrefix),
      `Bootstrap reads the model bundles, all under the ${modelPrefix} prefix of the assets bucket.`,
    );
    for (const scope of [functions['plan']!, this.stateMachine])
      acknowledge(
        scope,
        objects(RUNS_PREFIX),
        "Each run's batch list is its own object under runs/: plan writes it, the Embed Map's ItemReader reads it.",
      );
    for (const scope of [functions['merge']!, this.stateMachine])
      acknowledge(
        scope,
        objects(`${EMBED_RESULTS_PREFIX}/`),
        "The Embed Map's ResultWriter writes each map run's results under embed-results/<map run id>/; " +
          'merge reads them.',
      );
    if (this.captureFailures)
      acknowledge(
        this.captureFailures,
        'SQS3',
        "This queue is itself a failure destination (the stream event source mapping's on-failure queue): its " +
          'messages name stream records, which `ddb-faiss capture redrive` reads again; a queue behind it ' +
          'would hold nothing.',
      );
    if (config.apiAuthorization === 'none')
      acknowledge(
        this,
        'APIG4',
        'Chosen explicitly with apiAuthorization=none: the search API is public (deploy warns, and the ' +
          'ApiAuthorization output says so).',
      );
    if (!props.tracing)
      acknowledge(
        this,
        'SF2',
        'X-Ray tracing is opt-in (cost): `-c tracing=true` turns it on for the state machine and the functions.',
      );
  }

  /**
   * Stream mode on the dashboard: the capture lag (the oldest record of each batch, as the handler
   * publishes it) and records and changes a minute; alarms when the lag passes five minutes and
   * when a batch lands in the failure queue (`ddb-faiss capture redrive` is the remedy).
   */
  private addCaptureWatch(
    dashboard: cloudwatch.Dashboard,
    lag: cloudwatch.Metric,
    pace: cloudwatch.Metric[],
    failures: sqs.Queue,
  ): void {
    const waiting = failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Capture: lag (s) and pace a minute', left: [lag], right: pace }),
      new cloudwatch.GraphWidget({ title: 'Capture: failed batches waiting', left: [waiting] }),
    );
    new cloudwatch.Alarm(this, 'CaptureLagAlarm', {
      alarmDescription: 'The capture step is more than five minutes behind the table stream',
      metric: lag,
      threshold: 300,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'CaptureFailuresAlarm', {
      alarmDescription: 'Stream records the capture step could not take wait in the failure queue',
      metric: waiting,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** What the search API calls: the function, or its `live` alias with instances kept warm. */
  private searchTarget(search: lambda.DockerImageFunction, props: DdbFaissStackProps): lambda.IFunction {
    const warm = props.searchProvisionedConcurrency ?? 0;
    if (warm === 0) return search;
    return new lambda.Alias(this, 'SearchLive', {
      aliasName: 'live',
      version: search.currentVersion,
      provisionedConcurrentExecutions: warm,
    });
  }

  private addDashboardAndAlarms(functions: Record<string, lambda.DockerImageFunction>, scheduleMinutes: number): void {
    // The same metrics the local monitor charts (tasks/metrics.ts), published by the handlers through Powertools.
    const metric = (key: MetricKey, statistic: string, label?: string, period = Duration.minutes(5)) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRICS[key].name,
        dimensionsMap: { service: SERVICE_NAME },
        statistic,
        period,
        ...(label ? { label } : {}),
      });
    const pending = metric('pendingItems', 'Maximum', 'pending items', Duration.minutes(1));
    const backlogAge = metric('oldestPendingAge', 'Maximum');
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `${this.stackName}-ddb-faiss` });
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
          this.stateMachine.metricStarted(),
          this.stateMachine.metricSucceeded(),
          this.stateMachine.metricFailed(),
          this.stateMachine.metricAborted(),
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
    new cloudwatch.Alarm(this, 'FailedExecutionsAlarm', {
      alarmDescription: 'An indexer execution failed',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (this.captureFailures)
      this.addCaptureWatch(
        dashboard,
        metric('captureLag', 'Maximum', undefined, Duration.minutes(1)),
        [
          metric('streamRecords', 'Sum', 'records', Duration.minutes(1)),
          metric('changesCaptured', 'Sum', 'changes', Duration.minutes(1)),
        ],
        this.captureFailures,
      );
    new cloudwatch.Alarm(this, 'BacklogAgeAlarm', {
      alarmDescription: 'Pending items have waited longer than three schedule intervals',
      metric: backlogAge,
      threshold: Math.max(15, scheduleMinutes) * 60 * 3,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/** The search routes' authorizer for the apiAuthorization setting; none when it is `none`. */
function searchAuthorizer(config: DeployedSettings): IHttpRouteAuthorizer | undefined {
  switch (config.apiAuthorization) {
    case 'iam':
      return new HttpIamAuthorizer();
    case 'jwt':
      return new HttpJwtAuthorizer('SearchJwtAuthorizer', config.jwtIssuer!, {
        jwtAudience: [...config.jwtAudience],
      });
    case 'none':
      return undefined;
  }
}

/** Collects every invalid property. */
export function validateProps(props: DdbFaissStackProps): string[] {
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
