/**
 * A segment's key map in one binary file (`keys.bin`), read without parsing: the item of each
 * row, each group's run of rows (a segment's rows are sorted by group, so a group is one
 * contiguous range), the passages of each item (an item's rows are contiguous: one per passage
 * of its content), and an open-addressing hash table from key to the item's first row. Loading a
 * million keys is one file read and a few typed-array views; looking a key up is a probe or two.
 *
 * Layout (little-endian; every section starts on an 8-byte boundary):
 *
 *   header      magic "DDBK", format, rows, items, groups, slots (u32 each), then 10 section offsets (u32)
 *   groups      rows where each group starts: u32 x (groups + 1)
 *   names       offsets of each group name: u32 x (groups + 1), then the UTF-8 names
 *   ids         offsets of each item's id: u32 x (items + 1), then the UTF-8 ids
 *   versions    f64 x items
 *   itemStarts  the first row of each item: u32 x (items + 1)
 *   rowItems    the item of each row: u32 x rows
 *   spans       each row's passage, characters [start, end) of the content: u32 x 2 x rows
 *   slots       u32 x slots: item + 1, or 0 for an empty slot
 *
 * @example
 * ```ts
 * const bytes = encodeSegmentKeys([{ entry: { group: 'g', id: 'a', version: 1 }, passages: [[0, 12]] }]);
 * const keys = SegmentKeys.decode(bytes);
 * keys.find('g', 'a'); // 0 (its first row)
 * keys.entry(0);       // { group: 'g', id: 'a', version: 1 }
 * ```
 */
import { align8, encodeStrings } from './binary-sections.ts';
import type { IndexEntry, ItemRows } from './index-entry.ts';
import { BufferSource, type ByteSource } from './paged-file.ts';

const MAGIC = 0x4b424444; // "DDBK"
const FORMAT = 2;
const HEADER_WORDS = 6 + 10;
/** Format 1 (one row per item): magic, format, rows, groups, slots, then 7 section offsets. */
const FORMAT_1_HEADER_WORDS = 5 + 7;

/** Thrown when a key file is not one this code wrote. */
export class SegmentKeysFormatError extends Error {
  override readonly name = 'SegmentKeysFormatError';
}

/** 32-bit FNV-1a of a key's UTF-16 code units: the same string always lands in the same slot. */
export function hashKey(group: string, id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) hash = Math.imul(hash ^ group.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0, 0x01000193);
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Slots of the hash table: a power of two at least twice the rows, so probes stay short. */
const slotCount = (rows: number): number => 2 ** Math.ceil(Math.log2(Math.max(2, rows * 2)));

/** Compares two items by group, the order of a segment's rows. */
export const byGroup = (a: Pick<IndexEntry, 'group'>, b: Pick<IndexEntry, 'group'>): number =>
  a.group < b.group ? -1 : a.group > b.group ? 1 : 0;

/**
 * Encodes the key map of a segment whose rows hold these items' passages, in this order.
 * @throws when the items are not sorted by group, or a key appears twice
 */
