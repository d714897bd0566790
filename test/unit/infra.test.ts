import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../../tasks/metrics.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renderIndexerDefinition } from '../../asl/indexer.ts';
import { INDEXER_TASK_NAMES, type IndexerTask, placeholderOf } from '../../asl/tasks.ts';
import { createApp } from '../../infra/app.ts';
import { DdbFaiss, DdbFaissPropsError } from '../../infra/ddb-faiss.ts';
import { copiedSources } from '../../infra/lambda-image.ts';
import { DdbFaissStack, validateProps } from '../../infra/stack.ts';
import { PROJECT_ROOT } from '../../config/project.ts';
import { SEARCH_PROCESS_ENV } from '../../search/process-env.ts';
import { CAPTURE_EVENT_SOURCE } from '../../tasks/capture-handler.ts';
import { loadConfig } from '../../config/config.ts';
import { createTableInput, itemsTableDefinition } from '../../table/definition.ts';
import { DEPLOYED_SETTINGS, type DeployedSettings, defaultOf } from '../../config/settings.ts';

type Json = Record<string, any>;

function synth(props: ConstructorParameters<typeof DdbFaissStack>[2] = {}): Template {
  const app = new App();
  return Template.fromStack(new DdbFaissStack(app, 'Test', { dataRemovalPolicy: RemovalPolicy.DESTROY, ...props }));
}

