/**
 * Crash-safe file publication, the one write-then-rename helper of ddb-faiss (index
 * generations, run files, model bundles, the local engine's records, the local stack's
 * description): write to a temporary name, fsync, rename over the target, fsync the folder.
 * A reader sees the old file or the new one, never a partial one.
 *
 * @example
 * ```ts
 * writeFileAtomic('/mnt/efs/index/CURRENT.json', JSON.stringify({ generation: 7 }));
 * ```
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Flushes a file or folder to stable storage. */
export function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `file` durably and atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${randomUUID()}`;
  const fd = openSync(temp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let offset = 0;
    while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  fsyncPath(path.dirname(file));
}

/**
 * Replaces a folder with a fully written one: a reader of the target sees the old folder, no
 * folder, or the new one. For caches a single writer owns (bundles built or fetched here).
 */
export function replaceDirectory(staging: string, target: string): void {
  mkdirSync(path.dirname(target), { recursive: true });
  rmSync(target, { recursive: true, force: true });
  publishDirectory(staging, target);
}

/** Renames a fully written folder into place and makes the rename durable. */
export function publishDirectory(staging: string, target: string): void {
  renameSync(staging, target);
  fsyncPath(path.dirname(target));
}
