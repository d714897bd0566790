/**
 * A segment's key filter (`keys.filter`): a Bloom filter over the keys of the items it holds, so
 * that a run can tell which segments may hold an item without reading their key maps. A run
 * adding 1,000 items to a 10M index otherwise reads every key map (about 43 bytes an item: 430 MB
 * read, checked and faulted into memory, about 3 s here) to learn that none holds them; with the
 * filters it reads 3 to 6 bytes an item and no key map, and a key map only for the segments that
 * hold the items it replaces or removes.
 *
 * 24 bits a key and 16 hashes: a false "may hold" about once in 100,000 lookups, so adding 1,000
 * items to ten segments reads a key map it need not about one run in ten. A false "may hold"
 * costs a key map read; there is never a false "does not hold".
 *
 * Layout (little-endian): magic "DDBF", format, bits, hashes (u32 each), then the bits as u32 words.
 *
 * @example
 * ```ts
 * const filter = KeyFilter.of([{ group: 'g', id: 'a' }]);
 * filter.mayHold('g', 'a'); // true
 * KeyFilter.decode(filter.encode()).mayHold('g', 'b'); // false, but for one time in 100,000
 * ```
 */
import type { IndexEntry } from './index-entry.ts';
import { hashKey } from './segment-keys.ts';

const MAGIC = 0x46424444; // "DDBF"
const FORMAT = 1;
const HEADER_WORDS = 4;
/** Bits a key: with {@link HASHES}, a false positive rate of about 1e-5. */
const BITS_PER_KEY = 24;
const HASHES = 16;

/** Thrown when a filter file is not one this code wrote. */
export class KeyFilterFormatError extends Error {
  override readonly name = 'KeyFilterFormatError';
}

/**
 * Two independent 32-bit hashes of a key: the key map's (FNV-1a) and FNV-1a from another offset
 * basis over the key backwards: 64 bits, so that two keys agree on every probe only as often as
 * the filter allows.
 */
function keyHashes(group: string, id: string): [number, number] {
  let second = 0x050c5d1f;
  for (let i = id.length - 1; i >= 0; i--) second = Math.imul(second ^ id.charCodeAt(i), 0x01000193);
  second = Math.imul(second, 0x01000193);
  for (let i = group.length - 1; i >= 0; i--) second = Math.imul(second ^ group.charCodeAt(i), 0x01000193);
  // An odd step visits distinct bits for every probe of a power-of-two table.
  return [hashKey(group, id), (second | 1) >>> 0];
}

/** A Bloom filter over item keys: "may hold" or "certainly does not". */
export class KeyFilter {
  private constructor(
    private readonly words: Uint32Array,
    private readonly hashes: number,
  ) {}

  /** The filter of these keys. */
  static of(keys: readonly Pick<IndexEntry, 'group' | 'id'>[]): KeyFilter {
    const bits = 2 ** Math.ceil(Math.log2(Math.max(64, keys.length * BITS_PER_KEY)));
    const filter = new KeyFilter(new Uint32Array(bits / 32), HASHES);
    for (const { group, id } of keys) filter.add(group, id);
    return filter;
  }

  /**
   * Reads a filter from the bytes {@link encode} wrote.
   * @throws {KeyFilterFormatError} when they are not a filter of this format
   */
  static decode(bytes: Uint8Array): KeyFilter {
    if (bytes.byteLength < HEADER_WORDS * 4 || bytes.byteLength % 4 !== 0)
      throw new KeyFilterFormatError('not a ddb-faiss key filter');
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    const [magic, format, bits, hashes] = words;
    if (magic !== MAGIC) throw new KeyFilterFormatError('not a ddb-faiss key filter');
    if (format !== FORMAT) throw new KeyFilterFormatError(`unknown key filter format ${format}`);
    if (bits! !== (words.length - HEADER_WORDS) * 32 || (bits! & (bits! - 1)) !== 0 || !hashes)
      throw new KeyFilterFormatError(`holds ${(words.length - HEADER_WORDS) * 32} bits, its header says ${bits}`);
    return new KeyFilter(words.subarray(HEADER_WORDS), hashes);
  }

  /** False when the segment certainly does not hold the item; true when it may. */
  mayHold(group: string, id: string): boolean {
    const mask = this.words.length * 32 - 1;
    const [first, step] = keyHashes(group, id);
    let bit = first;
    for (let probe = 0; probe < this.hashes; probe++) {
      bit = (bit + step) & mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** The filter's bytes, as {@link decode} reads them. */
  encode(): Uint8Array {
    const words = new Uint32Array(HEADER_WORDS + this.words.length);
    words.set([MAGIC, FORMAT, this.words.length * 32, this.hashes]);
    words.set(this.words, HEADER_WORDS);
    return new Uint8Array(words.buffer);
  }

  private add(group: string, id: string): void {
    const mask = this.words.length * 32 - 1;
    const [first, step] = keyHashes(group, id);
    let bit = first;
    for (let probe = 0; probe < this.hashes; probe++) {
      bit = (bit + step) & mask;
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
  }
}