describe('the CDK stack (in flags mode; the stream mode it has by default is below)', () => {
  let template: Template;
  before(() => {
    template = synth({ scheduleMinutes: 20, settings: { maxConcurrency: 7, changeCapture: 'flags' } });
  });

  it('puts everything in an isolated VPC with S3 and DynamoDB gateway endpoints and no NAT', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('s3')])]) }),
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({
        'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('dynamodb')])]),
      }),
    });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
  });

  it('has an encrypted EFS reachable by NFS from the functions only, with an access point', () => {
    template.hasResourceProperties('AWS::EFS::FileSystem', { Encrypted: true });
    template.hasResourceProperties('AWS::EFS::AccessPoint', {
      RootDirectory: Match.objectLike({ Path: '/ddb-faiss' }),
      PosixUser: { Uid: '1001', Gid: '1001' },
    });
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
      KeySchema: [
        { AttributeName: 'content_group', KeyType: 'HASH' },
        { AttributeName: 'content_id', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'faiss_pending-index',
          KeySchema: [
            { AttributeName: 'faiss_pending', KeyType: 'HASH' },
            { AttributeName: 'content_id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it("builds its table from the core's definition, as the local stack does: the same keys, index and stream", () => {
    for (const changeCapture of ['flags', 'stream'] as const) {
      // Prepare
      const settings = { ...loadConfig({ flags: {}, env: {} }), changeCapture };
      const local = createTableInput('items', itemsTableDefinition(settings));

      // Act
      const tables = synth({ settings: { changeCapture } }).findResources('AWS::DynamoDB::Table');

      // Assess
      const deployed = Object.values(tables)[0]!.Properties as Json;
      const sortedDefinitions = (definitions: Json[]) =>
        [...definitions].sort((a, b) => String(a['AttributeName']).localeCompare(b['AttributeName']));
      assert.deepEqual(deployed['KeySchema'], local.KeySchema, changeCapture);
      assert.deepEqual(
        sortedDefinitions(deployed['AttributeDefinitions']),
        sortedDefinitions(local.AttributeDefinitions as Json[]),
      );
      assert.deepEqual(deployed['GlobalSecondaryIndexes'], local.GlobalSecondaryIndexes);
      assert.equal(deployed['StreamSpecification']?.['StreamViewType'], local.StreamSpecification?.StreamViewType);
    }
  });

  it('can use an existing table instead', () => {
    const existing = synth({ existingTableName: 'my-items', settings: { changeCapture: 'flags' } });
    existing.resourceCountIs('AWS::DynamoDB::Table', 0);
    existing.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DDB_FAISS_TABLE: 'my-items' }) },
    });
  });

  it('has an encrypted, private, TLS-only assets bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('has one container-image Lambda per task, sized for its work; those that use EFS run in the VPC with it mounted', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const byName = Object.fromEntries(
      Object.values(functions).map((fn) => [
        String((fn.Properties as Json)['FunctionName']).replace('Test-', ''),
        fn.Properties as Json,
      ]),
    );
    assert.deepEqual(Object.keys(byName).sort(), [...INDEXER_TASK_NAMES, 'search'].sort());
    for (const [name, fn] of Object.entries(byName)) {
      assert.equal(fn['PackageType'], 'Image', name);
      assert.deepEqual(fn['ImageConfig'], { Command: [`lambda.${name}`] });
      assert.equal(fn['Environment']['Variables']['DDB_FAISS_EFS_ROOT'], '/mnt/efs');
      // The lease and release functions touch only DynamoDB and Step Functions: outside the
      // VPC, the lease function reaches the Step Functions API, which the isolated subnets cannot.
      const usesEfs = !['lease', 'release'].includes(name);
      assert.equal(fn['FileSystemConfigs']?.[0]?.LocalMountPath, usesEfs ? '/mnt/efs' : undefined, name);
      assert.equal(fn['VpcConfig']?.['SubnetIds']?.length, usesEfs ? 2 : undefined, name);
    }
    assert.ok(byName['embed']!['MemorySize'] >= 3008 && byName['embed']!['Timeout'] === 900);
    assert.ok(byName['merge']!['MemorySize'] >= 3008);
    // A backfill of 1,000,000 items leaves a clear list whose reading peaks at 1.6 GB (bench:cold-start)
    assert.ok(byName['clear']!['MemorySize'] >= 2048);
    assert.ok(byName['search']!['Timeout'] <= 29, "within API Gateway's limit");
    // The search process starts with its OpenMP workers not spinning between queries.
    for (const [variable, value] of Object.entries(SEARCH_PROCESS_ENV))
      assert.equal(byName['search']!['Environment']['Variables'][variable], value, variable);
  });

  it('deploys the state machine from asl/indexer.asl.json: the definition equals the file after substitution', () => {
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
      Properties: Json;
    }[];
    const definition = machine!.Properties['DefinitionString'] as string;
    const substitutions = machine!.Properties['DefinitionSubstitutions'] as Record<string, Json>;
    assert.deepEqual(Object.keys(substitutions).sort(), INDEXER_TASK_NAMES.map(placeholderOf).sort());
    for (const task of INDEXER_TASK_NAMES) {
      assert.match(
        JSON.stringify(substitutions[placeholderOf(task)]),
        new RegExp(`${task[0]!.toUpperCase()}${task.slice(1)}Function`),
      );
    }
    const fake = Object.fromEntries(
      INDEXER_TASK_NAMES.map((task) => [task, `arn:aws:lambda:eu-west-1:123456789012:function:${task}`]),
    ) as Record<IndexerTask, string>;
    const byPlaceholder = new Map(INDEXER_TASK_NAMES.map((task) => [placeholderOf(task), fake[task]]));
    const applied = definition.replace(/\$\{(\w+)\}/g, (_m, name: string) => byPlaceholder.get(name) ?? _m);
    assert.deepEqual(
      JSON.parse(applied),
      JSON.parse(renderIndexerDefinition({ functionArns: fake, maxConcurrency: 7 })),
    );
    assert.equal(machine!.Properties['LoggingConfiguration']['Level'], 'ALL');
    assert.equal(machine!.Properties['LoggingConfiguration']['IncludeExecutionData'], false);
  });

  it('schedules incremental runs on the state machine, and can turn the schedule off', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(20 minutes)',
      Target: Match.objectLike({
        Arn: { Ref: Match.stringLikeRegexp('^Indexer') },
        Input: JSON.stringify({ mode: 'incremental' }),
      }),
    });
    synth({ scheduleMinutes: 0 }).resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('serves GET and POST /search and /similar through an HTTP API, both to the search function', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => (route as { Properties: { RouteKey: string; Target: unknown } }).Properties,
    );
    assert.deepEqual(routes.map((route) => route.RouteKey).sort(), [
      'GET /search',
      'GET /similar',
      'POST /search',
      'POST /similar',
    ]);
    assert.equal(new Set(routes.map((route) => JSON.stringify(route.Target))).size, 1, 'one integration');
  });

  it('authorizes every route: IAM by default, JWT by issuer and audience, none only when chosen', () => {
    // Prepare
    const routesOf = (t: Template) =>
      Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map(
        (route) => (route as { Properties: Json }).Properties,
      );
    const outputOf = (t: Template) => Object.values(t.findOutputs('ApiAuthorization'))[0] as Json;
    // Act
    const jwt = synth({
      settings: {
        apiAuthorization: 'jwt',
        jwtIssuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example',
        jwtAudience: ['app-client'],
      },
    });
    const open = synth({ settings: { apiAuthorization: 'none' } });
    // Assess: the default stack's four routes are signed-request (IAM) routes
    assert.deepEqual(
      routesOf(template).map((route) => route['AuthorizationType']),
      ['AWS_IAM', 'AWS_IAM', 'AWS_IAM', 'AWS_IAM'],
    );
    assert.equal(outputOf(template)['Value'], 'iam');
    assert.ok(routesOf(jwt).every((route) => route['AuthorizationType'] === 'JWT' && route['AuthorizerId']));
    jwt.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: {
        Issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example',
        Audience: ['app-client'],
      },
    });
    assert.ok(routesOf(open).every((route) => route['AuthorizationType'] === 'NONE'));
    assert.match(String(outputOf(open)['Description']), /PUBLIC/);
    assert.throws(
      () => synth({ settings: { apiAuthorization: 'jwt' } }),
      /jwtIssuer \(stack settings\): `jwt` authorization needs[\s\S]*jwtAudience \(stack settings\)/,
    );
    assert.throws(
      () => synth({ settings: { tenantClaim: 'cognito:groups' } }),
      /tenantClaim \(stack settings\): needs apiAuthorization=jwt \(it is iam\)/,
    );
  });

  it('throttles the API stage (apiRateLimit, apiBurstLimit) and answers CORS for no origin unless told', () => {
    // Assess the default: throttling from the settings' defaults, no CORS configuration at all
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    const [api] = Object.values(template.findResources('AWS::ApiGatewayV2::Api')) as { Properties: Json }[];
    assert.equal(api!.Properties['CorsConfiguration'], undefined, 'no CORS: not "*"');
    // Act: origins and limits given
    const listed = synth({
      settings: { corsOrigins: ['https://app.example.com'], apiRateLimit: 5, apiBurstLimit: 10 },
    });
    // Assess
    listed.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://app.example.com'] }),
    });
    listed.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    assert.throws(
      () => createApp({ context: { corsOrigins: 'https://app.example.com/path,app.example.com' } }),
      /corsOrigins \(CDK context\): must be origins[\s\S]*"https:\/\/app.example.com\/path", "app.example.com" is not/,
    );
  });

  it('keeps search instances warm behind a live alias only when asked (searchProvisionedConcurrency)', () => {
    // Prepare
    const warm = Template.fromStack(
      createApp({ context: { searchProvisionedConcurrency: '2' } }).node.findChild('DdbFaiss') as DdbFaissStack,
    );
    // Assess: the alias has the warm instances, and the API calls it
    warm.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    const [aliasId] = Object.keys(warm.findResources('AWS::Lambda::Alias'));
    warm.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationUri: { Ref: aliasId } });
    // ...and by default there is no alias
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    assert.throws(
      () => createApp({ context: { searchProvisionedConcurrency: 'some' } }),
      /searchProvisionedConcurrency must be a whole number >= 0 \(0 = none\), got NaN/,
    );
  });

  it('runs the functions on arm64 when asked (lambdaArchitecture), on x86_64 by default', () => {
    // Act
    const arm = Template.fromStack(
      createApp({ context: { lambdaArchitecture: 'arm64' } }).node.findChild('DdbFaiss') as DdbFaissStack,
    );
    // Assess
    const architectures = (t: Template) =>
      Object.values(t.findResources('AWS::Lambda::Function')).map(
        (fn) => (fn as { Properties: Json }).Properties['Architectures'] as string[],
      );
    assert.ok(architectures(arm).every((list) => list.join() === 'arm64'));
    assert.ok(architectures(template).every((list) => list.join() === 'x86_64'));
    assert.throws(
      () => createApp({ context: { lambdaArchitecture: 'sparc' } }),
      /lambdaArchitecture must be one of x86_64, arm64, got sparc/,
    );
  });

  it('has a dashboard and alarms for failed executions and backlog age', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OldestPendingAgeSeconds',
      Namespace: 'ddb-faiss',
    });
  });

  it("graphs the handlers' Powertools metrics on the dashboard: the figures the monitor charts", () => {
    // Prepare
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.['Properties']?.['DashboardBody']);
    // Assess: each series names the namespace, the metric and Powertools' service dimension
    for (const key of ['pendingItems', 'runDuration', 'itemsPerSecond', 'searchLatency'] as const)
      assert.ok(
        body.includes(`[\\"${METRICS_NAMESPACE}\\",\\"${METRICS[key].name}\\",\\"service\\",\\"${SERVICE_NAME}\\"`),
        `no ${METRICS[key].name} series`,
      );
    assert.match(body, /SearchLatency.*"stat\\":\\"p50\\".*SearchLatency.*"stat\\":\\"p99\\"/);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'false', DDB_FAISS_LOG_LEVEL: 'INFO' }) },
    });
  });

  it('scopes IAM to named resources: "*" only where AWS requires it', () => {
    // Log delivery for state machine logging and VPC networking interfaces have no resource-level permissions.
    const mayUseStar =
      /^(logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|xray:.*|ec2:(CreateNetworkInterface|DescribeNetworkInterfaces|DeleteNetworkInterface|AssignPrivateIpAddresses|UnassignPrivateIpAddresses))$/;
    for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of (policy.Properties as Json)['PolicyDocument']['Statement'] as Json[]) {
        const resources = ([] as unknown[]).concat(statement['Resource']);
        if (!resources.includes('*')) continue;
        const actions = ([] as string[]).concat(statement['Action']);
        // EFS mounts are granted on "*" narrowed by a condition naming our access point.
        const scopedByCondition = JSON.stringify(statement['Condition'] ?? {}).includes(
          'elasticfilesystem:AccessPointArn',
        );
        assert.ok(
          scopedByCondition || actions.every((action) => mayUseStar.test(action)),
          `${id}: ${actions.join(', ')} on "*"`,
        );
      }
    }
  });

  it("lets the state machine redrive its own Map Runs' children, as a redrive of a run whose Map Run failed does", () => {
    // Act
    const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('IndexerRole'))
      .flatMap(([, policy]) => (policy.Properties as Json)['PolicyDocument']['Statement'] as Json[]);
    // Assess
    const redrive = statements.filter((statement) => statement['Action'] === 'states:RedriveExecution');
    assert.equal(redrive.length, 1);
    assert.match(JSON.stringify(redrive[0]!['Resource']), /:execution:Test-indexer\/\*:\*"/);
  });

  it("grants each function exactly the actions its stage calls, writes to ddb-faiss's own items only under their key", () => {
    // Prepare: every statement of every function's role as "action on resource"
    const describe = (action: string, resource: unknown, condition: unknown): string => {
      const text = JSON.stringify(resource);
      const where = text.includes('/index/')
        ? 'the pending index'
        : text.includes('Table') && JSON.stringify(condition ?? {}).includes('"dynamodb:LeadingKeys":["__ddb-faiss__"]')
          ? 'reserved items'
          : text.includes('Table')
            ? 'the table'
            : text.includes(':execution:Test-indexer:*')
              ? 'indexer executions'
              : text.includes('Assets') && text.includes('/models/*')
                ? 'model objects'
                : text.includes('Assets') && text.includes('/runs/*')
                  ? 'run objects'
                  : text.includes('Assets') && text.includes('/embed-results/*')
                    ? 'embed results'
                    : text.includes('Assets') && JSON.stringify(condition ?? {}).includes('"s3:prefix":["models/*"]')
                      ? 'the bucket, models/ prefix'
                      : action === 'elasticfilesystem:ClientMount' &&
                          JSON.stringify(condition ?? {}).includes('AccessPointArn')
                        ? 'the access point'
                        : text.includes(':file-system/')
                          ? 'the file system'
                          : `?${text}`;
      return `${action} on ${where}`;
    };
    const granted: Record<string, string[]> = {};
    for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      const fn = /^([A-Z][a-z]+)FunctionServiceRole/.exec(id)?.[1]?.toLowerCase();
      if (!fn) continue;
      for (const statement of (policy.Properties as Json)['PolicyDocument']['Statement'] as Json[]) {
        for (const action of ([] as string[]).concat(statement['Action'])) {
          for (const resource of ([] as unknown[]).concat(statement['Resource']))
            (granted[fn] ??= []).push(describe(action, resource, statement['Condition']));
        }
      }
    }
    const efs = (write: boolean): string[] => [
      'elasticfilesystem:ClientMount on the access point',
      ...(write ? ['elasticfilesystem:ClientWrite on the file system'] : []),
    ];
    // Act
    const actual = Object.fromEntries(Object.entries(granted).map(([fn, grants]) => [fn, [...new Set(grants)].sort()]));
    // Assess
    assert.deepEqual(actual, {
      lease: [
        'dynamodb:GetItem on reserved items',
        'dynamodb:PutItem on reserved items',
        'states:DescribeExecution on indexer executions',
      ],
      bootstrap: [...efs(true), 's3:GetObject on model objects', 's3:ListBucket on the bucket, models/ prefix'].sort(),
      plan: [
        ...efs(true),
        'dynamodb:DeleteItem on reserved items',
        'dynamodb:Scan on the pending index',
        'dynamodb:Scan on the table',
        'dynamodb:UpdateItem on reserved items',
        's3:PutObject on run objects',
      ].sort(),
      embed: [...efs(true), 'dynamodb:BatchGetItem on the table', 'dynamodb:UpdateItem on reserved items'].sort(),
      merge: [
        ...efs(true),
        'dynamodb:PutItem on reserved items',
        'dynamodb:UpdateItem on reserved items',
        's3:GetObject on embed results',
      ].sort(),
      compact: [...efs(true), 'dynamodb:PutItem on reserved items', 'dynamodb:UpdateItem on reserved items'].sort(),
      clear: [
        ...efs(false),
        'dynamodb:DeleteItem on the table',
        'dynamodb:GetItem on reserved items',
        'dynamodb:PartiQLUpdate on the table',
        'dynamodb:PutItem on reserved items',
        'dynamodb:UpdateItem on reserved items',
      ].sort(),
      release: ['dynamodb:DeleteItem on reserved items'],
      search: [...efs(false), 'dynamodb:BatchGetItem on the table'].sort(),
    });
    // Writes need a function's own grant: the file system's policy lets any mount-target client mount (read) only.
    template.hasResourceProperties('AWS::EFS::FileSystem', {
      FileSystemPolicy: {
        Statement: [
          {
            Action: 'elasticfilesystem:ClientMount',
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'elasticfilesystem:AccessedViaMountTarget': 'true' } },
          },
        ],
        Version: '2012-10-17',
      },
    });
  });

  it('collects every invalid property into one error', () => {
    assert.deepEqual(
      validateProps({
        scheduleMinutes: -1,
        settings: { maxConcurrency: 0, batchSize: 1.5 },
        existingTableName: 'a b',
        searchProvisionedConcurrency: 1.5,
      }).length,
      6,
      'the five above, and the stream of the existing table that stream mode (the default) follows',
    );
    assert.deepEqual(
      validateProps({ existingTableName: 'ab', settings: { changeCapture: 'flags' } }),
      ['existingTableName "ab" is not a valid table name (3 to 255 letters, digits, _ . -)'],
      "AWS's rule, the settings' too",
    );
    assert.throws(
      () => synth({ scheduleMinutes: -5, settings: { maxConcurrency: 0 } }),
      /scheduleMinutes must be[\s\S]*maxConcurrency \(stack settings\): must be/,
    );
  });

  it('takes deployed settings as CDK context, checked by the configuration schema', () => {
    // Act
    const app = createApp({ context: { batchSize: '250', indexLayout: 'per-group', maxConcurrency: '4' } });
    const template = Template.fromStack(app.node.findChild('DdbFaiss') as DdbFaissStack);
    // Assess
    const environments = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn as { Properties: Json }).Properties['Environment']['Variables'] as Record<string, string>,
    );
    assert.ok(environments.every((env) => env['DDB_FAISS_BATCH_SIZE'] === '250'));
    assert.ok(environments.every((env) => env['DDB_FAISS_INDEX_LAYOUT'] === 'per-group'));
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
      Properties: Json;
    }[];
    assert.match(String(machine!.Properties['DefinitionString']), /"MaxConcurrency": 4/);
    assert.throws(
      () => createApp({ context: { batchSize: 'lots', indexLayout: 'sharded' } }),
      /invalid CDK context:[\s\S]*batchSize \(CDK context\): must be an integer >= 1, got "lots"[\s\S]*indexLayout/,
    );
  });
});

