/**
 * Attribute filters: what a search request may say about its items' attributes, checked with
 * valibot, and the CLI's short form. A filter is an object of attribute names, each with a value
 * (equality) or conditions:
 *
 *   {"author": "ann", "year": {"gte": 2020}, "lang": {"in": ["en", "de"]}}
 *
 * Every condition must hold. Values are DynamoDB's scalars: strings, numbers, true and false;
 * ranges (`gt`, `gte`, `lt`, `lte`) compare numbers. The search checks a filter against what the
 * index holds (unknown attributes, values of a kind the attribute never has) and applies it from
 * the attributes kept with the index; {@link matchesItem} checks it again on the item read back,
 * so an item edited since it was indexed is never returned for a filter it no longer meets.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as v from 'valibot';
import type {
  AttributeCondition,
  AttributeFilter,
  ColumnKinds,
  ScalarValue,
} from '../index-store/attribute-columns.ts';
import { scalarOf } from '../table/items.ts';

export type { AttributeFilter } from '../index-store/attribute-columns.ts';

/** Most attributes one filter names, and most values one `in` lists. */
export const MAX_FILTER_ATTRIBUTES = 20;
export const MAX_IN_VALUES = 100;
/** An attribute name as DynamoDB allows it in an expression (the filter names top-level attributes). */
export const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

const OPERATORS = ['eq', 'in', 'gt', 'gte', 'lt', 'lte'] as const;
const RANGES = ['gt', 'gte', 'lt', 'lte'] as const;

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

const scalar = v.union(
  [v.string(), v.pipe(v.number(), v.finite()), v.boolean()],
  (issue) => `must be a string, a number or true/false, got ${show(issue.input)}`,
);
const bound = v.pipe(
  v.number((issue) => `must be a number (ranges compare numbers), got ${show(issue.input)}`),
  v.finite((issue) => `must be a finite number, got ${show(issue.input)}`),
);
const conditionSchema = v.pipe(
  v.strictObject(
    {
      eq: v.optional(scalar),
      in: v.optional(
        v.pipe(
          v.array(scalar, (issue) => `must be a list of values, got ${show(issue.input)}`),
          v.minLength(1, 'must list at least one value'),
          v.maxLength(MAX_IN_VALUES, `may list at most ${MAX_IN_VALUES} values`),
        ),
      ),
      gt: v.optional(bound),
      gte: v.optional(bound),
      lt: v.optional(bound),
      lte: v.optional(bound),
    },
    (issue) =>
      issue.expected === 'never'
        ? `unknown operator; use ${OPERATORS.join(', ')}`
        : `must be a value or an object of conditions (${OPERATORS.join(', ')}), got ${show(issue.input)}`,
  ),
  v.check((condition) => Object.keys(condition).length > 0, `needs a condition: ${OPERATORS.join(', ')}`),
);

/** Where a valibot issue in an attribute's condition is, as a user reads it: `filter.year.gte`. */
const pathOf = (name: string, issue: v.BaseIssue<unknown>, shorthand: boolean): string =>
  [
    'filter',
    name,
    ...(issue.path ?? []).map((item) => String(item.key)).filter((key) => !shorthand || key !== 'eq'),
  ].join('.');

/**
 * Reads a request's `filter`: an object as above.
 * @returns the filter (an equality becomes an `in` of one value), or every problem, each naming
 *   where it is (`filter.year.gte: must be a number ...`)
 *
 * @example
 * ```ts
 * parseFilter({ author: 'ann', year: { gte: 2020 } });
 * // { filter: { author: { in: ['ann'] }, year: { gte: 2020 } } }
 * ```
 */
export function parseFilter(raw: unknown): { filter: AttributeFilter } | { problems: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { problems: [`filter must be an object of attribute conditions, like {"year": {"gte": 2020}}`] };
  const entries = Object.entries(raw as Record<string, unknown>);
  const problems: string[] = [];
  if (entries.length > MAX_FILTER_ATTRIBUTES)
    problems.push(`filter names ${entries.length} attributes; the limit is ${MAX_FILTER_ATTRIBUTES}`);
  // Built from entries, so that every name is an own property: `__proto__` or `constructor` is an
  // attribute name like any other (and refused below as one no item has), never the object's prototype.
  const conditions: [string, AttributeCondition][] = [];
  for (const [name, given] of entries) {
    if (!ATTRIBUTE_NAME.test(name)) {
      problems.push(`filter.${name}: not an attribute name (letters, digits, _ . -)`);
      continue;
    }
    const shorthand = typeof given !== 'object' || given === null || Array.isArray(given);
    const result = v.safeParse(conditionSchema, shorthand ? { eq: given } : given);
    if (!result.success) {
      for (const issue of result.issues) problems.push(`${pathOf(name, issue, shorthand)}: ${issue.message}`);
      continue;
    }
    const { eq, in: values, ...ranges } = result.output;
    const accepted = eq === undefined ? values : values === undefined ? [eq] : values.filter((value) => value === eq);
    conditions.push([name, { ...(accepted ? { in: accepted } : {}), ...ranges }]);
  }
  return problems.length > 0 ? { problems } : { filter: Object.fromEntries(conditions) };
}

/** What the index knows of its attributes, to check a filter against. */
export interface FilterableAttributes {
  /** Which kinds of value each attribute kept with the index holds. */
  readonly kinds: ReadonlyMap<string, ColumnKinds>;
  /** The attributes the configuration allows (`filterAttributes`), or every one (`*`). */
  readonly allowed: readonly string[] | '*';
}

