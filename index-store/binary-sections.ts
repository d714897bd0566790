/**
 * The pieces the index's binary files (`keys.bin`, `attributes.bin`, `lexical.bin`) are built
 * from: 8-byte-aligned sections, so each is read as a typed-array view without copying, and
 * string tables (UTF-8 bytes one after the other, with where each string starts), so a million
 * strings are two buffers rather than a million small objects.
 */

/** The next 8-byte boundary at or after `offset`. */
export const align8 = (offset: number): number => Math.ceil(offset / 8) * 8;

/**
 * Places sections one after another on 8-byte boundaries, after a header of `headerBytes`.
 *
 * @example
 * ```ts
 * const layout = new SectionLayout(64);
 * const idsAt = layout.add(4 * count); // 64
 * const buffer = new ArrayBuffer(layout.size);
 * ```
 */
export class SectionLayout {
  private end: number;

  constructor(headerBytes: number) {
    this.end = headerBytes;
  }

  /** Reserves `bytes`; returns where they start. */
  add(bytes: number): number {
    const at = align8(this.end);
    this.end = at + bytes;
    return at;
  }

  /** The file's length. */
  get size(): number {
    return align8(this.end);
  }
}

/** Strings as UTF-8, one after the other, with where each starts: no small array per string. */
export function encodeStrings(strings: readonly string[]): { bytes: Uint8Array; offsets: Uint32Array } {
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

/** A string table read back: string `i` is decoded when asked for. */
export class StringTable {
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly offsets: Uint32Array,
    private readonly bytes: Uint8Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  get(index: number): string {
    return this.decoder.decode(this.bytes.subarray(this.offsets[index]!, this.offsets[index + 1]!));
  }

  /** String `index` against UTF-8 `encoded`, by bytes (the order of a table sorted with {@link compareUtf8}). */
  compare(index: number, encoded: Uint8Array): number {
    const start = this.offsets[index]!;
    return compareUtf8(this.bytes.subarray(start, this.offsets[index + 1]!), encoded);
  }
}

/** A copy of `bytes` starting on an 8-byte boundary when it does not already. */
export const aligned8 = (bytes: Uint8Array): Uint8Array => (bytes.byteOffset % 8 === 0 ? bytes : bytes.slice());

/** Orders UTF-8 byte strings (which is code point order, unlike JavaScript's UTF-16 `<`). */
export function compareUtf8(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
