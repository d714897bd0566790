/**
 * The compiled CLI (dist/cli/, built at install time): `ddb-faiss` runs it while it is newer
 * than every source file, loads each command's code only when that command runs, and falls
 * back to the sources through tsx once a source file changes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/local-stack.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin/ddb-faiss.js'), ...args], { cwd: root, encoding: 'utf8' });

describe('the compiled CLI', () => {
  const dir = tempDir();
  before(() => {
    const built = spawnSync(process.execPath, [path.join(root, 'scripts/build-cli.js')], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
  });
  after(() => dir.remove());

  it('runs from dist/cli once built: help, version, and a command loaded on demand', () => {
    // Act
    const version = cli('--version');
    const help = cli('--help');
    const status = cli('status', '--data-dir', dir.path);
    // Assess
    assert.match(version.stdout, /^ddb-faiss \d+\.\d+\.\d+ \(compiled, dist\/cli\)/);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^ {2}status {10}show the index/m);
    assert.equal(status.status, 1);
    assert.match(status.stderr, /no local stack is running for data directory/);
  });

  it('deploy --dry-run works from the compiled CLI, as users run it: the plan, exit code 0', () => {
    // Act: the bundler and the image's files are found from dist/cli/ as from the sources
    const plan = cli('deploy', '--dry-run', '--data-dir', dir.path);
    // Assess
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /stack DdbFaiss, synthesized offline; nothing was deployed/);
    assert.match(plan.stdout, /\n {2}batchSize +\d+ {2}\(default\)\n/);
    assert.match(plan.stdout, /AWS::StepFunctions::StateMachine +1 /);
    assert.doesNotMatch(plan.stderr, /Could not resolve|\n\s+at /);
  });

  it('falls back to the sources when one is newer than the build', () => {
    // Prepare: a source file edited after the build
    const source = path.join(root, 'workflow/cli/main.ts');
    const { atime, mtime } = statSync(source);
    utimesSync(source, atime, new Date(Date.now() + 60_000));
    try {
      // Act
      const version = cli('--version');
      // Assess
      assert.match(version.stdout, /\(from source, via tsx\)/);
    } finally {
      utimesSync(source, atime, mtime);
    }
    assert.match(cli('--version').stdout, /\(compiled, dist\/cli\)/, 'current again once the edit is undone');
  });
});
