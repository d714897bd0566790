// Runs after `npm install` / `npm ci`. It makes the two native pieces work offline:
//  1. Debian's libfaiss-dev + libopenblas-dev (installed when missing);
//  2. faiss-node compiled in place with node-gyp (scripts/faiss-node-binding.js) against faiss
//     1.7.3 built with AVX2 (scripts/build-faiss.sh), else Debian's generic build of it.
// faiss-node's own install script is blocked in package.json ("allowScripts"): it would
// download a prebuilt binary or git-clone faiss, and this machine has no internet.
// onnxruntime-node's script is blocked too: it only downloads a CUDA add-on we do not use.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFaissNode } from './faiss-node-binding.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => console.log(`ddb-faiss postinstall: ${message}`);

// The CLI, compiled once so it starts without transpiling (dist/cli/).
execFileSync(process.execPath, [path.join(root, 'scripts/build-cli.js')], { cwd: root, stdio: 'inherit' });

if (process.env.DDB_FAISS_SKIP_NATIVE_BUILD === '1') {
  log('skipping native build (DDB_FAISS_SKIP_NATIVE_BUILD=1)');
  process.exit(0);
}

execFileSync('bash', [path.join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });

// Debian's libfaiss.a is a generic build; the same source built with AVX2 searches ~7x
// faster. scripts/build-faiss.sh builds it once (cached) where the CPU has AVX2; the Lambda
// image builds the same source with the same script.
const avx2 = spawnSync('bash', [path.join(root, 'scripts/build-faiss.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const faissLib = (avx2.status === 0 && avx2.stdout.trim()) || '/usr/lib/x86_64-linux-gnu/libfaiss.a';
const started = Date.now();
try {
  if (!buildFaissNode({ root, faissLib, log })) log('faiss-node already built');
  else log(`faiss-node built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`ddb-faiss postinstall: ${error.message}`);
  process.exit(1);
}
