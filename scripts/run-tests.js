// Runs the test suite with node's test runner: unit tests, then integration tests (which
// start local stacks on free ports). Extra arguments are passed to `node --test`
// (e.g. `npm test -- --test-name-pattern=lease`).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = ['unit', 'integration', 'e2e']
  .map((dir) => path.join(root, 'test', dir))
  .flatMap((dir) => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f));
    } catch {
      return [];
    }
  });
const result = spawnSync(
  process.execPath,
  ['--openssl-legacy-provider', '--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
);
process.exit(result.status ?? 1);
