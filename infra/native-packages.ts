/**
 * The native packages the Lambda image installs, derived from the project's lockfile: the
 * bundle's external packages (`EXTERNAL_PACKAGES`), node-addon-api (faiss-node's build uses
 * the project's), and everything they depend on, at exactly the versions and integrity hashes
 * `npm ci` installs here. Written as a package.json and package-lock.json for the image's
 * `npm ci --ignore-scripts` (infra/lambda-image/Dockerfile).
 *
 * @example
 * ```ts
 * const { manifest, lockfile } = nativePackages();
 * console.log(Object.keys(lockfile.packages)); // ['', 'node_modules/faiss-node', ...]
 * ```
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/project.ts';
import { EXTERNAL_PACKAGES } from './bundle.ts';

// The checkout, found the same from the sources and from the compiled CLI (dist/cli/), which
// `ddb-faiss deploy` runs: a path relative to this module's own file would point into dist/.
const REPO_ROOT = PROJECT_ROOT;
/** Build-time packages of the image besides the externals. */
const BUILD_PACKAGES = ['node-addon-api'];

interface LockEntry {
  readonly version: string;
  readonly resolved?: string;
  readonly integrity?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

export interface Lockfile {
  readonly name: string;
  readonly lockfileVersion: 3;
  readonly requires: true;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/** The lockfile path Node would find `name` at from the package at `from` (`''` = the root). */
function locate(packages: Readonly<Record<string, LockEntry>>, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, '')) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
  }
}

/**
 * The image's package.json and lockfile: the native packages and their dependency closure,
 * each entry as the project's lockfile has it.
 * @throws when a package or a dependency is missing from the project's lockfile
 */
export function nativePackages(lockfilePath = path.join(REPO_ROOT, 'package-lock.json')): {
  manifest: { name: string; private: true; type: 'module'; dependencies: Record<string, string> };
  lockfile: Lockfile;
} {
  const project = JSON.parse(readFileSync(lockfilePath, 'utf8')) as { packages: Record<string, LockEntry> };
  const roots = [...EXTERNAL_PACKAGES, ...BUILD_PACKAGES];
  const chosen = new Map<string, LockEntry>();
  const visit = (at: string) => {
    if (chosen.has(at)) return;
    const entry = project.packages[at]!;
    // The flags describe the project's tree (dev, optional, peer); here every one is a runtime package.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, optional: _optional, ...kept } = entry;
    chosen.set(at, kept as LockEntry);
    for (const dependency of Object.keys({ ...entry.dependencies })) {
      const found = locate(project.packages, at, dependency);
      if (!found) throw new Error(`${at} depends on ${dependency}, which package-lock.json does not hold`);
      visit(found);
    }
  };
  const dependencies: Record<string, string> = {};
  for (const name of roots) {
    const at = `node_modules/${name}`;
    if (!project.packages[at]) throw new Error(`package-lock.json has no ${name}`);
    dependencies[name] = project.packages[at].version;
    visit(at);
  }
  const name = 'ddb-faiss-lambda-native';
  const sorted = [...chosen.entries()].sort(([a], [b]) => a.localeCompare(b));
  return {
    // The build scripts run beside it (scripts/faiss-node-binding.js) are ES modules.
    manifest: { name, private: true, type: 'module', dependencies },
    lockfile: {
      name,
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name, version: '0.0.0', dependencies }, ...Object.fromEntries(sorted) },
    },
  };
}

/** Writes them into `dir` (the image's build context has them where the Dockerfile copies them from). */
export function writeNativePackages(dir: string): string {
  const { manifest, lockfile } = nativePackages();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);
  return dir;
}
