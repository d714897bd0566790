/**
 * A key map read a page at a time, as a search opens a segment: it answers every lookup exactly as
 * the key map read whole, opening it reads only its first pages, and a damaged page is an
 * IndexDamagedError naming the file and the page at the lookup that reads it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ItemRows } from '../../index-store/index-entry.ts';
import { IndexDamagedError } from '../../index-store/integrity.ts';
import { BufferSource, type ByteSource, PAGE_BYTES, PagedFile, pageChecksums } from '../../index-store/paged-file.ts';
import { byGroup, encodeSegmentKeys, SegmentKeys } from '../../index-store/segment-keys.ts';
import { tempDir } from '../helpers/scratch.ts';

/** Bytes in memory that note which pages are read and which announced ({@link ByteSource.willNeed}). */
class PageLog implements ByteSource {
  readonly read = new Set<number>();
  readonly announced = new Set<number>();
  private readonly bytesIn: BufferSource;
  constructor(bytes: Uint8Array) {
    this.bytesIn = new BufferSource(bytes);
  }
  get byteLength(): number {
    return this.bytesIn.byteLength;
  }
  u32(at: number): number {
    this.read.add(Math.floor(at / PAGE_BYTES));
    return this.bytesIn.u32(at);
  }
  f64(at: number): number {
    this.read.add(Math.floor(at / PAGE_BYTES));
    return this.bytesIn.f64(at);
  }
  bytes(at: number, length: number): Uint8Array {
    for (let p = Math.floor(at / PAGE_BYTES); p <= Math.floor((at + length - 1) / PAGE_BYTES); p++) this.read.add(p);
    return this.bytesIn.bytes(at, length);
  }
  willNeed(at: readonly number[]): void {
    for (const offset of at) this.announced.add(Math.floor(offset / PAGE_BYTES));
  }
  close(): void {}
}

/** 3,000 items in 7 groups, one to three passages each, ids of one to three bytes a character. */
const ITEMS: ItemRows[] = Array.from({ length: 3_000 }, (_, i) => ({
  entry: { group: `g${i % 7}`, id: `item-${i}${'é€'.repeat(i % 3)}`, version: 1_000 + i },
  passages: Array.from({ length: 1 + (i % 3) }, (_, p): readonly [number, number] => [p * 10, p * 10 + 9]),
})).sort((a, b) => byGroup(a.entry, b.entry));

