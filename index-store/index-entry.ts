/** The item a row of the index holds, and the key that names it. */

/** One indexed item: its keys and the pending version its vector was embedded from. */
export interface IndexEntry {
  readonly group: string;
  readonly id: string;
  readonly version: number;
}

/** The one string that names an item: its group and id, joined by a NUL. */
export const entryKey = (entry: Pick<IndexEntry, 'group' | 'id'>): string => `${entry.group}\u0000${entry.id}`;
