/**
 * Bytes read from and written to the EFS folder while a bench runs, counted at the file calls the
 * stages make (EFS with Elastic throughput bills every byte read and written). Node's `fs`
 * functions are wrapped for the bench's process only, and `syncBuiltinESMExports` makes modules
 * that imported them by name see the wrappers. Reads made by native code (onnxruntime loading
 * `model.onnx`) do not pass through `fs`: the cost bench adds the model's size per cold start.
 *
 * @example
 * ```ts
 * const efs = countEfsBytes(config.efsRoot);
 * await run();
 * console.log(efs.read, efs.written);
 * efs.stop();
 * ```
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

/** The counts so far; `stop` puts `fs` back as it was. */
export interface EfsBytes {
  readonly read: number;
  readonly written: number;
  reset(): void;
  stop(): void;
}

type Patched =
  | 'openSync'
  | 'closeSync'
  | 'readSync'
  | 'writeSync'
  | 'readFileSync'
  | 'writeFileSync'
  | 'createReadStream'
  | 'createWriteStream';

const byteLength = (data: unknown): number =>
  typeof data === 'string' ? Buffer.byteLength(data) : ArrayBuffer.isView(data) ? data.byteLength : 0;

export function countEfsBytes(root: string): EfsBytes {
  const prefix = path.resolve(root) + path.sep;
  const under = (file: unknown): boolean =>
    (typeof file === 'string' || file instanceof URL) &&
    path.resolve(String(file instanceof URL ? file.pathname : file)).startsWith(prefix);
  const fds = new Set<number>();
  let read = 0;
  let written = 0;
  // readFileSync and writeFileSync open, read and write through the fs functions patched here: the
  // bytes are counted once, by the outer call.
  let inWholeFileCall = 0;
  const whole = <T>(call: () => T): T => {
    inWholeFileCall += 1;
    try {
      return call();
    } finally {
      inWholeFileCall -= 1;
    }
  };
  const original = {
    openSync: fs.openSync,
    closeSync: fs.closeSync,
    readSync: fs.readSync,
    writeSync: fs.writeSync,
    readFileSync: fs.readFileSync,
    writeFileSync: fs.writeFileSync,
    createReadStream: fs.createReadStream,
    createWriteStream: fs.createWriteStream,
  } satisfies Record<Patched, unknown>;
  const patches: { [K in Patched]: (typeof fs)[K] } = {
    openSync: ((file: fs.PathLike, ...rest: unknown[]) => {
      const fd = (original.openSync as (...args: unknown[]) => number)(file, ...rest);
      if (inWholeFileCall === 0 && under(file)) fds.add(fd);
      return fd;
    }) as typeof fs.openSync,
    closeSync: ((fd: number) => {
      fds.delete(fd);
      original.closeSync(fd);
    }) as typeof fs.closeSync,
    readSync: ((fd: number, ...rest: unknown[]) => {
      const bytes = (original.readSync as (...args: unknown[]) => number)(fd, ...rest);
      if (inWholeFileCall === 0 && fds.has(fd)) read += bytes;
      return bytes;
    }) as typeof fs.readSync,
    writeSync: ((fd: number, ...rest: unknown[]) => {
      const bytes = (original.writeSync as (...args: unknown[]) => number)(fd, ...rest);
      if (inWholeFileCall === 0 && fds.has(fd)) written += bytes;
      return bytes;
    }) as typeof fs.writeSync,
    readFileSync: ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      const data = whole(() => (original.readFileSync as (...args: unknown[]) => unknown)(file, ...rest));
      if (under(file) || (typeof file === 'number' && fds.has(file))) read += byteLength(data);
      return data;
    }) as typeof fs.readFileSync,
    writeFileSync: ((file: fs.PathOrFileDescriptor, data: unknown, ...rest: unknown[]) => {
      whole(() => (original.writeFileSync as (...args: unknown[]) => void)(file, data, ...rest));
      if (under(file) || (typeof file === 'number' && fds.has(file))) written += byteLength(data);
    }) as typeof fs.writeFileSync,
    createReadStream: ((file: fs.PathLike, ...rest: unknown[]) => {
      const stream = (original.createReadStream as (...args: unknown[]) => fs.ReadStream)(file, ...rest);
      if (under(file)) stream.on('data', (chunk) => (read += byteLength(chunk)));
      return stream;
    }) as typeof fs.createReadStream,
    createWriteStream: ((file: fs.PathLike, ...rest: unknown[]) => {
      const stream = (original.createWriteStream as (...args: unknown[]) => fs.WriteStream)(file, ...rest);
      if (under(file)) stream.on('close', () => (written += stream.bytesWritten));
      return stream;
    }) as typeof fs.createWriteStream,
  };
  Object.assign(fs, patches);
  syncBuiltinESMExports();
  return {
    get read() {
      return read;
    },
    get written() {
      return written;
    },
    reset() {
      read = 0;
      written = 0;
    },
    stop() {
      Object.assign(fs, original);
      syncBuiltinESMExports();
    },
  };
}
