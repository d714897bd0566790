// Whether the compiled CLI (dist/cli/) is current: built after the last change to any source
// file the CLI can load. Shared by bin/ddb-faiss.js (which picks the build or the sources) and
// the scripts that rebuild it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUILD_DIR = path.join(root, 'dist/cli');
export const CLI_ENTRY = path.join(root, 'workflow/cli/main.ts');
export const CLI_BUILD = path.join(CLI_BUILD_DIR, 'main.mjs');
/** The folders whose TypeScript the CLI bundles (everything but tests, bench, infra and scripts). */
const SOURCE_DIRS = [
  'asl',
  'aws',
  'config',
  'embedding',
  'index-store',
  'indexer',
  'local-stack',
  'models',
  'search',
  'table',
  'tasks',
  'workflow',
];

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Whether dist/cli/ exists and is newer than every source file (and package-lock.json). */
export function cliBuildIsCurrent() {
  if (!existsSync(CLI_BUILD)) return false;
  const built = statSync(CLI_BUILD).mtimeMs;
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(lock) && statSync(lock).mtimeMs > built) return false;
  return SOURCE_DIRS.every((dir) => !existsSync(path.join(root, dir)) || newestSource(path.join(root, dir)) <= built);
}
