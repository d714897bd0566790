/**
 * The Lambda image, checked without Docker. Its final stage puts the esbuild bundle and the
 * native node_modules in the task root; that layout is rebuilt here from this machine's builds
 * of the same packages (same versions, same faiss source, same build code), pruned by the
 * image's own rule, and the bundle must find and load exactly those native modules from it,
 * and nothing from outside it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleLambdas, EXTERNAL_PACKAGES, type LambdaBundle } from '../../infra/bundle.ts';
import { nativePackages } from '../../infra/native-packages.ts';
import { keptInImage } from '../../infra/lambda-image/prune-native.js';
import { INDEXER_TASK_NAMES } from '../../asl/tasks.ts';
import { tempDir } from '../helpers/local-stack.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKERFILE = readFileSync(path.join(REPO_ROOT, 'infra/lambda-image/Dockerfile'), 'utf8');
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x64';

/** The instructions of the Dockerfile's last stage (after its last FROM), continuation lines joined. */
function finalStage(): string[] {
  const lines = DOCKERFILE.replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return lines.slice(lines.findLastIndex((line) => line.startsWith('FROM ')));
}

/** Builds the task root as the final stage does: COPY of the native node_modules and of dist/. */
function imageLayout(taskRoot: string, packages: readonly string[], bundleFile: string): void {
  for (const at of packages) {
    const from = path.join(REPO_ROOT, at);
    cpSync(from, path.join(taskRoot, at), {
      recursive: true,
      filter: (source) => keptInImage(path.relative(path.join(REPO_ROOT, 'node_modules'), source), ARCH),
    });
  }
  cpSync(bundleFile, path.join(taskRoot, 'lambda.mjs'));
}

/** Imports the bundle in a fresh Node, from the task root, as Lambda's runtime does; reports what it found. */
function loadBundle(taskRoot: string) {
  const script = `
    import { createRequire } from 'node:module';
    const handlers = await import(${JSON.stringify(path.join(taskRoot, 'lambda.mjs'))});
    const require = createRequire(${JSON.stringify(path.join(taskRoot, 'lambda.mjs'))});
    const faiss = require('faiss-node');
    const index = new faiss.IndexFlatIP(2);
    index.add([1, 0, 0, 1]);
    const ort = require('onnxruntime-node');
    console.log(JSON.stringify({
      exports: Object.keys(handlers).sort(),
      resolved: ${JSON.stringify(EXTERNAL_PACKAGES)}.map((name) => require.resolve(name)),
      faissAnswer: index.search([0, 1], 1).labels[0],
      onnx: typeof ort.InferenceSession.create,
    }));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: taskRoot,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: taskRoot },
  });
}

describe('the Lambda image (without Docker)', () => {
  const dir = tempDir('ddb-faiss-image-');
  const taskRoot = path.join(dir.path, 'var/task');
  let bundle: LambdaBundle;
  const { manifest, lockfile } = nativePackages();
  const installed = Object.keys(lockfile.packages).filter((at) => at !== '');

  before(() => {
    bundle = bundleLambdas(path.join(dir.path, 'dist/lambda.mjs'));
  });
  after(() => dir.remove());

  it("installs exactly the bundle's external packages, at the project lockfile's versions and integrity", () => {
    // Act: the packages the bundle leaves to the image (its imports esbuild kept external)
    const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
    const externals = bundle.externals.filter((name) => !builtins.has(name)).sort();
    // Assess
    assert.deepEqual(externals, [...EXTERNAL_PACKAGES].sort());
    for (const name of EXTERNAL_PACKAGES) assert.ok(name in manifest.dependencies, `${name} is installed`);
    const project = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; integrity?: string; resolved?: string }>;
    };
    for (const at of installed) {
      const { version, integrity, resolved } = lockfile.packages[at]!;
      assert.deepEqual(
        { version, integrity, resolved },
        {
          version: project.packages[at]?.version,
          integrity: project.packages[at]?.integrity,
          resolved: project.packages[at]?.resolved,
        },
      );
    }
  });

  it("puts the bundle and the native node_modules in the task root, as the Dockerfile's final stage does", () => {
    const stage = finalStage();
    assert.match(stage[0]!, /^FROM public\.ecr\.aws\/lambda\/nodejs:22$/);
    assert.ok(
      stage.includes('COPY --from=native /build/node_modules ${LAMBDA_TASK_ROOT}/node_modules'),
      stage.join('\n'),
    );
    assert.ok(stage.includes('COPY infra/lambda-image/dist/ ${LAMBDA_TASK_ROOT}/'), stage.join('\n'));
    assert.equal(path.basename(bundle.file), 'lambda.mjs');
    // The native stage installs from the generated lockfile and builds with the shared scripts
    assert.match(
      DOCKERFILE,
      /COPY infra\/lambda-image\/build-native\.sh infra\/lambda-image\/prune-native\.js infra\/lambda-image\/native\/ \.\//,
    );
    assert.match(
      DOCKERFILE,
      /COPY scripts\/faiss-source\.sh scripts\/build-faiss\.sh scripts\/faiss-node-binding\.js scripts\//,
    );
  });

  it('resolves and loads the native modules from the task root alone', () => {
    // Prepare
    imageLayout(taskRoot, installed, bundle.file);
    // Act
    const run = loadBundle(taskRoot);
    // Assess
    assert.equal(run.status, 0, run.stderr);
    const found = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      exports: string[];
      resolved: string[];
      faissAnswer: number;
      onnx: string;
    };
    assert.deepEqual(found.exports, [...INDEXER_TASK_NAMES, 'search', 'capture'].sort());
    for (const resolved of found.resolved) assert.ok(resolved.startsWith(`${taskRoot}/node_modules/`), resolved);
    assert.equal(found.faissAnswer, 1);
    assert.equal(found.onnx, 'function');
  });

  it('fails to load when the layout lacks one of them', () => {
    // Prepare
    rmSync(path.join(taskRoot, 'node_modules/onnxruntime-node'), { recursive: true });
    // Act
    const run = loadBundle(taskRoot);
    // Assess
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /Cannot find package 'onnxruntime-node'/);
  });
});
