import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { INDEXER_TASK_NAMES } from '../../asl/tasks.ts';
import { bundleLambdas } from '../../infra/bundle.ts';
import { cdkDeployArgs } from '../../workflow/cli/deploy.ts';
import { runCli } from '../helpers/cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('npm run synth', () => {
  it('synthesizes the stack offline with no credentials, leaving the checkout as it was', () => {
    // Prepare
    const status = () =>
      spawnSync('git', ['status', '--porcelain', '--ignored', '--', 'infra'], { cwd: root, encoding: 'utf8' }).stdout;
    const before = status();
    // Act: no AWS credentials or region in the environment
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
    const run = spawnSync('npm', ['run', '-s', 'synth'], {
      cwd: root,
      env: { ...env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    // Assess
    assert.equal(run.status, 0, run.stderr);
    assert.equal(status(), before, 'synth wrote into infra/ (the image context belongs in cdk.out)');
    assert.match(run.stdout, /DdbFaiss: \d+ resources/);
    // One function per task, search and capture (stream mode, the default), and its event source mapping
    assert.match(run.stdout, new RegExp(` ${INDEXER_TASK_NAMES.length + 2} AWS::Lambda::Function`));
    assert.match(run.stdout, / 1 AWS::Lambda::EventSourceMapping/);
    const template = JSON.parse(readFileSync(path.join(root, 'cdk.out/DdbFaiss.template.json'), 'utf8'));
    assert.ok(
      Object.values(template.Resources).some(
        (resource) => (resource as { Type: string }).Type === 'AWS::StepFunctions::StateMachine',
      ),
    );
  });

  it('bundles the Lambda handlers offline with esbuild into one module that loads and runs', async (t) => {
    // Prepare: a bundle of its own (beside synth's, so its external packages resolve), whatever ran before
    const bundle = path.join(root, `infra/lambda-image/dist/lambda-test-${process.pid}.mjs`);
    bundleLambdas(bundle);
    t.after(() => {
      for (const file of [bundle, `${bundle}.map`]) rmSync(file, { force: true });
    });
    // Act
    const handlers = (await import(bundle)) as Record<string, (event: unknown, context: unknown) => Promise<unknown>>;
    const released = await handlers['release']!(
      {},
      { getRemainingTimeInMillis: () => 1000, functionName: 'release', awsRequestId: 'x' },
    );
    // Assess
    assert.deepEqual(Object.keys(handlers).sort(), [...INDEXER_TASK_NAMES, 'search', 'capture'].sort());
    assert.equal(released, undefined, 'a run rejected before it started holds no lease');
    // Tracing is off (DDB_FAISS_TRACING unset): the X-Ray SDK, whose async hooks slow every
    // promise, was not loaded. Loading it sets process.namespaces (cls-hooked).
    assert.equal('namespaces' in process, false, 'the X-Ray SDK was loaded with tracing off');
    const source = readFileSync(bundle, 'utf8');
    assert.match(
      source,
      /from "faiss-node"|require\("faiss-node"\)|import\("faiss-node"\)/,
      'faiss-node stays external',
    );
  });

  it('deploy runs the bundled CDK CLI on the same app, writing outputs where --target aws reads them', () => {
    const args = cdkDeployArgs('/tmp/data', ['scheduleMinutes=30']);
    assert.ok(existsSync(args[0]!), 'the CDK CLI is installed');
    assert.deepEqual(args.slice(1, 2), ['deploy']);
    assert.ok(args.includes('--outputs-file') && args.includes('/tmp/data/aws-outputs.json'));
    assert.match(args[args.indexOf('--app') + 1]!, /infra\/app\.ts$/);
    assert.deepEqual(args.slice(-2), ['--context', 'scheduleMinutes=30']);
  });
});

describe('ddb-faiss deploy explains itself', () => {
  it('--dry-run synthesizes offline and prints the settings with where each comes from, and the resources', async () => {
    // Act
    const result = await runCli(['deploy', '--dry-run', '--context', 'batchSize=250', '--context', 'tracing=true']);
    // Assess
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /stack DdbFaiss, synthesized offline; nothing was deployed/);
    assert.match(result.stdout, /\n {2}batchSize +250 {2}\(-c\)\n/);
    assert.match(result.stdout, /\n {2}indexLayout +global {2}\(default\)\n/);
    assert.match(result.stdout, /\n {2}tracing +true {2}\(-c\)\n/);
    assert.match(result.stdout, /\n {2}changeCapture +stream {2}\(default\)\n/);
    assert.match(result.stdout, new RegExp(`AWS::Lambda::Function +${INDEXER_TASK_NAMES.length + 2} `));
    assert.match(result.stdout, /AWS::StepFunctions::StateMachine +1 /);
  });

  it('--dry-run over an existing table in stream mode says what the deploy does to the table first', async () => {
    // Act: from the compiled CLI, as a user runs it
    const result = await runCli([
      'deploy',
      '--dry-run',
      '--context',
      'changeCapture=stream',
      '--context',
      'existingTableName=orders',
    ]);
    // Assess
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /stream mode over orders: the deploy checks its keys, creates its sparse index and enables its stream/,
    );
    assert.match(result.stdout, /AWS::Lambda::EventSourceMapping +1 /);
    assert.match(result.stdout, /AWS::SQS::Queue +1 /);
  });

  it('warns that the search API will be public when apiAuthorization=none is chosen, and only then', async () => {
    // Act
    const open = await runCli(['deploy', '--dry-run', '--context', 'apiAuthorization=none']);
    const signed = await runCli(['deploy', '--dry-run']);
    // Assess
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stderr, /warning: apiAuthorization=none makes the search API public/);
    assert.match(open.stdout, /\n {2}apiAuthorization +none {2}\(-c\)\n/);
    assert.doesNotMatch(signed.stderr, /public/);
    assert.match(signed.stdout, /\n {2}apiAuthorization +iam {2}\(default\)\n/);
  });

  it('refuses a bad setting in --context by name before anything else', async () => {
    const result = await runCli(['deploy', '--dry-run', '--context', 'batchSize=lots']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /batchSize \(--context\): must be an integer >= 1, got "lots"/);
  });

  it('without credentials or a Docker engine, fails at once naming each and how to get it, and cdk bootstrap', async () => {
    // Prepare: no credentials where the SDK looks; a Docker host that is not there
    const saved = { ...process.env };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[name];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_EC2_METADATA_DISABLED: 'true',
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    try {
      // Act
      const result = await runCli(['deploy', '--data-dir', '/tmp/ddb-faiss-deploy-test']);
      // Assess
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cannot start, some things are missing/);
      assert.match(result.stderr, /AWS credentials: none found .*aws sso login/);
      assert.match(result.stderr, /Docker: (not installed|the engine is not reachable)/);
      assert.match(result.stderr, /cdk bootstrap aws:\/\/<account>\/<region>/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      process.env = saved;
    }
  });
});
