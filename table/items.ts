/**
 * How ddb-faiss reads and writes items. The pending attribute holds a *version token*: every
 * write that needs (re)indexing sets a fresh one ({@link newVersionToken}). A run records the
 * token it embedded and clears the flag only if the token is unchanged, so an edit made while
 * a run is in flight keeps its flag and is indexed by the next run.
 *
 * Deletes are soft: set the pending token and `faiss_delete = true`; the next run removes the
 * vector and then deletes the item (again only if its token is unchanged).
 *
 * Items under the reserved group `__ddb-faiss__` are ddb-faiss's own (the writer lease,
 * poison records, index status) and are never indexed.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DdbFaissConfig } from '../config/config.ts';

export const DELETE_MARKER_ATTRIBUTE = 'faiss_delete';

export type ItemAttributes = Pick<
  DdbFaissConfig,
  'groupAttribute' | 'idAttribute' | 'contentAttribute' | 'pendingAttribute'
>;

export interface ItemKey {
  readonly group: string;
  readonly id: string;
}

/** A key plus the pending version token seen for it (0 when the item had no flag). */
export interface VersionedKey extends ItemKey {
  readonly version: number;
  /**
   * Where the version lives: absent for the item's own pending flag, `true` for its change marker
   * (stream mode, `table/reserved-items.ts`), which the clear stage then settles instead.
   */
  readonly marker?: true;
}

let lastToken = 0;
/** A fresh, strictly increasing (per process) version token: microseconds since the epoch. */
export function newVersionToken(): number {
  const now = Date.now() * 1000;
  lastToken = now > lastToken ? now : lastToken + 1;
  return lastToken;
}

export function keyAttributes(config: ItemAttributes, key: ItemKey): Record<string, AttributeValue> {
  return { [config.groupAttribute]: { S: key.group }, [config.idAttribute]: { S: key.id } };
}

export function readKey(config: ItemAttributes, item: Record<string, AttributeValue>): ItemKey | undefined {
  const group = item[config.groupAttribute]?.S;
  const id = item[config.idAttribute]?.S;
  return group !== undefined && id !== undefined ? { group, id } : undefined;
}

export function readVersion(config: ItemAttributes, item: Record<string, AttributeValue>): number {
  const value = item[config.pendingAttribute]?.N;
  return value === undefined ? 0 : Number(value);
}

/** Why content cannot be embedded, or undefined when it can. */
export function poisonReason(config: ItemAttributes, item: Record<string, AttributeValue>): string | undefined {
  const content = item[config.contentAttribute];
  if (!content) return `missing ${config.contentAttribute}`;
  if (content.S === undefined) return `${config.contentAttribute} is not a string (type ${Object.keys(content)[0]})`;
  if (content.S.trim() === '') return `${config.contentAttribute} is empty`;
  return undefined;
}

/** A scalar attribute's value (S, N, BOOL); undefined for other types (lists, maps, sets, binary, null). */
export function scalarOf(value: AttributeValue): string | number | boolean | undefined {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  return undefined;
}

/** The attributes ddb-faiss itself gives meaning to: never filterable, never copied by `import`. */
export function ownAttributes(config: ItemAttributes): string[] {
  const { groupAttribute, idAttribute, contentAttribute, pendingAttribute } = config;
  return [groupAttribute, idAttribute, contentAttribute, pendingAttribute, DELETE_MARKER_ATTRIBUTE];
}

/**
 * An item's filterable attributes: its scalar top-level attributes other than its text, its id
 * and ddb-faiss's own (the group is one, so a filter can name several groups), only those
 * `allowed` lists unless it is `*`; undefined when it has none.
 */
export function filterableAttributes(
  config: ItemAttributes,
  allowed: readonly string[] | '*',
  item: Readonly<Record<string, AttributeValue>>,
): Record<string, string | number | boolean> | undefined {
  const own = new Set(ownAttributes(config).filter((name) => name !== config.groupAttribute));
  const scalars: [string, string | number | boolean][] = [];
  for (const [name, value] of Object.entries(item)) {
    if (own.has(name) || (allowed !== '*' && !allowed.includes(name))) continue;
    const scalar = scalarOf(value);
    if (scalar !== undefined) scalars.push([name, scalar]);
  }
  // From entries: an attribute named `__proto__` is kept as one, never assigned to the prototype.
  return scalars.length > 0 ? Object.fromEntries(scalars) : undefined;
}