describe('configuration round trip: CDK context -> every function environment -> loadConfig', () => {
  it('deploys every deployed setting to every function, and a handler reads the same values back', () => {
    // Prepare: every deployed setting away from its default
    const given: Partial<DeployedSettings> = {
      groupAttribute: 'tenant',
      idAttribute: 'doc_id',
      contentAttribute: 'body',
      pendingAttribute: 'to_index',
      pendingIndexName: 'to-index',
      modelPrefix: 'bundles/',
      modelName: 'custom-model',
      batchSize: 250,
      maxItemsPerRun: 5000,
      maxConcurrency: 4,
      embedThreads: 2,
      indexLayout: 'per-group',
      filterAttributes: ['author', 'year'],
      leaseSeconds: 900,
      logLevel: 'WARN',
      apiAuthorization: 'jwt',
      jwtIssuer: 'https://issuer.example.com/',
      jwtAudience: ['app-client', 'admin-client'],
      tenantClaim: 'cognito:groups',
      apiRateLimit: 20,
      apiBurstLimit: 40,
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
      changeCapture: 'flags',
      captureDebounce: '3s',
      captureRunSpacing: '90s',
    };
    assert.deepEqual(Object.keys(given).sort(), [...DEPLOYED_SETTINGS].sort(), 'the test sets every deployed setting');
    for (const name of DEPLOYED_SETTINGS)
      assert.notDeepEqual(given[name], defaultOf(name), `${name} is not its default`);
    // Act: synthesize from context given as text, as `cdk -c name=value` gives it
    const app = createApp({ context: Object.fromEntries(Object.entries(given).map(([k, v]) => [k, String(v)])) });
    const template = Template.fromStack(app.node.findChild('DdbFaiss') as DdbFaissStack);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => (fn as { Properties: Json }).Properties['PackageType'] === 'Image',
    );
    // Assess: each function reads back exactly the settings given
    assert.equal(functions.length, INDEXER_TASK_NAMES.length + 1, 'one function per task and search (flags mode)');
    for (const fn of functions) {
      const variables = (fn as { Properties: Json }).Properties['Environment']['Variables'] as Record<string, unknown>;
      // CloudFormation references (the table, the bucket) resolve at deploy time: any name stands in here.
      const env = Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [
          name,
          typeof value === 'string' ? value : `resolved-${name.toLowerCase().replace(/_/g, '-')}`,
        ]),
      );
      const config = loadConfig({ env, flags: {}, cwd: '/nonexistent-dir' });
      for (const name of DEPLOYED_SETTINGS) assert.deepEqual(config[name], given[name], `${name} read back`);
      assert.equal(config.target, 'aws');
      assert.equal(config.efsRoot, '/mnt/efs');
    }
  });
});

