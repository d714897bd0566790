/** Ways a disk or a careless hand damages a file, for the tests of a damaged index. */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';

/** Cuts the file to half its length. */
export const truncate = (file: string): void => truncateSync(file, Math.floor(readFileSync(file).length / 2));

/** Changes `length` bytes from `at` (a fraction of the file's length, 0 for its first byte). */
export const change =
  (at: number, length = 4096) =>
  (file: string): void => {
    const bytes = readFileSync(file);
    const start = Math.floor(Math.min(at * bytes.length, bytes.length - 1));
    for (let i = start; i < Math.min(bytes.length, start + length); i++) bytes[i] = bytes[i]! ^ 0xa5;
    writeFileSync(file, bytes);
  };

/** Replaces the file with text that is not what was written (not even whole JSON). */
export const garbage = (file: string): void => writeFileSync(file, '{"not": "what was written"');
