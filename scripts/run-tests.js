// Runs the test suite with node's test runner, one layer at a time, and prints each layer's
// time: unit (pure logic, no local stack), integration (local stacks on free ports), browser
// (the monitor in Chromium). Extra arguments are passed to `node --test`
// (e.g. `npm test -- --test-name-pattern=lease`); `--layer=unit` runs one layer.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAYERS = [
  { name: 'unit', dir: 'unit' },
  { name: 'integration', dir: 'integration' },
  { name: 'browser', dir: 'e2e' },
];
const only = process.argv.find((arg) => arg.startsWith('--layer='))?.slice('--layer='.length);
const passThrough = process.argv.slice(2).filter((arg) => !arg.startsWith('--layer='));

const testFiles = (dir) => {
  try {
    return readdirSync(path.join(root, 'test', dir))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => path.join(root, 'test', dir, f));
  } catch {
    return [];
  }
};

const timings = [];
let failed = false;
for (const layer of LAYERS.filter((candidate) => !only || candidate.name === only)) {
  const files = testFiles(layer.dir);
  if (files.length === 0) continue;
  console.log(`\n# ${layer.name} tests (${files.length} files)`);
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', '--test', '--test-reporter=spec', ...passThrough, ...files],
    { cwd: root, stdio: 'inherit' },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  timings.push(`${layer.name} ${seconds.toFixed(1)} s${result.status === 0 ? '' : ' (failed)'}`);
  if (result.status !== 0) failed = true;
}
console.log(`\ntime per layer: ${timings.join(', ')}`);
process.exit(failed ? 1 : 0);
