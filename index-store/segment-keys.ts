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

/** A segment's key map, decoded lazily from its bytes: rows to items, groups to row ranges, keys to rows. */
export class SegmentKeys {
  private readonly decoder = new TextDecoder();
  private readonly groupIndex = new Map<string, number>();

  private constructor(
    readonly rows: number,
    readonly items: number,
    private readonly groupStarts: Uint32Array,
    readonly groupNames: readonly string[],
    private readonly idOffsets: Uint32Array,
    private readonly idBytes: Uint8Array,
    private readonly versions: Float64Array,
    private readonly itemStarts: Uint32Array,
    private readonly rowItems: Uint32Array,
    private readonly spans: Uint32Array,
    private readonly slots: Uint32Array,
  ) {
    groupNames.forEach((name, i) => this.groupIndex.set(name, i));
  }

  /** Reads a key map from the bytes {@link encodeSegmentKeys} wrote (or format 1's, one row per item). */
  static decode(bytes: Uint8Array): SegmentKeys {
    // Typed-array views need aligned offsets: copy only if the bytes do not start on one.
    const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    const { buffer, byteOffset: base } = aligned;
    if (aligned.byteLength < FORMAT_1_HEADER_WORDS * 4) throw new SegmentKeysFormatError('key file too short');
    const [magic, format] = new Uint32Array(buffer, base, 2);
    if (magic !== MAGIC) throw new SegmentKeysFormatError('not a ddb-faiss key file');
    if (format !== FORMAT && format !== 1) throw new SegmentKeysFormatError(`unknown key file format ${format}`);
    const header = new Uint32Array(buffer, base, format === 1 ? FORMAT_1_HEADER_WORDS : HEADER_WORDS);
    // Format 1 (before passages) has no item count and no passage sections: one row per item.
    const sections = format === 1 ? 5 : 6;
    const [rows, items] = format === 1 ? [header[2]!, header[2]!] : [header[2]!, header[3]!];
    const [groups, slots] = [header[sections - 2]!, header[sections - 1]!];
    const [groupsAt, nameOffsetsAt, nameBytesAt, idOffsetsAt, idBytesAt, versionsAt] = header.subarray(
      sections,
      sections + 6,
    );
    const slotsAt = header[header.length - 1]!;
    if (base + slotsAt + 4 * slots > buffer.byteLength) throw new SegmentKeysFormatError('key file truncated');
    const view = (at: number, length: number): Uint32Array => new Uint32Array(buffer, base + at, length);
    const nameOffsets = view(nameOffsetsAt!, groups + 1);
    const decoder = new TextDecoder();
    const names = Array.from({ length: groups }, (_, i) =>
      decoder.decode(
        new Uint8Array(buffer, base + nameBytesAt! + nameOffsets[i]!, nameOffsets[i + 1]! - nameOffsets[i]!),
      ),
    );
    const idOffsets = view(idOffsetsAt!, items + 1);
    const [itemStartsAt, rowItemsAt, spansAt] = format === 1 ? [] : header.subarray(12, 15);
    const identity = (length: number): Uint32Array => Uint32Array.from({ length }, (_, i) => i);
    return new SegmentKeys(
      rows,
      items,
      view(groupsAt!, groups + 1),
      names,
      idOffsets,
      new Uint8Array(buffer, base + idBytesAt!, idOffsets[items]!),
      new Float64Array(buffer, base + versionsAt!, items),
      itemStartsAt === undefined ? identity(items + 1) : view(itemStartsAt, items + 1),
      rowItemsAt === undefined ? identity(rows) : view(rowItemsAt, rows),
      // Format 1 kept no passage offsets: its items are one passage each, whose span is not reported.
      spansAt === undefined ? new Uint32Array(2 * rows) : view(spansAt, 2 * rows),
      view(slotsAt, slots),
    );
  }

  /** The rows of a group: `[start, end)`, empty when the segment holds none of it. */
  groupRange(group: string): readonly [number, number] {
    const index = this.groupIndex.get(group);
    return index === undefined ? [0, 0] : [this.groupStarts[index]!, this.groupStarts[index + 1]!];
  }

  /** The items of a group (its rows count each passage). */
  groupItems(group: string): number {
    const [start, end] = this.groupRange(group);
    return start === end ? 0 : this.rowItems[end - 1]! - this.rowItems[start]! + 1;
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
    return this.rowItems[row]!;
  }

  /** The first row of the item a row belongs to: the row that stands for the item. */
  firstRow(row: number): number {
    return this.itemStarts[this.rowItems[row]!]!;
  }

  /** The rows of the item whose first row is `first`: `[first, end)`. */
  itemRows(first: number): readonly [number, number] {
    return [first, this.itemStarts[this.rowItems[first]! + 1]!];
  }

  /** Whether some item has more than one passage (rows then need folding into items). */
  get hasPassages(): boolean {
    return this.rows > this.items;
  }

  /** The item a row holds. */
  entry(row: number): IndexEntry {
    const item = this.rowItems[row]!;
    return { group: this.groupOf(row), id: this.itemId(item), version: this.versions[item]! };
  }

  /** Which passage of its item a row holds. */
  passage(row: number): RowPassage {
    const item = this.rowItems[row]!;
    const first = this.itemStarts[item]!;
    return {
      index: row - first,
      count: this.itemStarts[item + 1]! - first,
      start: this.spans[2 * row]!,
      end: this.spans[2 * row + 1]!,
    };
  }

  /** The item of the rows `[first, end)` as a writer gives it: its entry and passages. */
  itemAt(first: number): ItemRows {
    const [, end] = this.itemRows(first);
    const passages: (readonly [number, number])[] = [];
    for (let row = first; row < end; row++) passages.push([this.spans[2 * row]!, this.spans[2 * row + 1]!]);
    return { entry: this.entry(first), passages };
  }

  private itemId(item: number): string {
    return this.decoder.decode(this.idBytes.subarray(this.idOffsets[item]!, this.idOffsets[item + 1]!));
  }

  /** The first row of an item, or -1 when the segment does not hold it. */
  find(group: string, id: string): number {
    const [start, end] = this.groupRange(group);
    if (start === end) return -1;
    const mask = this.slots.length - 1;
    for (let slot = hashKey(group, id) & mask; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const item = this.slots[slot]! - 1;
      const row = this.itemStarts[item]!;
      if (row >= start && row < end && this.itemId(item) === id) return row;
    }
    return -1;
  }
}
