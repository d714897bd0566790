/**
 * The cost bench's EFS byte counter (`bench/efs-io.ts`): the file calls the stages make, counted
 * only under the EFS folder, through the names modules imported from `node:fs`, until stopped.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { describe, it } from 'node:test';
import { countEfsBytes } from '../../bench/efs-io.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('the EFS byte counter', () => {
  it('counts what is read and written under the folder, by every kind of call, and nothing else', async () => {
    // Prepare
    const dir = tempDir();
    const efs = path.join(dir.path, 'efs');
    mkdirSync(efs);
    const outside = path.join(dir.path, 'outside.bin');
    const counter = countEfsBytes(efs);
    try {
      // Act
      writeFileSync(path.join(efs, 'a.bin'), Buffer.alloc(1000));
      writeFileSync(outside, Buffer.alloc(5000));
      const fd = openSync(path.join(efs, 'b.bin'), 'w');
      writeSync(fd, Buffer.alloc(300));
      closeSync(fd);
      readFileSync(path.join(efs, 'a.bin'));
      readFileSync(outside);
      const rd = openSync(path.join(efs, 'b.bin'), 'r');
      readSync(rd, Buffer.alloc(100), 0, 100, 0);
      closeSync(rd);
      const stream = createReadStream(path.join(efs, 'a.bin'));
      stream.resume();
      await once(stream, 'close');
      const counted = { read: counter.read, written: counter.written };
      counter.stop();
      writeFileSync(path.join(efs, 'c.bin'), Buffer.alloc(700));
      // Assess
      assert.deepEqual(counted, { read: 1000 + 100 + 1000, written: 1000 + 300 });
      assert.equal(counter.written, 1300, 'nothing counted once stopped');
    } finally {
      counter.stop();
      dir.remove();
    }
  });
});
