/**
 * The functions: one per task of `asl/tasks.ts`, plus search and (stream mode) capture, all from one
 * container image, each sized for its work, reaching the file system only where its stage needs it,
 * and granted exactly the actions its stage calls.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { EMBED_RESULTS_PREFIX } from '../asl/indexer.ts';
import { SEARCH_PROCESS_ENV } from '../search/process-env.ts';
import { type FunctionName, functionNameOf, INDEXER_TASKS } from '../asl/tasks.ts';
import { type DeployedSettings, deployedEnvironment } from '../config/settings.ts';
import { RUNS_PREFIX } from '../indexer/run-files.ts';
import { RESERVED_GROUP } from '../table/reserved-items.ts';
import { indexerExecutionsArn } from './indexer-names.ts';
import { FUNCTIONS } from './sizing.ts';
import { type LambdaArchitecture, lambdaImage } from './lambda-image.ts';
import type { NetworkAndStorage } from './network-storage.ts';

/** Where the functions mount the file system. */
const EFS_MOUNT = '/mnt/efs';

/** The stack's functions by name: the capture step's only in stream mode. */
export type DdbFaissFunctions = Readonly<Record<Exclude<FunctionName, 'capture'>, lambda.DockerImageFunction>> & {
  readonly capture?: lambda.DockerImageFunction;
};

/** The functions a stack has: the capture step's only in stream mode. */
const functionsOf = (config: DeployedSettings): FunctionName[] =>
  (Object.keys(FUNCTIONS) as FunctionName[]).filter((name) => name !== 'capture' || config.changeCapture === 'stream');

/** A capture call writes at most a batch's markers: a minute is ample, and a stuck call soon retried. */
const CAPTURE_TIMEOUT_SECONDS = 60;

/**
 * A function's timeout: its Task state's (`asl/tasks.ts`), so Lambda and Step Functions agree;
 * search's fits API Gateway's 29 s.
 */
const timeoutOf = (name: FunctionName): Duration =>
  Duration.seconds(
    name === 'search' ? 29 : name === 'capture' ? CAPTURE_TIMEOUT_SECONDS : INDEXER_TASKS[name].timeoutSeconds,
  );

/** An EFS mount granted ClientMount only (lambda.FileSystem's constructor is protected). */
class ReadOnlyFileSystem extends lambda.FileSystem {
  static of(mount: lambda.FileSystem): lambda.FileSystem {
    const policies = (mount.config.policies ?? []).filter(
      (policy) => !policy.actions.includes('elasticfilesystem:ClientWrite'),
    );
    return new ReadOnlyFileSystem({ ...mount.config, policies });
  }
}

/** What the functions are built with. */
export interface FunctionsProps {
  readonly config: DeployedSettings;
  readonly parts: NetworkAndStorage;
  readonly tracing: boolean;
  readonly architecture: LambdaArchitecture;
}

/** Whether `name`'s function mounts the file system. */
export const mountsFileSystem = (name: FunctionName): boolean => FUNCTIONS[name].efs !== 'none';

