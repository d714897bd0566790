/** The item a row of the index holds, and the key that names it. */
import type { ItemScalars } from './attribute-columns.ts';
import type { TermCounts } from './lexical-terms.ts';

/** One indexed item: its keys and the pending version its vector was embedded from. */
export interface IndexEntry {
  readonly group: string;
  readonly id: string;
  readonly version: number;
}

/** The one string that names an item: its group and id, joined by a NUL. */
export const entryKey = (entry: Pick<IndexEntry, 'group' | 'id'>): string => `${entry.group}\u0000${entry.id}`;

/** Where a passage of an item's content is: characters `[start, end)`. */
export type PassageSpan = readonly [start: number, end: number];

/** An item as a segment holds it: its entry, its passages (one row, a vector, each) and its filterable attributes. */
export interface ItemRows {
  readonly entry: IndexEntry;
  readonly passages: readonly PassageSpan[];
  readonly attributes?: ItemScalars;
  /** Each passage's terms for the lexical index; none: the item is found by its vectors only. */
  readonly terms?: readonly TermCounts[];
}
