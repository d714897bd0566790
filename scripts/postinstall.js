// Runs after `npm install` / `npm ci`. It makes the two native pieces work offline:
//  1. Debian's libfaiss-dev + libopenblas-dev (installed when missing);
//  2. faiss-node compiled in place against that system faiss with node-gyp.
// faiss-node's own install script is blocked in package.json ("allowScripts"): it would
// download a prebuilt binary or git-clone faiss, and this machine has no internet.
// onnxruntime-node's script is blocked too: it only downloads a CUDA add-on we do not use.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const log = (message) => console.log(`ddb-faiss postinstall: ${message}`);

// The CLI, compiled once so it starts without transpiling (dist/cli/).
execFileSync(process.execPath, [path.join(root, 'scripts/build-cli.js')], { cwd: root, stdio: 'inherit' });

if (process.env.DDB_FAISS_SKIP_NATIVE_BUILD === '1') {
  log('skipping native build (DDB_FAISS_SKIP_NATIVE_BUILD=1)');
  process.exit(0);
}

execFileSync('bash', [path.join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });

const faissDir = path.dirname(require.resolve('faiss-node/package.json'));
const addonApiDir = path.dirname(require.resolve('node-addon-api/package.json'));
const addonApiVersion = JSON.parse(readFileSync(path.join(addonApiDir, 'package.json'), 'utf8')).version;
// Debian's libfaiss.a is a generic build; the same source built with AVX2 searches ~7x
// faster. scripts/build-faiss-avx2.sh builds it once (cached) where the CPU has AVX2.
const avx2 = spawnSync('bash', [path.join(root, 'scripts/build-faiss-avx2.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const avx2Lib = avx2.status === 0 ? avx2.stdout.trim() : '';
const faissLib = avx2Lib || '/usr/lib/x86_64-linux-gnu/libfaiss.a';
const simdFlags = avx2Lib ? ['-mavx2', '-mfma', '-mf16c', '-mpopcnt'] : [];

const addon = path.join(faissDir, 'build/Release/faiss-node.node');
const stampFile = path.join(faissDir, 'build/ddb-faiss-build.json');
const stamp = JSON.stringify({ node: process.versions.modules, addonApiVersion, faissLib });

if (existsSync(addon) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
  log('faiss-node already built');
  process.exit(0);
}

// faiss 1.7.3 (Debian bookworm) spells the label type faiss::Index::idx_t; faiss-node's
// source uses faiss::idx_t (1.7.4+). A header forced in with -include adds the alias.
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

// node-addon-api 8 with C++ exceptions: faiss errors become JS exceptions instead of
// aborting the process (faiss-node's default node-addon-api 6 aborts on some of them).
const bindingGyp = {
  targets: [
    {
      target_name: 'faiss-node',
      sources: ['src/faiss.cc'],
      include_dirs: [addonApiDir],
      defines: ['NAPI_VERSION=8', 'NODE_ADDON_API_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      cflags_cc: ['-std=c++17', '-fexceptions', '-frtti', '-O3', '-fopenmp', ...simdFlags, '-include', compatHeader],
      libraries: [faissLib, '-lopenblas', '-llapack', '-lblas', '-fopenmp'],
    },
  ],
};
writeFileSync(path.join(faissDir, 'binding.gyp'), JSON.stringify(bindingGyp, null, 2));

// npm's own node-gyp: npm names it to the scripts it runs; beside the Node binary otherwise.
const nodeGyp =
  process.env.npm_config_node_gyp ??
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const nodeGypCommand = existsSync(nodeGyp) ? [process.execPath, nodeGyp] : ['npx', '--no-install', 'node-gyp'];
// The headers of the Node that runs this script (the node-linux-* package ships them in
// include/node, Debian's nodejs in /usr/include/node); without --nodedir node-gyp would try to
// download them. faiss-node is a Node-API addon, so the build also loads on later Node majors.
const nodedir = [path.resolve(path.dirname(process.execPath), '..'), '/usr']
  .filter((dir) => existsSync(path.join(dir, 'include/node/node_api.h')))
  .slice(0, 1)
  .map((dir) => `--nodedir=${dir}`);
const faissBuild = avx2Lib ? 'faiss with AVX2' : "Debian's libfaiss";
log(`building faiss-node against ${faissBuild} (node-addon-api ${addonApiVersion})`);
const started = Date.now();
const build = spawnSync(nodeGypCommand[0], [...nodeGypCommand.slice(1), 'rebuild', ...nodedir, '--jobs=max'], {
  cwd: faissDir,
  encoding: 'utf8',
});
if (build.status !== 0) {
  // Only a failed build shows the compiler's output: faiss-node's source has warnings.
  process.stderr.write(build.stdout + build.stderr);
  console.error('ddb-faiss postinstall: building faiss-node failed (see above)');
  process.exit(1);
}
writeFileSync(stampFile, stamp);
log(`faiss-node built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