export function encodeSegmentKeys(items: readonly ItemRows[]): Uint8Array {
  const count = items.length;
  const rows = items.reduce((sum, item) => sum + item.passages.length, 0);
  const encoder = new TextEncoder();
  const groupNames: string[] = [];
  const groupStarts: number[] = [];
  const itemStarts = new Uint32Array(count + 1);
  let row = 0;
  items.forEach(({ entry, passages }, item) => {
    const last = groupNames[groupNames.length - 1];
    if (last === undefined || entry.group !== last) {
      if (last !== undefined && entry.group < last) throw new Error(`items are not sorted by group at item ${item}`);
      groupNames.push(entry.group);
      groupStarts.push(row);
    }
    if (passages.length === 0) throw new Error(`item ${entry.group}/${entry.id} has no passage`);
    itemStarts[item] = row;
    row += passages.length;
  });
  itemStarts[count] = rows;
  groupStarts.push(rows);
  const names = groupNames.map((name) => encoder.encode(name));
  const ids = encodeStrings(items.map((item) => item.entry.id));
  const namesBytes = names.reduce((sum, bytes) => sum + bytes.length, 0);
  const idsBytes = ids.offsets[count]!;
  const slots = slotCount(count);

  const offsets: number[] = [];
  let at = HEADER_WORDS * 4;
  const section = (bytes: number): number => {
    at = align8(at);
    offsets.push(at);
    const start = at;
    at += bytes;
    return start;
  };
  const groupsAt = section(4 * groupStarts.length);
  const nameOffsetsAt = section(4 * (names.length + 1));
  const nameBytesAt = section(namesBytes);
  const idOffsetsAt = section(4 * (count + 1));
  const idBytesAt = section(idsBytes);
  const versionsAt = section(8 * count);
  const itemStartsAt = section(4 * (count + 1));
  const rowItemsAt = section(4 * rows);
  const spansAt = section(8 * rows);
  const slotsAt = section(4 * slots);
  const buffer = new ArrayBuffer(align8(at));
  const bytes = new Uint8Array(buffer);
  new Uint32Array(buffer, 0, HEADER_WORDS).set([MAGIC, FORMAT, rows, count, groupNames.length, slots, ...offsets]);
  new Uint32Array(buffer, groupsAt, groupStarts.length).set(groupStarts);
  const nameOffsets = new Uint32Array(buffer, nameOffsetsAt, names.length + 1);
  let written = 0;
  names.forEach((name, i) => {
    nameOffsets[i] = written;
    bytes.set(name, nameBytesAt + written);
    written += name.length;
  });
  nameOffsets[names.length] = written;
  new Uint32Array(buffer, idOffsetsAt, count + 1).set(ids.offsets);
  bytes.set(ids.bytes, idBytesAt);
  const versions = new Float64Array(buffer, versionsAt, count);
  new Uint32Array(buffer, itemStartsAt, count + 1).set(itemStarts);
  const rowItems = new Uint32Array(buffer, rowItemsAt, rows);
  const spans = new Uint32Array(buffer, spansAt, 2 * rows);
  items.forEach(({ entry, passages }, item) => {
    versions[item] = entry.version;
    passages.forEach(([start, end], passage) => {
      const at = itemStarts[item]! + passage;
      rowItems[at] = item;
      spans[2 * at] = start;
      spans[2 * at + 1] = end;
    });
  });

  const table = new Uint32Array(buffer, slotsAt, slots);
  const mask = slots - 1;
  items.forEach(({ entry }, item) => {
    let slot = hashKey(entry.group, entry.id) & mask;
    while (table[slot] !== 0) {
      const other = items[table[slot]! - 1]!.entry;
      if (other.id === entry.id && other.group === entry.group)
        throw new Error(`item ${entry.group}/${entry.id} appears twice in one segment`);
      slot = (slot + 1) & mask;
    }
    table[slot] = item + 1;
  });
  return bytes;
}

/** Which passage of its item a row holds. */
export interface RowPassage {
  /** The passage's number within the item, from 0. */
  readonly index: number;
  /** The item's passages. */
  readonly count: number;
  /** Characters `[start, end)` of the item's content. */
  readonly start: number;
  readonly end: number;
}

/** Where a key map's sections start in its file, and how many of each there are. */
interface KeyMapLayout {
  readonly rows: number;
  readonly items: number;
  readonly slots: number;
  readonly idOffsetsAt: number;
  readonly idBytesAt: number;
  readonly versionsAt: number;
  /** Absent in format 1 (one row per item): an item's first row is its number. */
  readonly itemStartsAt?: number;
  /** Absent in format 1: a row's item is its number. */
  readonly rowItemsAt?: number;
  /** Absent in format 1: its items' passages are not reported. */
  readonly spansAt?: number;
  readonly slotsAt: number;
}

/**
 * A segment's key map, read lazily from its bytes: rows to items, groups to row ranges, keys to
 * rows. Only the header and the group names are read when it opens; every other value is read
 * where it lies when asked for, from bytes in memory or from the file a page at a time
 * ({@link ByteSource}).
 */
export class SegmentKeys {
  private readonly decoder = new TextDecoder();
  private readonly groupIndex = new Map<string, number>();
  readonly rows: number;
  readonly items: number;

  private constructor(
    private readonly source: ByteSource,
    private readonly layout: KeyMapLayout,
    private readonly groupStarts: Uint32Array,
    readonly groupNames: readonly string[],
  ) {
    this.rows = layout.rows;
    this.items = layout.items;
    groupNames.forEach((name, i) => this.groupIndex.set(name, i));
  }

  /** Reads a key map from the bytes {@link encodeSegmentKeys} wrote (or format 1's, one row per item). */
  static decode(bytes: Uint8Array): SegmentKeys {
    return SegmentKeys.open(new BufferSource(bytes));
  }

