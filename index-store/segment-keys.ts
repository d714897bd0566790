/**
 * A segment's key map in one binary file (`keys.bin`), read without parsing: the item of each
 * row, each group's run of rows (a segment's rows are sorted by group, so a group is one
 * contiguous range), and an open-addressing hash table from key to row. Loading a million keys
 * is one file read and a few typed-array views; looking a key up is a probe or two, never a
 * scan. It replaces the whole-index `entries.json` that every run used to rewrite.
 *
 * Layout (little-endian; every section starts on an 8-byte boundary):
 *
 *   header    magic "DDBK", format, rows, groups, slots (u32 each), then 7 section offsets (u32)
 *   groups    rows where each group starts: u32 x (groups + 1)
 *   names     offsets of each group name: u32 x (groups + 1), then the UTF-8 names
 *   ids       offsets of each row's id: u32 x (rows + 1), then the UTF-8 ids
 *   versions  f64 x rows
 *   slots     u32 x slots: row + 1, or 0 for an empty slot
 *
 * @example
 * ```ts
 * const bytes = encodeSegmentKeys([{ group: 'g', id: 'a', version: 1 }]);
 * const keys = SegmentKeys.decode(bytes);
 * keys.find('g', 'a'); // 0
 * keys.entry(0);       // { group: 'g', id: 'a', version: 1 }
 * ```
 */
import type { IndexEntry } from './index-entry.ts';

const MAGIC = 0x4b424444; // "DDBK"
const FORMAT = 1;
const HEADER_WORDS = 5 + 7;

/** Thrown when a key file is not one this code wrote. */
export class SegmentKeysFormatError extends Error {
  override readonly name = 'SegmentKeysFormatError';
}

/** 32-bit FNV-1a of a key's UTF-16 code units: the same string always lands in the same slot. */
function hashKey(group: string, id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) hash = Math.imul(hash ^ group.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0, 0x01000193);
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Slots of the hash table: a power of two at least twice the rows, so probes stay short. */
const slotCount = (rows: number): number => 2 ** Math.ceil(Math.log2(Math.max(2, rows * 2)));

const align8 = (offset: number): number => Math.ceil(offset / 8) * 8;

/** Compares two items by group, the order of a segment's rows. */
export const byGroup = (a: Pick<IndexEntry, 'group'>, b: Pick<IndexEntry, 'group'>): number =>
  a.group < b.group ? -1 : a.group > b.group ? 1 : 0;

/**
 * Encodes the key map of a segment whose rows hold these entries, in this order.
 * @throws when the entries are not sorted by group, or a key appears twice
 */
export function encodeSegmentKeys(entries: readonly IndexEntry[]): Uint8Array {
  const rows = entries.length;
  const encoder = new TextEncoder();
  const groupNames: string[] = [];
  const groupStarts: number[] = [];
  entries.forEach((entry, row) => {
    const last = groupNames[groupNames.length - 1];
    if (last === undefined || entry.group !== last) {
      if (last !== undefined && entry.group < last) throw new Error(`rows are not sorted by group at row ${row}`);
      groupNames.push(entry.group);
      groupStarts.push(row);
    }
  });
  groupStarts.push(rows);
  const names = groupNames.map((name) => encoder.encode(name));
  const ids = encodeAll(entries.map((entry) => entry.id));
  const namesBytes = names.reduce((sum, bytes) => sum + bytes.length, 0);
  const idsBytes = ids.offsets[rows]!;
  const slots = slotCount(rows);

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
  const idOffsetsAt = section(4 * (rows + 1));
  const idBytesAt = section(idsBytes);
  const versionsAt = section(8 * rows);
  const slotsAt = section(4 * slots);
  const buffer = new ArrayBuffer(align8(at));
  const bytes = new Uint8Array(buffer);
  new Uint32Array(buffer, 0, HEADER_WORDS).set([MAGIC, FORMAT, rows, groupNames.length, slots, ...offsets]);
  new Uint32Array(buffer, groupsAt, groupStarts.length).set(groupStarts);
  const nameOffsets = new Uint32Array(buffer, nameOffsetsAt, names.length + 1);
  let written = 0;
  names.forEach((name, i) => {
    nameOffsets[i] = written;
    bytes.set(name, nameBytesAt + written);
    written += name.length;
  });
  nameOffsets[names.length] = written;
  new Uint32Array(buffer, idOffsetsAt, rows + 1).set(ids.offsets);
  bytes.set(ids.bytes, idBytesAt);
  const versions = new Float64Array(buffer, versionsAt, rows);
  entries.forEach((entry, row) => (versions[row] = entry.version));

  const table = new Uint32Array(buffer, slotsAt, slots);
  const mask = slots - 1;
  entries.forEach((entry, row) => {
    let slot = hashKey(entry.group, entry.id) & mask;
    while (table[slot] !== 0) {
      const other = entries[table[slot]! - 1]!;
      if (other.id === entry.id && other.group === entry.group)
        throw new Error(`item ${entry.group}/${entry.id} appears twice in one segment`);
      slot = (slot + 1) & mask;
    }
    table[slot] = row + 1;
  });
  return bytes;
}

