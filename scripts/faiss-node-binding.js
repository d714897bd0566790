// Compiles faiss-node against a given faiss static library, the one way ddb-faiss builds it:
// `npm ci` here (scripts/postinstall.js) and the Lambda image (infra/lambda-image/Dockerfile).
// It replaces faiss-node's binding.gyp: node-addon-api 8 with C++ exceptions (faiss errors
// become JS exceptions instead of aborting the process; faiss-node's own node-addon-api 6
// aborts on some of them), -O3 and OpenMP, the AVX2 flags when the library is the AVX2 build.
// And one change to faiss-node's source (FLOAT32_PATCH): `add` and `train` also take a
// Float32Array, read in place, where faiss-node copies a number[] value by value through N-API
// (about 0.35 µs a value: 2 minutes to add a million vectors of 356 dimensions).
//
//   node scripts/faiss-node-binding.js /path/to/libfaiss_avx2.a   # from the folder holding node_modules
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Builds node_modules/faiss-node (resolved from `root`) against `faissLib`, unless the same
 * build is already there. Returns whether it compiled; throws with the compiler's output when
 * the build fails.
 * @param {{ root: string, faissLib: string, log?: (message: string) => void }} options
 */
export function buildFaissNode({ root, faissLib, log = () => {} }) {
  const require = createRequire(path.join(root, 'package.json'));
  const faissDir = path.dirname(require.resolve('faiss-node/package.json'));
  const addonApiDir = path.dirname(require.resolve('node-addon-api/package.json'));
  const addonApiVersion = JSON.parse(readFileSync(path.join(addonApiDir, 'package.json'), 'utf8')).version;
  const avx2 = path.basename(faissLib).includes('avx2');
  const simdFlags = avx2 ? ['-mavx2', '-mfma', '-mf16c', '-mpopcnt'] : [];

  const addon = path.join(faissDir, 'build/Release/faiss-node.node');
  const stampFile = path.join(faissDir, 'build/ddb-faiss-build.json');
  const stamp = JSON.stringify({
    node: process.versions.modules,
    addonApiVersion,
    faissLib,
    patch: FLOAT32_PATCH.version,
  });
  if (existsSync(addon) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return false;

  // faiss 1.7.3 spells the label type faiss::Index::idx_t; faiss-node's source uses
  // faiss::idx_t (1.7.4+). A header forced in with -include adds the alias.
  const compatHeader = path.join(faissDir, 'faiss-idx-compat.h');
  writeFileSync(
    compatHeader,
    [
      '#pragma once',
      '#include <faiss/Index.h>',
      '#include <faiss/MetricType.h>',
      'namespace faiss { using idx_t = faiss::Index::idx_t; }',
      '',
    ].join('\n'),
  );
  // The library's own headers, which scripts/build-faiss.sh keeps beside it (include/faiss/),
  // else the system's (Debian's libfaiss-dev: the same 1.7.3 source).
  const libHeaders = path.join(path.dirname(faissLib), 'include');
  const includeDirs = [addonApiDir, ...(existsSync(path.join(libHeaders, 'faiss/Index.h')) ? [libHeaders] : [])];
  const bindingGyp = {
    targets: [
      {
        target_name: 'faiss-node',
        sources: ['src/faiss-ddb.cc'],
        include_dirs: includeDirs,
        defines: ['NAPI_VERSION=8', 'NODE_ADDON_API_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
        'cflags!': ['-fno-exceptions'],
        'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
        cflags_cc: ['-std=c++17', '-fexceptions', '-frtti', '-O3', '-fopenmp', ...simdFlags, '-include', compatHeader],
        libraries: [faissLib, '-lopenblas', '-llapack', '-lblas', '-fopenmp'],
      },
    ],
  };
  writeFileSync(path.join(faissDir, 'binding.gyp'), JSON.stringify(bindingGyp, null, 2));
  writeFileSync(
    path.join(faissDir, 'src/faiss-ddb.cc'),
    withFloat32Arrays(readFileSync(path.join(faissDir, 'src/faiss.cc'), 'utf8')),
  );

  const nodeGyp = npmNodeGyp();
  const command = nodeGyp ? [process.execPath, nodeGyp] : ['npx', '--no-install', 'node-gyp'];
  // The headers of the Node that runs this (Node's own tarball ships them in include/node,
  // Debian's nodejs in /usr/include/node); without --nodedir node-gyp would download them.
  // faiss-node is a Node-API addon, so the build also loads on later Node majors.
  const nodedir = [path.resolve(path.dirname(process.execPath), '..'), '/usr']
    .filter((dir) => existsSync(path.join(dir, 'include/node/node_api.h')))
    .slice(0, 1)
    .map((dir) => `--nodedir=${dir}`);
  log(`building faiss-node against ${faissLib} (node-addon-api ${addonApiVersion})`);
  const build = spawnSync(command[0], [...command.slice(1), 'rebuild', ...nodedir, '--jobs=max'], {
    cwd: faissDir,
    encoding: 'utf8',
  });
  // Only a failed build shows the compiler's output: faiss-node's source has warnings.
  if (build.status !== 0) throw new Error(`building faiss-node failed:\n${build.stdout}${build.stderr}`);
  writeFileSync(stampFile, stamp);
  return true;
}

/** The change to faiss-node's source: `add` and `train` take a Float32Array as well as a number[]. */
const FLOAT32_PATCH = {
  version: 1,
  /** A Float32Array argument handed to faiss in place, for `add` (faiss's add) or `train`. */
  branch: (call) => `    if (info.Length() == 1 && info[0].IsTypedArray() &&
        info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)
    {
      Napi::Float32Array typed = info[0].As<Napi::Float32Array>();
      size_t length = typed.ElementLength();
      if (length % index_->d != 0)
        throw Napi::Error::New(env, "Invalid the given array length.");
      index_->${call}(length / index_->d, typed.Data());
      return env.Undefined();
    }
`,
};

/**
 * faiss-node's source with {@link FLOAT32_PATCH}: in \`add\` and \`train\`, a Float32Array branch
 * before the number[] one. Throws when the source is not the one the patch was written for.
 * @param {string} source
 */
export function withFloat32Arrays(source) {
  let patched = source;
  for (const call of ['add', 'train']) {
    const head = `  Napi::Value ${call}(const Napi::CallbackInfo &info)\n  {\n    Napi::Env env = info.Env();\n\n`;
    if (patched.split(head).length !== 2) throw new Error(`faiss-node's source has no single ${call}() to patch`);
    patched = patched.replace(head, `${head}${FLOAT32_PATCH.branch(call)}`);
  }
  return patched;
}

/**
 * npm's own node-gyp: npm names it to the scripts it runs; otherwise it is in the npm beside
 * this Node (Node's tarball, the Lambda base image) or in the npm on PATH (Debian's).
 */
function npmNodeGyp() {
  const inNpm = (npmDir) => path.join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js');
  const candidates = [
    process.env.npm_config_node_gyp,
    inNpm(path.join(path.dirname(process.execPath), '../lib/node_modules/npm')),
  ];
  const npmOnPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (npmOnPath) candidates.push(inNpm(path.resolve(path.dirname(realpathSync(npmOnPath)), '..')));
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const faissLib = process.argv[2];
  if (!faissLib) {
    console.error('usage: node scripts/faiss-node-binding.js <libfaiss.a>');
    process.exit(2);
  }
  const started = Date.now();
  buildFaissNode({ root: process.cwd(), faissLib, log: (message) => console.log(`ddb-faiss: ${message}`) });
  console.log(`ddb-faiss: faiss-node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