/** Builds the functions in `scope`, each granted exactly what its stage calls. */
export function createFunctions(scope: Construct, props: FunctionsProps): DdbFaissFunctions {
  const { config, parts } = props;
  const environment: Record<string, string> = {
    DDB_FAISS_TARGET: 'aws',
    DDB_FAISS_TABLE: parts.table.tableName,
    DDB_FAISS_BUCKET: parts.bucket.bucketName,
    DDB_FAISS_EFS_ROOT: EFS_MOUNT,
    ...deployedEnvironment(config),
    // The handlers load Powertools' Tracer only where X-Ray active tracing is on.
    DDB_FAISS_TRACING: String(props.tracing),
    POWERTOOLS_TRACE_ENABLED: String(props.tracing),
    NODE_OPTIONS: '--enable-source-maps',
  };
  const image = lambdaImage(scope, props.architecture);
  const readWrite = lambda.FileSystem.fromEfsAccessPoint(parts.accessPoint, EFS_MOUNT);
  const readOnly = ReadOnlyFileSystem.of(readWrite);
  const functions: Partial<Record<FunctionName, lambda.DockerImageFunction>> = {};
  for (const name of functionsOf(config)) {
    const spec = FUNCTIONS[name];
    const network =
      spec.efs === 'none'
        ? {}
        : {
            vpc: parts.vpc,
            vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
            securityGroups: [parts.functionsSecurityGroup],
            filesystem: spec.efs === 'read-write' ? readWrite : readOnly,
          };
    functions[name] = new lambda.DockerImageFunction(scope, `${name[0]!.toUpperCase()}${name.slice(1)}Function`, {
      functionName: functionNameOf(Stack.of(scope).stackName, name),
      code: image(name),
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: spec.memory,
      timeout: timeoutOf(name),
      ...network,
      environment: name === 'search' ? { ...environment, ...SEARCH_PROCESS_ENV } : environment,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      logGroup: new logs.LogGroup(scope, `${name}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
  }
  const built = functions as DdbFaissFunctions;
  grantExactly(scope, built, { table: parts.table, bucket: parts.bucket, config });
  return built;
}

/**
 * Each function gets exactly the DynamoDB, S3 and Step Functions actions its stage calls.
 * ddb-faiss's own items (lease, status, poison records) live under one partition key, so
 * writes to them are limited to it with `dynamodb:LeadingKeys`.
 */
function grantExactly(
  scope: Construct,
  functions: DdbFaissFunctions,
  { table: itemsTable, bucket, config }: { table: dynamodb.ITable; bucket: s3.IBucket; config: DeployedSettings },
): void {
  const table = itemsTable.tableArn;
  const reservedOnly = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [RESERVED_GROUP] } };
  const grant = (
    name: FunctionName,
    actions: string[],
    resources: string[],
    conditions?: Record<string, unknown>,
  ): void => {
    functions[name]?.addToRolePolicy(
      new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }),
    );
  };
  const reserved = (name: FunctionName, actions: string[]): void => grant(name, actions, [table], reservedOnly);
  const indexerExecutions = indexerExecutionsArn(scope);

  reserved('lease', ['dynamodb:GetItem', 'dynamodb:PutItem']);
  grant('lease', ['states:DescribeExecution'], [indexerExecutions]); // is the holder still running?
  grant('bootstrap', ['s3:GetObject'], [bucket.arnForObjects(`${config.modelPrefix}*`)]);
  // Listing lets a missing model answer NoSuchKey ("publish the model") rather than AccessDenied.
  grant('bootstrap', ['s3:ListBucket'], [bucket.bucketArn], {
    StringLike: { 's3:prefix': [`${config.modelPrefix}*`] },
  });
  grant('plan', ['dynamodb:Scan'], [table, `${table}/index/${config.pendingIndexName}`]);
  grant('plan', ['s3:PutObject'], [bucket.arnForObjects(`${RUNS_PREFIX}*`)]); // the batch list
  reserved('plan', ['dynamodb:UpdateItem', 'dynamodb:DeleteItem']); // renew; release when nothing is pending
  grant('embed', ['dynamodb:BatchGetItem'], [table]);
  reserved('embed', ['dynamodb:UpdateItem']); // renew per batch
  reserved('merge', ['dynamodb:UpdateItem', 'dynamodb:PutItem']); // renew; index status
  reserved('compact', ['dynamodb:UpdateItem', 'dynamodb:PutItem']); // renew; index status
  grant('merge', ['s3:GetObject'], [bucket.arnForObjects(`${EMBED_RESULTS_PREFIX}/*`)]); // the Map's results
  // Flags cleared 25 to a request (PartiQL UPDATE, conditional on the version); soft deletes.
  grant('clear', ['dynamodb:PartiQLUpdate', 'dynamodb:DeleteItem'], [table]);
  // Poison records, the stage's checkpoint and progress; renew the lease.
  reserved('clear', ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
  reserved('release', ['dynamodb:DeleteItem']);
  grant('search', ['dynamodb:BatchGetItem'], [table]);
  // Change markers (conditional on the stream's order), the run request, and whether its run still runs.
  if (functions.capture) {
    reserved('capture', ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem']);
    grant('capture', ['dynamodb:Scan'], [`${table}/index/${config.pendingIndexName}`]); // anything pending?
    grant('capture', ['states:DescribeExecution'], [indexerExecutions]);
  }
}