describe('DdbFaissStack in stream mode (the default)', () => {
  let template: Template;
  before(() => {
    template = synth();
  });

  it('turns the table stream on and follows it with the capture function, as the local follower does', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as {
      Properties: Json;
    }[];
    const props = mapping!.Properties;
    assert.equal(props['BatchSize'], CAPTURE_EVENT_SOURCE.batchSize);
    assert.equal(props['MaximumRetryAttempts'], CAPTURE_EVENT_SOURCE.retryAttempts);
    assert.equal(props['BisectBatchOnFunctionError'], true);
    assert.deepEqual(props['FunctionResponseTypes'], ['ReportBatchItemFailures']);
    assert.equal(props['StartingPosition'], 'TRIM_HORIZON');
    assert.deepEqual(JSON.parse(props['FilterCriteria'].Filters[0].Pattern), {
      dynamodb: { Keys: { content_group: { S: [{ 'anything-but': ['__ddb-faiss__'] }] } } },
    });
    assert.ok(props['DestinationConfig'].OnFailure.Destination['Fn::GetAtt'][0].startsWith('CaptureFailures'));
    template.hasOutput('CaptureFailureQueueUrl', {});
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CaptureLagSeconds', Threshold: 300 });
  });

  it('lets the capture function write only reserved items and start only the indexer', () => {
    // Assess
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      id.startsWith('CaptureFunction'),
    );
    const statements = policies.flatMap(([, policy]) => (policy as Json).Properties.PolicyDocument.Statement as Json[]);
    const writes = statements.find((statement) => [statement['Action']].flat().includes('dynamodb:UpdateItem'))!;
    assert.deepEqual(writes['Condition'], {
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['__ddb-faiss__'] },
    });
    const start = statements.find((statement) => statement['Action'] === 'states:StartExecution')!;
    assert.match(JSON.stringify(start['Resource']), /:stateMachine:Test-indexer/);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: Json }[];
    const capture = functions.find((fn) => String(fn.Properties['FunctionName']).endsWith('-capture'))!;
    assert.equal(capture.Properties['VpcConfig'], undefined, 'outside the VPC: it calls Step Functions');
  });

  it('has no capture function in flags mode, and says how to enable an existing table stream', () => {
    // Act
    const flags = synth({ settings: { changeCapture: 'flags' } });
    const problems = validateProps({ existingTableName: 'orders' });
    // Assess
    assert.deepEqual(flags.findResources('AWS::Lambda::EventSourceMapping'), {});
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /aws dynamodb update-table --table-name orders --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES/,
    );
  });
});

