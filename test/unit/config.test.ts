import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.ts';
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
    assert.deepEqual([config.dynamodbPort, config.s3Port, config.stepFunctionsPort, config.httpPort], [8600, 8601, 8602, 8603]);
    dir.remove();
  });

  it('layers defaults, then the config file, then env, then flags', () => {
    // Prepare
    const dir = tempDir();
    writeFileSync(path.join(dir.path, 'ddb-faiss.config.json'), JSON.stringify({ tableName: 'from-file', contentAttribute: 'body', batchSize: 7 }));
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
        loadConfig({ cwd: dir.path, env: { DDB_FAISS_TARGET: 'mars' }, flags: { 's3-port': '70000', 'batch-size': '0', 'content-attribute': 'content_id' } });
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
    assert.throws(() => loadConfig({ cwd: dir.path, env: {}, configFile: 'nope.json' }), /config file .*nope\.json does not exist/);
    writeFileSync(path.join(dir.path, 'bad.json'), '{ not json');
    assert.throws(() => loadConfig({ cwd: dir.path, env: {}, configFile: 'bad.json' }), /is not valid JSON/);
    dir.remove();
  });
});

describe('loadConfig for a deployed stack', () => {
  it('takes table, bucket, state machine and search URL from the deploy outputs, explicit settings still winning', () => {
    // Prepare
    const dir = tempDir();
    const dataDir = path.join(dir.path, '.ddb-faiss');
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, 'aws-outputs.json'), JSON.stringify({
      DdbFaiss: { TableName: 'DdbFaiss-Table-1', BucketName: 'ddbfaiss-assets-1', StateMachineArn: 'arn:aws:states:eu-west-1:123:stateMachine:DdbFaiss-indexer', ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com' },
    }));
    // Act
    const aws = loadConfig({ cwd: dir.path, env: {}, flags: { target: 'aws', bucket: 'my-own-bucket' } });
    const local = loadConfig({ cwd: dir.path, env: {} });
    // Assess
    assert.equal(aws.tableName, 'DdbFaiss-Table-1');
    assert.equal(aws.bucketName, 'my-own-bucket');
    assert.equal(aws.stateMachineArn, 'arn:aws:states:eu-west-1:123:stateMachine:DdbFaiss-indexer');
    assert.equal(aws.searchUrl, 'https://abc.execute-api.eu-west-1.amazonaws.com');
    assert.equal(local.tableName, 'ddb-faiss-items', 'the local target ignores deploy outputs');
    dir.remove();
  });
});
