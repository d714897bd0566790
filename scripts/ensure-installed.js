// `npm start` and `npm test` call this first so that a fresh clone needs no other command:
// it installs Node 22 where the machine's Node is older (scripts/node-runtime.js), runs `npm ci`
// on it when node_modules is missing or older than package-lock.json (`npm ci`'s postinstall
// installs the Debian packages and builds faiss-node), and installs what the machine lacks: Java 17
// for the local DynamoDB (AWS's DynamoDB Local); with `--browser` (npm test), Debian's Chromium
// for the monitor's browser test.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliBuildIsCurrent } from './cli-build-state.js';
import { ensureNodeRuntime, npmCliScript } from './node-runtime.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lockFile = path.join(root, 'package-lock.json');
const installedLock = path.join(root, 'node_modules/.package-lock.json');

// Node 22 first: npm ci then checks the packages' engines against the Node that runs them.
const node = ensureNodeRuntime();
const stale = !existsSync(installedLock) || statSync(installedLock).mtimeMs < statSync(lockFile).mtimeMs;
if (stale) {
  console.log('ddb-faiss: installing dependencies (npm ci)...');
  const started = Date.now();
  execFileSync(node, [npmCliScript(), 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  console.log(`ddb-faiss: dependencies installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
if (!cliBuildIsCurrent()) {
  // The compiled CLI starts without transpiling; rebuild it when the sources changed (~0.1 s).
  execFileSync(process.execPath, [path.join(root, 'scripts/build-cli.js')], { cwd: root, stdio: 'inherit' });
}
// Every time, not only with npm ci: Java (for DynamoDB Local) may be missing from a checkout
// installed before it was needed. Idempotent and quick when everything is there: it asks dpkg
// and `java -version`, and runs apt only for what is missing. With --browser (npm test), Chromium too.
try {
  execFileSync(
    'bash',
    [path.join(root, 'scripts/install-system-deps.sh'), ...(process.argv.includes('--browser') ? ['--browser'] : [])],
    { cwd: root, stdio: 'inherit' },
  );
} catch (error) {
  // The script has said what is missing and the command that installs it: no stack trace.
  process.exit(error.status ?? 1);
}