  /**
   * Opens a key map over its bytes, reading its header and group names now and the rest as asked.
   * @throws {SegmentKeysFormatError} when the bytes are not a key map this code wrote
   */
  static open(source: ByteSource): SegmentKeys {
    if (source.byteLength < FORMAT_1_HEADER_WORDS * 4) throw new SegmentKeysFormatError('key file too short');
    const word = (index: number): number => source.u32(4 * index);
    const [magic, format] = [word(0), word(1)];
    if (magic !== MAGIC) throw new SegmentKeysFormatError('not a ddb-faiss key file');
    if (format !== FORMAT && format !== 1) throw new SegmentKeysFormatError(`unknown key file format ${format}`);
    // Format 1 (before passages) has no item count and no passage sections: one row per item.
    const sections = format === 1 ? 5 : 6;
    const headerWords = format === 1 ? FORMAT_1_HEADER_WORDS : HEADER_WORDS;
    const [rows, items] = format === 1 ? [word(2), word(2)] : [word(2), word(3)];
    const [groups, slots] = [word(sections - 2), word(sections - 1)];
    const [groupsAt, nameOffsetsAt, nameBytesAt, idOffsetsAt, idBytesAt, versionsAt] = Array.from(
      { length: 6 },
      (_, i) => word(sections + i),
    ) as [number, number, number, number, number, number];
    const slotsAt = word(headerWords - 1);
    if (slotsAt + 4 * slots > source.byteLength) throw new SegmentKeysFormatError('key file truncated');
    const groupStarts = Uint32Array.from({ length: groups + 1 }, (_, i) => source.u32(groupsAt + 4 * i));
    const names = Array.from({ length: groups }, (_, i) => {
      const [from, to] = [source.u32(nameOffsetsAt + 4 * i), source.u32(nameOffsetsAt + 4 * i + 4)];
      return new TextDecoder().decode(source.bytes(nameBytesAt + from, to - from));
    });
    const passages = format === 1 ? {} : { itemStartsAt: word(12), rowItemsAt: word(13), spansAt: word(14) };
    const layout = { rows, items, slots, idOffsetsAt, idBytesAt, versionsAt, ...passages, slotsAt };
    return new SegmentKeys(source, layout, groupStarts, names);
  }

  /** Lets go of the key map's file, when it is read a page at a time. */
  close(): void {
    this.source.close();
  }

  /**
   * Whether every item has one row (one passage: most segments). Each item has at least one, so
   * then a row is its item and an item its row, with nothing to read to know it.
   */
  private get rowPerItem(): boolean {
    return this.rows === this.items;
  }

  private rowItem(row: number): number {
    const at = this.layout.rowItemsAt;
    return at === undefined || this.rowPerItem ? row : this.source.u32(at + 4 * row);
  }

  private itemStart(item: number): number {
    const at = this.layout.itemStartsAt;
    return at === undefined || this.rowPerItem ? item : this.source.u32(at + 4 * item);
  }

  private span(row: number): readonly [number, number] {
    const at = this.layout.spansAt;
    return at === undefined ? [0, 0] : [this.source.u32(at + 8 * row), this.source.u32(at + 8 * row + 4)];
  }

  /** The rows of a group: `[start, end)`, empty when the segment holds none of it. */
  groupRange(group: string): readonly [number, number] {
    const index = this.groupIndex.get(group);
    return index === undefined ? [0, 0] : [this.groupStarts[index]!, this.groupStarts[index + 1]!];
  }

  /** The items of a group (its rows count each passage). */
  groupItems(group: string): number {
    const [start, end] = this.groupRange(group);
    return start === end ? 0 : this.rowItem(end - 1) - this.rowItem(start) + 1;
  }

