import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.ts';
import { parseDuration } from '../../config/duration.ts';
import { settingsTable, withGeneratedSections } from '../../scripts/doc-sections.ts';
import {
  DEPLOYED_SETTINGS,
  deployedEnvironment,
  deployedSettingProblems,
  parseSetting,
  SETTING_NAMES,
  SETTINGS,
  settingFromEnv,
} from '../../config/settings.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    // Prepare
    const dir = tempDir();
    // Act
    const config = loadConfig({ env: {}, cwd: dir.path });
    // Assess
    assert.equal(config.target, 'local');
    assert.equal(config.tableName, 'ddb-faiss-items');
    assert.equal(config.groupAttribute, 'content_group');
    assert.equal(config.idAttribute, 'content_id');
    assert.equal(config.contentAttribute, 'content');
    assert.equal(config.pendingAttribute, 'faiss_pending');
    assert.equal(config.dataDir, path.join(dir.path, '.ddb-faiss'));
    assert.equal(config.efsRoot, path.join(dir.path, '.ddb-faiss', 'efs'));
    assert.deepEqual(
      [config.dynamodbPort, config.s3Port, config.stepFunctionsPort, config.httpPort],
      [8600, 8601, 8602, 8603],
    );
    dir.remove();
  });

  it('layers defaults, then the config file, then env, then flags', () => {
    // Prepare
    const dir = tempDir();
    writeFileSync(
      path.join(dir.path, 'ddb-faiss.config.json'),
      JSON.stringify({ tableName: 'from-file', contentAttribute: 'body', batchSize: 7 }),
    );
    // Act
    const config = loadConfig({
      cwd: dir.path,
      env: { DDB_FAISS_TABLE: 'from-env', DDB_FAISS_BATCH_SIZE: '9' },
      flags: { 'batch-size': '11' },
    });
    // Assess
    assert.equal(config.contentAttribute, 'body'); // file only
    assert.equal(config.tableName, 'from-env'); // env beats file
    assert.equal(config.batchSize, 11); // flag beats env
    dir.remove();
  });

  it('collects every invalid setting into one error naming each', () => {
    // Prepare
    const dir = tempDir();
    writeFileSync(path.join(dir.path, 'ddb-faiss.config.json'), JSON.stringify({ tabelName: 'typo' }));
    // Act
    const error = (() => {
      try {
        loadConfig({
          cwd: dir.path,
          env: { DDB_FAISS_TARGET: 'mars' },
          flags: { 's3-port': '70000', 'batch-size': '0', 'content-attribute': 'content_id' },
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    // Assess
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join('\n');
    assert.match(text, /tabelName .*unknown setting/);
    assert.match(text, /target \(env DDB_FAISS_TARGET\): must be "local" or "aws"/);
    assert.match(text, /s3Port \(flag --s3-port\): must be a port/);
    assert.match(text, /batchSize \(flag --batch-size\): must be an integer >= 1/);
    assert.match(text, /contentAttribute: "content_id" is already the name of another attribute/);
    assert.equal(error.problems.length, 5);
    dir.remove();
  });

  it('fails when a named config file is missing, and on malformed JSON', () => {
    const dir = tempDir();
    assert.throws(
      () => loadConfig({ cwd: dir.path, env: {}, configFile: 'nope.json' }),
      /config file .*nope\.json does not exist/,
    );
    writeFileSync(path.join(dir.path, 'bad.json'), '{ not json');
    assert.throws(() => loadConfig({ cwd: dir.path, env: {}, configFile: 'bad.json' }), /is not valid JSON/);
    dir.remove();
  });
});

describe('loadConfig for a deployed stack', () => {
  it('takes table, bucket, state machine, search URL and capture failure queue from the deploy outputs, explicit settings still winning', () => {
    // Prepare
    const dir = tempDir();
    const dataDir = path.join(dir.path, '.ddb-faiss');
    mkdirSync(dataDir);
    writeFileSync(
      path.join(dataDir, 'aws-outputs.json'),
      JSON.stringify({
        DdbFaiss: {
          TableName: 'DdbFaiss-Table-1',
          BucketName: 'ddbfaiss-assets-1',
          StateMachineArn: 'arn:aws:states:eu-west-1:123:stateMachine:DdbFaiss-indexer',
          ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
          CaptureFailureQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123/DdbFaiss-CaptureFailures',
        },
      }),
    );
    // Act
    const aws = loadConfig({ cwd: dir.path, env: {}, flags: { target: 'aws', bucket: 'my-own-bucket' } });
    const local = loadConfig({ cwd: dir.path, env: {} });
    // Assess
    assert.equal(aws.tableName, 'DdbFaiss-Table-1');
    assert.equal(aws.bucketName, 'my-own-bucket');
    assert.equal(aws.stateMachineArn, 'arn:aws:states:eu-west-1:123:stateMachine:DdbFaiss-indexer');
    assert.equal(aws.searchUrl, 'https://abc.execute-api.eu-west-1.amazonaws.com');
    assert.equal(aws.captureFailureQueueUrl, 'https://sqs.eu-west-1.amazonaws.com/123/DdbFaiss-CaptureFailures');
    assert.equal(local.tableName, 'ddb-faiss-items', 'the local target ignores deploy outputs');
    dir.remove();
  });
});

describe('the configuration schema', () => {
  it('is what docs/configuration.md documents: its table is generated from the schema (npm run generate)', () => {
    // Prepare
    const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    // Act
    const regenerated = withGeneratedSections('docs/configuration.md', page);
    // Assess
    assert.equal(page, regenerated, 'docs/configuration.md is out of date: run `npm run generate`');
    for (const name of SETTING_NAMES)
      assert.match(settingsTable(), new RegExp(`^\\| ${name} \\| .* \\| \`${SETTINGS[name].env}\` \\|`, 'm'));
  });

  it('coerces each kind from text and names the problem in the words a user sees', () => {
    assert.deepEqual(parseSetting('batchSize', '250'), { value: 250 });
    assert.deepEqual(parseSetting('batchSize', 250), { value: 250 });
    assert.deepEqual(parseSetting('batchSize', '2.5'), { problem: 'must be an integer >= 1, got "2.5"' });
    assert.deepEqual(parseSetting('batchSize', true), { problem: 'expected an integer, got true' });
    assert.deepEqual(parseSetting('maxConcurrency', '20000'), {
      problem: 'must be an integer from 1 to 10000, got "20000"',
    });
    assert.deepEqual(parseSetting('indexLayout', 'per-group'), { value: 'per-group' });
    assert.deepEqual(parseSetting('indexLayout', 'sharded'), {
      problem: 'must be "global" or "per-group", got "sharded"',
    });
    assert.deepEqual(parseSetting('searchUrl', 'https://x.example/'), { value: 'https://x.example' });
    assert.deepEqual(parseSetting('searchUrl', 'ftp://x.example'), {
      problem: 'must be an http(s) URL, got "ftp://x.example"',
    });
    assert.deepEqual(parseSetting('searchUrl', 'not a url'), { problem: 'must be a URL, got "not a url"' });
    assert.deepEqual(parseSetting('tableName', 'my table'), {
      problem: '"my table" is not a valid table or index name (3 to 255 letters, digits, _ . -)',
    });
    // AWS's rule for table and index names (3 to 255), the CDK stack's too; attribute names may be shorter
    assert.deepEqual(parseSetting('tableName', 'ab'), {
      problem: '"ab" is not a valid table or index name (3 to 255 letters, digits, _ . -)',
    });
    assert.deepEqual(parseSetting('pendingIndexName', 'ix'), {
      problem: '"ix" is not a valid table or index name (3 to 255 letters, digits, _ . -)',
    });
    assert.deepEqual(parseSetting('groupAttribute', 'g'), { value: 'g' });
    assert.deepEqual(parseSetting('bucketName', 'Bad_Bucket'), {
      problem: '"Bad_Bucket" is not a valid S3 bucket name',
    });
    assert.deepEqual(parseSetting('scheduleEvery', '5'), { problem: '"5" is not a duration: use e.g. 30s, 5m, 1h' });
    assert.deepEqual(parseSetting('region', ' '), { problem: 'must not be empty' });
  });

  it('reads one tool setting from the environment alone, else its default', () => {
    assert.equal(settingFromEnv('cacheDir', { DDB_FAISS_CACHE_DIR: '/tmp/cache' }), '/tmp/cache');
    assert.equal(settingFromEnv('cacheDir', { XDG_CACHE_HOME: '/xdg' }), path.join('/xdg', 'ddb-faiss'));
    assert.throws(
      () => settingFromEnv('leaseSeconds', { DDB_FAISS_LEASE_SECONDS: 'soon' }),
      /leaseSeconds \(env DDB_FAISS_LEASE_SECONDS\): must be an integer >= 1/,
    );
  });

  it('deploys the settings the functions read: every problem named, each with its variable in the environment', () => {
    assert.deepEqual(
      deployedSettingProblems({ batchSize: 0, tableName: 'x', indexLayout: 'per-group' }, 'CDK context'),
      [
        'batchSize (CDK context): must be an integer >= 1, got "0"',
        `tableName (CDK context): not a deployed setting; deployed settings: ${DEPLOYED_SETTINGS.join(', ')}`,
      ],
    );
    const environment = deployedEnvironment({ batchSize: 250 });
    assert.equal(environment['DDB_FAISS_BATCH_SIZE'], '250');
    assert.equal(environment['DDB_FAISS_INDEX_LAYOUT'], 'global');
    // Every deployed setting but those with no default (jwtIssuer, tenantClaim): unset stays unset
    assert.deepEqual(Object.keys(environment).length, DEPLOYED_SETTINGS.length - 2);
    assert.equal(environment['DDB_FAISS_JWT_ISSUER'], undefined);
    assert.equal(environment['DDB_FAISS_TENANT_CLAIM'], undefined);
  });
});

describe('the authorization settings', () => {
  const load = (env: Record<string, string>) => () => loadConfig({ env, flags: {}, cwd: '/nonexistent-dir' });

  it('keeps the tenant claim and local token checks to jwt authorization, naming each setting', () => {
    // Act + Assess
    assert.throws(
      load({ DDB_FAISS_TENANT_CLAIM: 'cognito:groups', DDB_FAISS_LOCAL_JWKS_FILE: 'keys.json' }),
      (error: ConfigError) =>
        assert.deepEqual(error.problems, [
          'tenantClaim: needs apiAuthorization=jwt (it is iam): only a JWT carries claims',
          'localJwksFile: needs apiAuthorization=jwt (it is iam): only a JWT carries claims',
        ]) ?? true,
    );
    assert.throws(
      load({ DDB_FAISS_TENANT_CLAIM: 'custom: tenant' }),
      /tenantClaim \(env DDB_FAISS_TENANT_CLAIM\): must be a claim name without spaces/,
    );
  });

  it('needs the issuer and audience to check tokens locally, and one key source', () => {
    // Act + Assess
    assert.throws(
      load({
        DDB_FAISS_API_AUTHORIZATION: 'jwt',
        DDB_FAISS_LOCAL_JWT_SECRET: 's',
        DDB_FAISS_LOCAL_JWKS_FILE: 'k.json',
      }),
      (error: ConfigError) =>
        assert.deepEqual(error.problems, [
          'localJwksFile: set either localJwtSecret or localJwksFile, not both',
          'jwtIssuer: checking tokens locally (localJwtSecret) needs the OIDC issuer URL',
          'jwtAudience: checking tokens locally (localJwtSecret) needs at least one audience (client id)',
        ]) ?? true,
    );
    const config = load({
      DDB_FAISS_API_AUTHORIZATION: 'jwt',
      DDB_FAISS_TENANT_CLAIM: 'cognito:groups',
      DDB_FAISS_JWT_ISSUER: 'https://issuer.example.com/',
      DDB_FAISS_JWT_AUDIENCE: 'app',
      DDB_FAISS_LOCAL_JWT_SECRET: 'test-secret',
    })();
    assert.equal(config.tenantClaim, 'cognito:groups');
    assert.equal(config.localJwtSecret, 'test-secret');
  });
});

describe('parseDuration', () => {
  it('is the one duration grammar: a number and a unit', () => {
    assert.deepEqual(
      ['500ms', '30s', '5m', '1.5h', '1d'].map(parseDuration),
      [500, 30_000, 300_000, 5_400_000, 86_400_000],
    );
    for (const text of ['5', 'soon', '5 minutes', '-1s', ''])
      assert.throws(() => parseDuration(text), /is not a duration: use e\.g\. 30s, 5m, 1h/, text);
  });
});
