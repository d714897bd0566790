import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { INDEXER_TASKS, renderIndexerDefinition, type IndexerPlaceholder } from '../../asl/indexer.ts';
import { DdbFaissStack, validateProps } from '../../infra/stack.ts';

type Json = Record<string, any>;

function synth(props: ConstructorParameters<typeof DdbFaissStack>[2] = {}): Template {
  const app = new App();
  return Template.fromStack(new DdbFaissStack(app, 'Test', { dataRemovalPolicy: RemovalPolicy.DESTROY, ...props }));
}

describe('the CDK stack', () => {
  let template: Template;
  before(() => {
    template = synth({ scheduleMinutes: 20, maxConcurrency: 7 });
  });

  it('puts everything in an isolated VPC with S3 and DynamoDB gateway endpoints and no NAT', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('s3')])]) }) });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('dynamodb')])]) }) });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
  });

  it('has an encrypted EFS reachable by NFS from the functions only, with an access point', () => {
    template.hasResourceProperties('AWS::EFS::FileSystem', { Encrypted: true });
    template.hasResourceProperties('AWS::EFS::AccessPoint', { RootDirectory: Match.objectLike({ Path: '/ddb-faiss' }), PosixUser: { Uid: '1001', Gid: '1001' } });
    const ingress = template.findResources('AWS::EC2::SecurityGroupIngress');
    assert.equal(Object.keys(ingress).length, 1);
    const rule = Object.values(ingress)[0]!.Properties as Json;
    assert.deepEqual([rule['IpProtocol'], rule['FromPort'], rule['ToPort']], ['tcp', 2049, 2049]);
    assert.ok(rule['SourceSecurityGroupId'], 'from a security group, not a CIDR');
    assert.equal(rule['CidrIp'], undefined);
  });

  it('has the on-demand table with point-in-time recovery and the sparse GSI with a sort key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: [{ AttributeName: 'content_group', KeyType: 'HASH' }, { AttributeName: 'content_id', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{
        IndexName: 'faiss_pending-index',
        KeySchema: [{ AttributeName: 'faiss_pending', KeyType: 'HASH' }, { AttributeName: 'content_id', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      }],
    });
  });

  it('can use an existing table instead', () => {
    const existing = synth({ existingTableName: 'my-items' });
    existing.resourceCountIs('AWS::DynamoDB::Table', 0);
    existing.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DDB_FAISS_TABLE: 'my-items' }) } });
  });

  it('has an encrypted, private, TLS-only assets bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('has one container-image Lambda per task, in the VPC, with EFS mounted and sized for its work', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const byName = Object.fromEntries(Object.values(functions).map((fn) => [String((fn.Properties as Json)['FunctionName']).replace('Test-', ''), fn.Properties as Json]));
    assert.deepEqual(Object.keys(byName).sort(), ['bootstrap', 'clear', 'embed', 'merge', 'plan', 'release', 'search']);
    for (const [name, fn] of Object.entries(byName)) {
      assert.equal(fn['PackageType'], 'Image', name);
      assert.deepEqual(fn['ImageConfig'], { Command: [`lambda.${name}`] });
      assert.equal(fn['FileSystemConfigs'][0].LocalMountPath, '/mnt/efs', name);
      assert.ok(fn['VpcConfig']['SubnetIds'].length === 2, name);
      assert.equal(fn['Environment']['Variables']['DDB_FAISS_EFS_ROOT'], '/mnt/efs');
    }
    assert.ok(byName['embed']!['MemorySize'] >= 3008 && byName['embed']!['Timeout'] === 900);
    assert.ok(byName['merge']!['MemorySize'] >= 3008);
    assert.ok(byName['search']!['Timeout'] <= 29, 'within API Gateway\'s limit');
  });

  it('deploys the state machine from asl/indexer.asl.json: the definition equals the file after substitution', () => {
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as { Properties: Json }[];
    const definition = machine!.Properties['DefinitionString'] as string;
    const substitutions = machine!.Properties['DefinitionSubstitutions'] as Record<string, Json>;
    assert.deepEqual(Object.keys(substitutions).sort(), Object.keys(INDEXER_TASKS).sort());
    for (const [placeholder, task] of Object.entries(INDEXER_TASKS)) {
      assert.match(JSON.stringify(substitutions[placeholder]), new RegExp(`${task[0]!.toUpperCase()}${task.slice(1)}Function`));
    }
    const fake = Object.fromEntries(Object.keys(INDEXER_TASKS).map((name) => [name, `arn:aws:lambda:eu-west-1:123456789012:function:${name}`])) as Record<IndexerPlaceholder, string>;
    const applied = definition.replace(/\$\{(\w+)\}/g, (_m, name: IndexerPlaceholder) => fake[name]);
    assert.deepEqual(JSON.parse(applied), JSON.parse(renderIndexerDefinition({ functionArns: fake, maxConcurrency: 7 })));
    assert.equal(machine!.Properties['LoggingConfiguration']['Level'], 'ERROR');
  });

  it('schedules incremental runs on the state machine, and can turn the schedule off', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(20 minutes)',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^Indexer') }, Input: JSON.stringify({ mode: 'incremental' }) }),
    });
    synth({ scheduleMinutes: 0 }).resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('serves GET and POST /search through an HTTP API', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /search' });
  });

  it('has a dashboard and alarms for failed executions and backlog age', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OldestPendingAgeSeconds', Namespace: 'ddb-faiss' });
  });

  it('scopes IAM to named resources: "*" only where AWS requires it', () => {
    // Log delivery for state machine logging and VPC networking interfaces have no resource-level permissions.
    const mayUseStar = /^(logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|xray:.*|ec2:(CreateNetworkInterface|DescribeNetworkInterfaces|DeleteNetworkInterface|AssignPrivateIpAddresses|UnassignPrivateIpAddresses))$/;
    for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of (policy.Properties as Json)['PolicyDocument']['Statement'] as Json[]) {
        const resources = ([] as unknown[]).concat(statement['Resource']);
        if (!resources.includes('*')) continue;
        const actions = ([] as string[]).concat(statement['Action']);
        // EFS mounts are granted on "*" narrowed by a condition naming our access point.
        const scopedByCondition = JSON.stringify(statement['Condition'] ?? {}).includes('elasticfilesystem:AccessPointArn');
        assert.ok(scopedByCondition || actions.every((action) => mayUseStar.test(action)), `${id}: ${actions.join(', ')} on "*"`);
      }
    }
    // The search and embed functions only read the table; only bootstrap reads the bucket.
    const statementsOf = (prefix: string): string => JSON.stringify(Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith(prefix)).map(([, policy]) => policy));
    for (const reader of ['SearchFunction', 'EmbedFunction']) {
      assert.ok(statementsOf(reader).includes('dynamodb:GetItem'), reader);
      assert.ok(!statementsOf(reader).includes('dynamodb:PutItem') && !statementsOf(reader).includes('dynamodb:UpdateItem'), `${reader} must not write the table`);
    }
    assert.ok(statementsOf('BootstrapFunction').includes('s3:GetObject'));
    assert.ok(!statementsOf('SearchFunction').includes('s3:'), 'search does not touch the bucket');
  });

  it('collects every invalid property into one error', () => {
    assert.deepEqual(validateProps({ scheduleMinutes: -1, maxConcurrency: 0, batchSize: 1.5, existingTableName: 'a b' }).length, 4);
    assert.throws(() => synth({ scheduleMinutes: -5, maxConcurrency: 0 }), /scheduleMinutes must be[\s\S]*maxConcurrency must be/);
  });
});