  /** The group of a row (binary search over the group ranges). */
  groupOf(row: number): string {
    let low = 0;
    let high = this.groupNames.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.groupStarts[middle]! <= row) low = middle;
      else high = middle - 1;
    }
    return this.groupNames[low]!;
  }

  /** The item (its number in the segment, from 0) a row belongs to. */
  itemOf(row: number): number {
    return this.rowItem(row);
  }

  /** The first row of the item a row belongs to: the row that stands for the item. */
  firstRow(row: number): number {
    return this.itemStart(this.rowItem(row));
  }

  /** The rows of the item whose first row is `first`: `[first, end)`. */
  itemRows(first: number): readonly [number, number] {
    return [first, this.itemStart(this.rowItem(first) + 1)];
  }

  /** Whether some item has more than one passage (rows then need folding into items). */
  get hasPassages(): boolean {
    return this.rows > this.items;
  }

  /** The item a row holds. */
  entry(row: number): IndexEntry {
    const item = this.rowItem(row);
    return {
      group: this.groupOf(row),
      id: this.itemId(item),
      version: this.source.f64(this.layout.versionsAt + 8 * item),
    };
  }

  /** Which passage of its item a row holds. */
  passage(row: number): RowPassage {
    const item = this.rowItem(row);
    const first = this.itemStart(item);
    const [start, end] = this.span(row);
    return { index: row - first, count: this.itemStart(item + 1) - first, start, end };
  }

  /**
   * Announces to several key maps the bytes that {@link entry} and {@link passage} of some of
   * their rows will read (a search's best hits), so that a map read a page at a time fetches them
   * side by side rather than a page after another (about 40 pages for ten hits). A row's id is
   * found through its item and its id's offsets, so the announcements go in rounds, each after
   * the values the last one fetched: every map's first round, then every map's second, and so on.
   * @example
   * ```ts
   * SegmentKeys.willReadEntries([[keysA, [17, 4_096]], [keysB, [3]]]);
   * const hit = keysA.entry(17); // its pages already fetched or on their way
   * ```
   */
  static willReadEntries(reads: readonly (readonly [SegmentKeys, readonly number[]])[]): void {
    let rounds = reads.map(([keys, rows]) => keys.entryReadRounds(rows));
    while (rounds.length > 0) rounds = rounds.filter((round) => !round.next().done);
  }

  /** {@link willReadEntries} for this map: each step announces a round, then pauses for the others. */
  private *entryReadRounds(rows: readonly number[]): Generator<void, void, undefined> {
    const { rowItemsAt, itemStartsAt, spansAt, idOffsetsAt, idBytesAt, versionsAt } = this.layout;
    const itemsKnown = rowItemsAt === undefined || this.rowPerItem;
    if (!itemsKnown) {
      this.source.willNeed(rows.map((row) => rowItemsAt + 4 * row));
      yield;
    }
    const items = rows.map((row) => this.rowItem(row));
    this.source.willNeed([
      ...items.flatMap((item) => [idOffsetsAt + 4 * item, idOffsetsAt + 4 * item + 4, versionsAt + 8 * item]),
      ...(spansAt === undefined ? [] : rows.map((row) => spansAt + 8 * row)),
      ...(itemsKnown || itemStartsAt === undefined
        ? []
        : items.flatMap((item) => [itemStartsAt + 4 * item, itemStartsAt + 4 * item + 4])),
    ]);
    yield;
    this.source.willNeed(
      items.flatMap((item) => {
        const [from, to] = [this.source.u32(idOffsetsAt + 4 * item), this.source.u32(idOffsetsAt + 4 * item + 4)];
        return to > from ? [idBytesAt + from, idBytesAt + to - 1] : [];
      }),
    );
  }

  /** The item of the rows `[first, end)` as a writer gives it: its entry and passages. */
  itemAt(first: number): ItemRows {
    const [, end] = this.itemRows(first);
    const passages: (readonly [number, number])[] = [];
    for (let row = first; row < end; row++) passages.push(this.span(row));
    return { entry: this.entry(first), passages };
  }

  private itemId(item: number): string {
    const { idOffsetsAt, idBytesAt } = this.layout;
    const [from, to] = [this.source.u32(idOffsetsAt + 4 * item), this.source.u32(idOffsetsAt + 4 * item + 4)];
    return this.decoder.decode(this.source.bytes(idBytesAt + from, to - from));
  }

  /** The first row of an item, or -1 when the segment does not hold it. */
  find(group: string, id: string): number {
    const [start, end] = this.groupRange(group);
    if (start === end) return -1;
    const { slots, slotsAt } = this.layout;
    const mask = slots - 1;
    for (let slot = hashKey(group, id) & mask; ; slot = (slot + 1) & mask) {
      const taken = this.source.u32(slotsAt + 4 * slot);
      if (taken === 0) break;
      const item = taken - 1;
      const row = this.itemStart(item);
      if (row >= start && row < end && this.itemId(item) === id) return row;
    }
    return -1;
  }
}
