// Whether the compiled CLI (dist/cli/) is current: built after the last change to any source
// file it was compiled from. The build records those files (esbuild's inputs) beside itself,
// so the check stats exactly them. Shared by bin/ddb-faiss.js (which picks the build or the
// sources) and the scripts that rebuild it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUILD_DIR = path.join(root, 'dist/cli');
export const CLI_ENTRY = path.join(root, 'workflow/cli/main.ts');
export const CLI_BUILD = path.join(CLI_BUILD_DIR, 'main.mjs');
/** The build's record: when, and from which source files (relative to the checkout). */
export const CLI_BUILD_INFO = path.join(CLI_BUILD_DIR, 'build-info.json');

/** Whether dist/cli/ exists and is newer than every file it was built from (and package-lock.json). */
export function cliBuildIsCurrent() {
  if (!existsSync(CLI_BUILD_INFO)) return false;
  const built = statSync(CLI_BUILD_INFO).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(CLI_BUILD_INFO, 'utf8'));
  return ['package-lock.json', ...inputs].every((file) => {
    const full = path.join(root, file);
    return existsSync(full) && statSync(full).mtimeMs <= built;
  });
}