/** Strings as UTF-8, one after the other, with where each starts: no small array per string. */
function encodeAll(strings: readonly string[]): { bytes: Uint8Array; offsets: Uint32Array } {
  const encoder = new TextEncoder();
  const offsets = new Uint32Array(strings.length + 1);
  let bytes = new Uint8Array(1024);
  let length = 0;
  strings.forEach((text, i) => {
    offsets[i] = length;
    if (length + text.length * 3 > bytes.length) {
      const grown = new Uint8Array(Math.max(bytes.length * 2, length + text.length * 3));
      grown.set(bytes.subarray(0, length));
      bytes = grown;
    }
    length += encoder.encodeInto(text, bytes.subarray(length)).written;
  });
  offsets[strings.length] = length;
  return { bytes: bytes.subarray(0, length), offsets };
}

/** A segment's key map, decoded lazily from its bytes: rows to items, groups to row ranges, keys to rows. */
export class SegmentKeys {
  private readonly decoder = new TextDecoder();
  private readonly groupIndex = new Map<string, number>();

  private constructor(
    readonly rows: number,
    private readonly groupStarts: Uint32Array,
    readonly groupNames: readonly string[],
    private readonly idOffsets: Uint32Array,
    private readonly idBytes: Uint8Array,
    private readonly versions: Float64Array,
    private readonly slots: Uint32Array,
  ) {
    groupNames.forEach((name, i) => this.groupIndex.set(name, i));
  }

  /** Reads a key map from the bytes {@link encodeSegmentKeys} wrote. */
  static decode(bytes: Uint8Array): SegmentKeys {
    // Typed-array views need aligned offsets: copy only if the bytes do not start on one.
    const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    const { buffer, byteOffset: base } = aligned;
    if (aligned.byteLength < HEADER_WORDS * 4) throw new SegmentKeysFormatError('key file too short');
    const header = new Uint32Array(buffer, base, HEADER_WORDS);
    const [magic, format, rows, groups, slots, groupsAt, nameOffsetsAt, nameBytesAt, idOffsetsAt, idBytesAt] = header;
    const [versionsAt, slotsAt] = [header[10]!, header[11]!];
    if (magic !== MAGIC || format !== FORMAT) throw new SegmentKeysFormatError('not a ddb-faiss key file');
    if (base + slotsAt + 4 * slots! > buffer.byteLength) throw new SegmentKeysFormatError('key file truncated');
    const nameOffsets = new Uint32Array(buffer, base + nameOffsetsAt!, groups! + 1);
    const decoder = new TextDecoder();
    const names = Array.from({ length: groups! }, (_, i) =>
      decoder.decode(
        new Uint8Array(buffer, base + nameBytesAt! + nameOffsets[i]!, nameOffsets[i + 1]! - nameOffsets[i]!),
      ),
    );
    const idOffsets = new Uint32Array(buffer, base + idOffsetsAt!, rows! + 1);
    return new SegmentKeys(
      rows!,
      new Uint32Array(buffer, base + groupsAt!, groups! + 1),
      names,
      idOffsets,
      new Uint8Array(buffer, base + idBytesAt!, idOffsets[rows!]!),
      new Float64Array(buffer, base + versionsAt, rows!),
      new Uint32Array(buffer, base + slotsAt, slots!),
    );
  }

  /** The rows of a group: `[start, end)`, empty when the segment holds none of it. */
  groupRange(group: string): readonly [number, number] {
    const index = this.groupIndex.get(group);
    return index === undefined ? [0, 0] : [this.groupStarts[index]!, this.groupStarts[index + 1]!];
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

  id(row: number): string {
    return this.decoder.decode(this.idBytes.subarray(this.idOffsets[row]!, this.idOffsets[row + 1]!));
  }

  /** The item a row holds. */
  entry(row: number): IndexEntry {
    return { group: this.groupOf(row), id: this.id(row), version: this.versions[row]! };
  }

  /** The row of an item, or -1 when the segment does not hold it. */
  find(group: string, id: string): number {
    const [start, end] = this.groupRange(group);
    if (start === end) return -1;
    const mask = this.slots.length - 1;
    for (let slot = hashKey(group, id) & mask; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const row = this.slots[slot]! - 1;
      if (row >= start && row < end && this.id(row) === id) return row;
    }
    return -1;
  }
}