describe('a key map read a page at a time', () => {
  const dir = tempDir();
  after(() => dir.remove());
  const bytes = encodeSegmentKeys(ITEMS);
  const file = 'keys.bin';
  writeFileSync(path.join(dir.path, file), bytes);
  const open = (sums = pageChecksums(bytes)) => {
    const source = PagedFile.open(dir.path, file, bytes.byteLength, sums);
    return { source, keys: SegmentKeys.open(source) };
  };

  it('answers every lookup as the key map read whole, having read only its first pages to open', () => {
    // Prepare
    const whole = SegmentKeys.decode(bytes);
    // Act
    const { source, keys } = open();
    const pagesToOpen = source.pagesRead;
    // Assess
    assert.ok(bytes.byteLength > 40 * PAGE_BYTES, `a key map of ${bytes.byteLength} bytes spans many pages`);
    assert.ok(pagesToOpen <= 2, `opening read ${pagesToOpen} pages`);
    assert.deepEqual([keys.rows, keys.items, keys.groupNames], [whole.rows, whole.items, whole.groupNames]);
    for (let row = 0; row < whole.rows; row++) {
      assert.deepEqual(keys.entry(row), whole.entry(row));
      assert.deepEqual(keys.passage(row), whole.passage(row));
      assert.equal(keys.firstRow(row), whole.firstRow(row));
    }
    for (const { entry } of ITEMS) {
      const first = whole.find(entry.group, entry.id);
      assert.equal(keys.find(entry.group, entry.id), first);
      assert.deepEqual(keys.itemAt(first), whole.itemAt(first));
    }
    for (const group of whole.groupNames) assert.deepEqual(keys.groupRange(group), whole.groupRange(group));
    assert.equal(keys.find('g1', 'item-absent'), -1);
    source.close();
  });

  it('names a damaged page at the lookup that reads it, and answers the lookups that do not', () => {
    // Prepare: one byte of the last page (the hash table's slots) changed
    const whole = SegmentKeys.decode(bytes);
    const damaged = bytes.slice();
    const lastPage = Math.floor((bytes.byteLength - 1) / PAGE_BYTES);
    damaged[lastPage * PAGE_BYTES] = damaged[lastPage * PAGE_BYTES]! ^ 0xff;
    writeFileSync(path.join(dir.path, file), damaged);
    try {
      // Act
      const { source, keys } = open(pageChecksums(bytes));
      const outcomes = ITEMS.map(({ entry }) => {
        try {
          return keys.find(entry.group, entry.id) === whole.find(entry.group, entry.id) ? 'right' : 'wrong';
        } catch (error) {
          const named = error instanceof IndexDamagedError && error.file === file;
          return named && new RegExp(`^page ${lastPage} .*does not match its checksum`).test(error.problem)
            ? 'damage named'
            : String(error);
        }
      });
      // Assess: the lookups probing a slot of the last page fail, naming it; the others answer right
      assert.deepEqual([...new Set(outcomes)].sort(), ['damage named', 'right']);
      source.close();
    } finally {
      writeFileSync(path.join(dir.path, file), bytes);
    }
  });

  it('refuses a file of another size than its manifest says, or checksums that do not cover it', () => {
    assert.throws(
      () => PagedFile.open(dir.path, file, bytes.byteLength + 8, pageChecksums(bytes)),
      /is [\d,]+ bytes; its manifest says [\d,]+ bytes/,
    );
    assert.throws(() => PagedFile.open(dir.path, file, bytes.byteLength, new Uint8Array(8)), /page checksums for/);
  });

  it('announces every page the entries and passages of some rows will read, before reading them', () => {
    // Prepare: two maps read a page at a time, several passages an item, rows far apart
    const logs = [new PageLog(bytes), new PageLog(bytes)];
    const maps = logs.map((log) => SegmentKeys.open(log));
    const rows = [
      [3, 2_100, 4_500, 5_999],
      [17, 3_333],
    ];
    logs.forEach((log) => log.read.clear());
    // Act
    SegmentKeys.willReadEntries(maps.map((keys, i) => [keys, rows[i]!] as const));
    const readToAnnounce = logs.map((log) => new Set(log.read));
    logs.forEach((log) => log.read.clear());
    rows.forEach((some, i) => some.forEach((row) => [maps[i]!.entry(row), maps[i]!.passage(row)]));
    // Assess: what the entries read was announced; announcing read only what a later round needed
    logs.forEach((log, i) => {
      const unannounced = [...log.read].filter((page) => !log.announced.has(page));
      assert.deepEqual(unannounced, [], `map ${i} read pages it did not announce`);
      assert.ok([...readToAnnounce[i]!].every((page) => log.announced.has(page)));
      assert.ok(log.read.size >= 3 * rows[i]!.length, `map ${i} read ${log.read.size} pages`);
    });
  });

  it('reads no page to find the item of a row when every item has one passage', () => {
    // Prepare: 50,000 items of one passage each, so that each section spans many pages
    const single = encodeSegmentKeys(
      Array.from({ length: 50_000 }, (_, i) => ({
        entry: { group: 'g', id: `item-${i}`, version: i },
        passages: [[0, 5] as const],
      })),
    );
    const log = new PageLog(single);
    const keys = SegmentKeys.open(log);
    const whole = SegmentKeys.decode(single);
    log.read.clear();
    // Act
    const answers = [keys.entry(25_000), keys.passage(25_000), keys.firstRow(25_000), keys.itemRows(25_000)];
    // Assess: the id's offsets, its bytes, the version and the span: four pages, none for row to item
    assert.deepEqual(answers, [whole.entry(25_000), whole.passage(25_000), 25_000, [25_000, 25_001]]);
    assert.equal(log.read.size, 4, `read pages ${[...log.read].join(', ')}`);
  });

  it('announces to the kernel only pages it does not keep and that the file has, reading none', () => {
    const { source, keys } = open();
    const kept = source.pagesRead;
    keys.entry(0);
    const read = source.pagesRead;
    source.willNeed([0, PAGE_BYTES * 9 + 5, PAGE_BYTES * 9 + 9, bytes.byteLength + PAGE_BYTES, -4]);
    assert.equal(source.pagesRead, read);
    assert.equal(source.pagesAnnounced, 1, `kept ${kept} pages, announced ${source.pagesAnnounced}`);
    source.close();
  });
});