const kindOf = (value: ScalarValue): keyof ColumnKinds =>
  typeof value === 'string' ? 'strings' : typeof value === 'number' ? 'numbers' : 'booleans';
const heldKinds = (kinds: ColumnKinds): string =>
  (Object.keys(kinds) as (keyof ColumnKinds)[]).filter((kind) => kinds[kind]).join(' and ');

/**
 * The problems of a filter against the index: attributes the configuration does not allow or no
 * indexed item has, and values of a kind the attribute never holds (a string for an attribute of
 * numbers, a range over strings). An empty list means the filter can be applied.
 */
export function filterProblems(filter: AttributeFilter, attributes: FilterableAttributes): string[] {
  const problems: string[] = [];
  const known = [...attributes.kinds.keys()].sort();
  for (const [name, condition] of Object.entries(filter)) {
    if (attributes.allowed !== '*' && !attributes.allowed.includes(name)) {
      const allowed = attributes.allowed.join(', ');
      problems.push(`filter.${name}: not a filterable attribute; the setting filterAttributes allows ${allowed}`);
      continue;
    }
    const kinds = attributes.kinds.get(name);
    if (!kinds) {
      const listed = known.length > 0 ? `attributes kept with the index: ${known.join(', ')}` : 'it keeps none';
      problems.push(`filter.${name}: no indexed item has this attribute (${listed})`);
      continue;
    }
    if (RANGES.some((range) => condition[range] !== undefined) && !kinds.numbers)
      problems.push(`filter.${name}: ranges compare numbers, and ${name} holds ${heldKinds(kinds)}`);
    for (const value of condition.in ?? []) {
      if (!kinds[kindOf(value)])
        problems.push(`filter.${name}: ${name} holds ${heldKinds(kinds)}, not ${kindOf(value)} like ${show(value)}`);
    }
  }
  return problems;
}

/** Whether a condition admits a value (an absent attribute meets no condition). */
function admits(condition: AttributeCondition, value: ScalarValue | undefined): boolean {
  if (value === undefined) return false;
  if (condition.in && !condition.in.includes(value)) return false;
  const ranged = RANGES.some((range) => condition[range] !== undefined);
  if (!ranged) return true;
  if (typeof value !== 'number') return false;
  const { gt = -Infinity, gte = -Infinity, lt = Infinity, lte = Infinity } = condition;
  return value > gt && value >= gte && value < lt && value <= lte;
}

/** Whether an item, as read from the table, meets every condition of the filter. */
export function matchesItem(filter: AttributeFilter, item: Readonly<Record<string, AttributeValue>>): boolean {
  return Object.entries(filter).every(([name, condition]) => {
    const value = Object.hasOwn(item, name) ? item[name] : undefined;
    return admits(condition, value && scalarOf(value));
  });
}

/** One CLI filter: `name=value`, `name>=number` (also `>`, `<=`, `<`). */
const EXPRESSION = /^([A-Za-z0-9_.-]+)\s*(>=|<=|>|<|=)\s*(.*)$/s;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const RANGE_OF = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const;

/** A CLI value: a number or true/false when it reads as one, a string otherwise (quote it to keep it a string). */
function cliValue(text: string): ScalarValue {
  const trimmed = text.trim();
  if (NUMBER.test(trimmed)) return Number(trimmed);
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  return trimmed;
}

/**
 * Turns the CLI's filters into a request's `filter`: `author=ann`, `year>=2020`; the same
 * attribute given twice with `=` means either value (`lang=en` and `lang=de`: `in`).
 * @returns the filter object for the request, or the problems, each naming the expression
 *
 * @example
 * ```ts
 * filterFromExpressions(['author=ann', 'year>=2020', 'lang=en', 'lang=de']);
 * // { filter: { author: 'ann', year: { gte: 2020 }, lang: { in: ['en', 'de'] } } }
 * ```
 */
export function filterFromExpressions(
  expressions: readonly string[],
): { filter: Record<string, unknown> } | { problems: string[] } {
  const problems: string[] = [];
  const conditions = new Map<string, { in: ScalarValue[]; ranges: Partial<Record<string, number>> }>();
  for (const expression of expressions) {
    const match = EXPRESSION.exec(expression.trim());
    if (!match) {
      problems.push(`--filter ${show(expression)}: expected name=value or name>=number (also >, <=, <)`);
      continue;
    }
    const [, name, operator, text] = match as unknown as [string, string, keyof typeof RANGE_OF | '=', string];
    let condition = conditions.get(name);
    if (!condition) conditions.set(name, (condition = { in: [], ranges: {} }));
    if (operator === '=') {
      condition.in.push(cliValue(text));
      continue;
    }
    const value = cliValue(text);
    if (typeof value !== 'number') problems.push(`--filter ${show(expression)}: ${operator} compares numbers`);
    else condition.ranges[RANGE_OF[operator]] = value;
  }
  if (problems.length > 0) return { problems };
  const filter = Object.fromEntries(
    [...conditions].map(([name, condition]) => {
      const ranges = condition.ranges;
      const only = condition.in.length === 1 && Object.keys(ranges).length === 0;
      return [name, only ? condition.in[0] : { ...(condition.in.length ? { in: condition.in } : {}), ...ranges }];
    }),
  );
  return { filter };
}
