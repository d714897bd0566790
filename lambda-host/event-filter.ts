/**
 * Lambda's event filtering, for the patterns ddb-faiss gives its event source mappings: a pattern
 * is an object whose leaves are lists of allowed values, each a literal or one of the operators
 * `anything-but`, `exists` and `prefix`. The local stream follower applies the same pattern object
 * the CDK app deploys (`captureFilterPattern`), so a record Lambda would drop is dropped locally.
 *
 * @example
 * ```ts
 * matchesPattern({ dynamodb: { Keys: { g: { S: [{ 'anything-but': ['x'] }] } } } }, record); // true unless g is "x"
 * ```
 */

type Condition = string | number | boolean | null | { readonly [operator: string]: unknown };

/** Thrown for an operator this matcher does not implement (so no pattern is ever half applied). */
export class UnsupportedPatternError extends Error {
  override readonly name = 'UnsupportedPatternError';
}

function matchesCondition(condition: Condition, present: boolean, value: unknown): boolean {
  if (condition === null || typeof condition !== 'object') return present && value === condition;
  const [operator, operand] = Object.entries(condition)[0] ?? [];
  switch (operator) {
    case 'anything-but':
      return present && !(Array.isArray(operand) ? operand : [operand]).includes(value);
    case 'exists':
      return present === operand;
    case 'prefix':
      return present && typeof value === 'string' && typeof operand === 'string' && value.startsWith(operand);
    default:
      throw new UnsupportedPatternError(`event filter operator ${JSON.stringify(operator)} is not supported locally`);
  }
}

/** Whether an event matches a filter pattern, as Lambda's event filtering decides. */
export function matchesPattern(pattern: Readonly<Record<string, unknown>>, event: unknown): boolean {
  const fields = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([name, rule]) => {
    const present = Object.hasOwn(fields, name);
    if (Array.isArray(rule))
      return (rule as Condition[]).some((condition) => matchesCondition(condition, present, fields[name]));
    return present && matchesPattern(rule as Record<string, unknown>, fields[name]);
  });
}
