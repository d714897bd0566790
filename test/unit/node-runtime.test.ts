/**
 * The project runs on the Node its dependencies declare: the pinned node-linux-* version
 * satisfies every installed package's "engines" (what `npm ci` checks; a miss is an EBADENGINE
 * warning), and the tests themselves run on it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';
// @ts-expect-error: a plain-JS install script, without type declarations
import { oldestNode, pinnedNode } from '../../scripts/node-runtime.js';
import { PROJECT_ROOT } from '../../config/project.ts';

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly engines?: { readonly node?: string };
}

/** Every package installed under node_modules (scoped ones included), with its manifest. */
function installedManifests(dir = path.join(PROJECT_ROOT, 'node_modules')): Manifest[] {
  const manifests: Manifest[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const folder = path.join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      manifests.push(...installedManifests(folder));
      continue;
    }
    const manifestFile = path.join(folder, 'package.json');
    if (existsSync(manifestFile)) manifests.push(JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest);
    const nested = path.join(folder, 'node_modules');
    if (existsSync(nested)) manifests.push(...installedManifests(nested));
  }
  return manifests;
}

describe('the Node runtime', () => {
  const pinned = (pinnedNode as () => { version: string; major: number })();

  it('satisfies the engines of every installed package (npm ci prints no EBADENGINE)', () => {
    // Act
    const unsupported = installedManifests()
      .filter((manifest) => manifest.engines?.node && semver.validRange(manifest.engines.node))
      .filter((manifest) => !semver.satisfies(pinned.version, manifest.engines?.node ?? '*'))
      .map((manifest) => `${manifest.name}@${manifest.version} (node ${manifest.engines?.node})`);
    // Assess
    assert.deepEqual(unsupported, []);
  });

  it("is the project's own engines range and the Node these tests run on", () => {
    // Prepare
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as Manifest;
    // Assess
    assert.ok(semver.satisfies(pinned.version, manifest.engines?.node ?? ''), `engines.node ${manifest.engines?.node}`);
    assert.equal(semver.major(process.version), pinned.major, `the tests run on ${process.version}`);
  });

  it('accepts a Node on PATH only from the engines range on (22.2: zlib.crc32)', () => {
    // Act
    const oldest = (oldestNode as () => [number, number])();
    // Assess: the range's own lower bound, and the Node these tests run on within it
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as Manifest;
    assert.equal(semver.minVersion(manifest.engines?.node ?? '')?.version, `${oldest.join('.')}.0`);
    assert.ok(semver.gte(process.version, `${oldest.join('.')}.0`));
  });
});
