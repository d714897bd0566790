/**
 * Where the ddb-faiss checkout is: the nearest folder above this module holding ddb-faiss's
 * `package.json`. It is the same from the TypeScript sources and from the compiled CLI
 * (`dist/cli/`), so files the code reads beside its sources (the monitor page, the default
 * model's learned parameters) are found from either.
 *
 * @example
 * ```ts
 * const page = projectPath('workflow/monitor/index.html');
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    const name = existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name
      : undefined;
    if (name === 'ddb-faiss') return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..'); // not in a checkout (a Lambda bundle)
  }
}

/** The checkout's root folder. */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the checkout. */
export const projectPath = (relative: string): string => path.join(PROJECT_ROOT, relative);
