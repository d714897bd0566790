/**
 * Where ddb-faiss keeps things on AWS: an isolated VPC (gateway endpoints for S3 and DynamoDB, no
 * NAT, rejected traffic logged), the encrypted file system the index lives on (NFS from the
 * functions only, writes only where a function is granted them), the items table (or an existing
 * one) and the assets bucket (model bundles, run batch lists, the Embed Map's results).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { EMBED_RESULTS_PREFIX } from '../asl/indexer.ts';
import type { DeployedSettings } from '../config/settings.ts';
import { RUNS_PREFIX } from '../indexer/run-files.ts';
import { type KeyAttribute, itemsTableDefinition } from '../table/definition.ts';

/** The network and the stores the functions share. */
export interface NetworkAndStorage {
  readonly vpc: ec2.Vpc;
  /** The functions that mount the file system are in it; the file system takes NFS from it only. */
  readonly functionsSecurityGroup: ec2.SecurityGroup;
  readonly fileSystem: efs.FileSystem;
  readonly accessPoint: efs.AccessPoint;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.Bucket;
}

/** What the stores are built with. */
export interface NetworkAndStorageProps {
  readonly config: DeployedSettings;
  readonly removal: RemovalPolicy;
  /** An existing table to use, and (stream mode) its stream. */
  readonly existingTable?: { readonly name: string; readonly streamArn?: string };
}

/** Builds the network, the file system, the table and the bucket in `scope`. */
export function createNetworkAndStorage(scope: Construct, props: NetworkAndStorageProps): NetworkAndStorage {
  const { vpc, functionsSecurityGroup } = createNetwork(scope);
  const { fileSystem, accessPoint } = createFileSystem(scope, vpc, functionsSecurityGroup, props.removal);
  const table = props.existingTable
    ? dynamodb.Table.fromTableAttributes(scope, 'Table', {
        tableName: props.existingTable.name,
        ...(props.existingTable.streamArn ? { tableStreamArn: props.existingTable.streamArn } : {}),
      })
    : createTable(scope, props.config, props.removal);
  return { vpc, functionsSecurityGroup, fileSystem, accessPoint, table, bucket: createBucket(scope, props.removal) };
}

function createNetwork(scope: Construct): { vpc: ec2.Vpc; functionsSecurityGroup: ec2.SecurityGroup } {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
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
      new logs.LogGroup(scope, 'FlowLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    ),
    trafficType: ec2.FlowLogTrafficType.REJECT,
  });
  const functionsSecurityGroup = new ec2.SecurityGroup(scope, 'FunctionsSecurityGroup', {
    vpc,
    description: 'ddb-faiss functions',
    allowAllOutbound: true,
  });
  return { vpc, functionsSecurityGroup };
}

function createFileSystem(
  scope: Construct,
  vpc: ec2.Vpc,
  functionsSecurityGroup: ec2.SecurityGroup,
  removal: RemovalPolicy,
): { fileSystem: efs.FileSystem; accessPoint: efs.AccessPoint } {
  const fileSystemSecurityGroup = new ec2.SecurityGroup(scope, 'FileSystemSecurityGroup', {
    vpc,
    description: 'ddb-faiss EFS: NFS from the functions only',
    allowAllOutbound: false,
  });
  fileSystemSecurityGroup.addIngressRule(functionsSecurityGroup, ec2.Port.tcp(2049), 'NFS from ddb-faiss functions');
  const fileSystem = new efs.FileSystem(scope, 'FileSystem', {
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
  const accessPoint = fileSystem.addAccessPoint('AccessPoint', {
    path: '/ddb-faiss',
    createAcl: { ownerUid: '1001', ownerGid: '1001', permissions: '750' },
    posixUser: { uid: '1001', gid: '1001' },
  });
  return { fileSystem, accessPoint };
}

/** The items table from the core's definition (`table/definition.ts`), as the local stack creates it. */
function createTable(scope: Construct, config: DeployedSettings, removal: RemovalPolicy): dynamodb.Table {
  const definition = itemsTableDefinition(config);
  const attribute = (key: KeyAttribute): dynamodb.Attribute => ({
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  });
  const table = new dynamodb.Table(scope, 'Table', {
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

function createBucket(scope: Construct, removal: RemovalPolicy): s3.Bucket {
  // Server access logs of the assets bucket go to a bucket of their own (which cannot log to itself).
  const accessLogs = new s3.Bucket(scope, 'AssetsAccessLogs', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    lifecycleRules: [{ expiration: Duration.days(90) }],
    removalPolicy: removal,
  });
  return new s3.Bucket(scope, 'Assets', {
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
}