describe('the DdbFaiss construct', () => {
  it("composes into a user's own App and Stack, beside their resources, and synthesizes", () => {
    // Prepare: the user's app, in an output folder of its own
    const outdir = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-construct-'));
    after(() => rmSync(outdir, { recursive: true, force: true }));
    const app = new App({ outdir });
    const stack = new Stack(app, 'UserStack');
    const theirs = new Queue(stack, 'TheirQueue');

    // Act
    const search = new DdbFaiss(stack, 'Search', {
      dataRemovalPolicy: RemovalPolicy.DESTROY,
      scheduleMinutes: 30,
      settings: { apiAuthorization: 'iam', changeCapture: 'flags' },
    });
    const assembly = app.synth();

    // Assess: the system is in their stack, under the construct's path, next to their queue
    const template = Template.fromJSON(assembly.getStackByName('UserStack').template as Json);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::SQS::Queue', 1);
    assert.ok(stack.resolve(theirs.queueArn));
    const ids = Object.keys(template.findResources('AWS::Lambda::Function'));
    assert.ok(ids.length > 0 && ids.every((id) => id.startsWith('Search')), ids.join());
    assert.deepEqual(Object.keys(template.toJSON()['Outputs'] ?? {}), [], "outputs are the stack owner's to add");
    assert.equal(search.settings.apiAuthorization, 'iam');
    assert.ok(search.functions.search && search.api && search.stateMachine && search.dashboard);
    // The image's build context was bundled into the app's output, at the paths the Dockerfile names
    const contexts = readdirSync(outdir).filter((entry) =>
      existsSync(path.join(outdir, entry, 'infra/lambda-image/dist/lambda.mjs')),
    );
    assert.ok(contexts.length > 0, readdirSync(outdir).join()); // staged, and the image asset's copy of it
    for (const source of copiedSources()) assert.ok(existsSync(path.join(outdir, contexts[0]!, source)), source);
  });

  it('writes nothing into the checkout when constructed and synthesized', () => {
    // Prepare
    const outdir = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-construct-'));
    after(() => rmSync(outdir, { recursive: true, force: true }));
    const infraFiles = () =>
      readdirSync(path.join(PROJECT_ROOT, 'infra'), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const file = path.join(entry.parentPath, entry.name);
          return `${path.relative(PROJECT_ROOT, file)} ${statSync(file).mtimeMs}`;
        })
        .sort();
    const before = infraFiles();

    // Act
    const app = new App({ outdir });
    new DdbFaiss(new Stack(app, 'Quiet'), 'DdbFaiss', { dataRemovalPolicy: RemovalPolicy.DESTROY });
    app.synth();

    // Assess
    assert.deepEqual(infraFiles(), before);
  });

  it('reports every invalid property at once, as a typed error', () => {
    // Act
    const construct = () =>
      new DdbFaiss(new Stack(new App(), 'Invalid'), 'DdbFaiss', {
        scheduleMinutes: -1,
        lambdaArchitecture: 'sparc' as 'arm64',
        existingTableName: 'ab',
      });

    // Assess
    assert.throws(construct, (error: unknown) => {
      assert.ok(error instanceof DdbFaissPropsError);
      assert.equal(error.problems.length, 4, error.problems.join('\n'));
      assert.match(error.message, /scheduleMinutes[\s\S]*lambdaArchitecture[\s\S]*existingTableName/);
      return true;
    });
  });
});
