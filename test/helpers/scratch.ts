/**
 * Throwaway local stacks: a fresh temporary folder and a configuration on free ports, for
 * tests, benchmarks and the demo, so nothing collides with a stack the user runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DdbFaissConfig, loadConfig } from '../../config/config.ts';

/** Flags that let the OS pick every local port. */
export const FREE_PORTS = { 'dynamodb-port': '0', 's3-port': '0', 'sfn-port': '0', 'http-port': '0' } as const;

/** {@link FREE_PORTS} as command-line arguments: `--dynamodb-port 0 --s3-port 0 ...`. */
export const FREE_PORT_FLAGS: readonly string[] = Object.entries(FREE_PORTS).flatMap(([flag, value]) => [
  `--${flag}`,
  value,
]);

/** A fresh temporary folder and a function that removes it. */
export function tempDir(prefix = 'ddb-faiss-test-'): { path: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A configuration for a stack in `dataDir` on free ports, ignoring the environment. */
export function freePortConfig(dataDir: string, flags: Record<string, string> = {}): DdbFaissConfig {
  return loadConfig({ flags: { ...FREE_PORTS, 'data-dir': dataDir, ...flags }, env: {} });
}
