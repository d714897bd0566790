// What `npm run bench:peers` uses of LanceDB's Node SDK (0.31.0), typed here: the SDK is installed
// by the bench on first use into .cache/peers (it is no dependency of the project), so its own
// types are not there when the project is type-checked. And the probe's command protocol.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** LanceDB's version the bench runs: newer releases are not installable here. */
export const LANCEDB_VERSION = '0.31.0';

export interface LanceQuery {
  distanceType(type: 'cosine'): LanceQuery;
  limit(k: number): LanceQuery;
  select(columns: string[]): LanceQuery;
  nprobes(n: number): LanceQuery;
  refineFactor(n: number): LanceQuery;
  ef(n: number): LanceQuery;
  toArray(): Promise<Record<string, unknown>[]>;
}

export interface LanceTable {
  add(rows: Record<string, unknown>[]): Promise<unknown>;
  createIndex(column: string, options: { config: unknown }): Promise<void>;
  countRows(): Promise<number>;
  vectorSearch(vector: number[]): LanceQuery;
  mergeInsert(on: string): {
    whenMatchedUpdateAll(): {
      whenNotMatchedInsertAll(): { execute(rows: Record<string, unknown>[]): Promise<unknown> };
    };
  };
  optimize(): Promise<unknown>;
}

export interface LanceConnection {
  createTable(name: string, rows: Record<string, unknown>[], options: { mode: 'overwrite' }): Promise<LanceTable>;
  openTable(name: string): Promise<LanceTable>;
}

export interface LanceModule {
  connect(uri: string): Promise<LanceConnection>;
  Index: {
    ivfPq(options: { distanceType: 'cosine'; numSubVectors: number }): unknown;
    hnswSq(options: { distanceType: 'cosine' }): unknown;
  };
}

/** A LanceDB search setting (unset: LanceDB's default). */
export interface PeerSetting {
  readonly nprobes?: number;
  readonly refineFactor?: number;
  readonly ef?: number;
}

/** A command to a probe (see bench/peers-probe.ts). */
export type PeerCommand =
  | { readonly op: 'build'; readonly rows: number }
  | { readonly op: 'open' }
  | { readonly op: 'tune'; readonly setting: PeerSetting }
  | { readonly op: 'search'; readonly query: number }
  | { readonly op: 'add'; readonly from: number; readonly to: number }
  | { readonly op: 'replace'; readonly ids: readonly number[]; readonly from: number }
  | { readonly op: 'optimize' }
  | { readonly op: 'stats' };

/**
 * The path of LanceDB's module, installed into `<root>/.cache/peers` on first use (npm, with its
 * native package for this platform, and apache-arrow, its peer).
 */
export function ensureLanceDb(root: string): string {
  const prefix = path.join(root, '.cache/peers');
  const entry = path.join(prefix, 'node_modules/@lancedb/lancedb/dist/index.js');
  if (!existsSync(entry)) {
    console.log(`installing @lancedb/lancedb@${LANCEDB_VERSION} into .cache/peers (once)...`);
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-audit',
        '--no-fund',
        `@lancedb/lancedb@${LANCEDB_VERSION}`,
        'apache-arrow@18.1.0',
      ],
      { stdio: 'inherit' },
    );
  }
  return entry;
}
