/**
 * What the search API accepts, checked with valibot: a GET's query string parameters or a
 * POST's JSON body, alike. Every problem of a request is named in one 400.
 *
 *   /search   q, k, mode, group, filter, attributes
 *   /similar  group, id, k, filter, attributes
 *
 * In a GET, `filter` is JSON text and `attributes` a comma-separated list.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as v from 'valibot';
import { type AttributeFilter, ATTRIBUTE_NAME, parseFilter } from '../search/filter.ts';
import type { SearchRequest } from '../search/query.ts';
import { SEARCH_MODES } from '../search/results.ts';
import type { SimilarRequest } from '../search/similar.ts';
import { RequestError } from '../config/errors.ts';

export const MAX_QUERY_CHARS = 2_000;
export const MAX_K = 100;
const MAX_ATTRIBUTES = 20;
/** The longest id or group a key may have (DynamoDB's key limits, in characters at most). */
const MAX_KEY_CHARS = 2_048;

/** Thrown for a request that cannot be served as asked: its message names every problem. */
export class BadRequestError extends RequestError {
  override readonly name = 'BadRequestError';
  readonly code = 'bad-request';
  readonly status = 400;
}

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

const k = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number))]),
  v.integer(),
  v.minValue(1),
  v.maxValue(MAX_K),
);
const kMessage = (input: unknown): string => `k must be an integer from 1 to ${MAX_K}, got ${show(input)}`;

const attributeList = v.pipe(
  v.union([
    v.pipe(
      v.string(),
      v.transform((text) =>
        text
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      ),
    ),
    v.array(v.string()),
  ]),
  v.maxLength(MAX_ATTRIBUTES),
  v.check((names) => names.every((name) => ATTRIBUTE_NAME.test(name))),
);
const attributesMessage = `attributes must be at most ${MAX_ATTRIBUTES} attribute names (letters, digits, _ . -)`;

const keyPart = (name: string) =>
  v.pipe(
    v.string(`${name} must be a non-empty string`),
    v.minLength(1, `${name} must be a non-empty string`),
    v.maxLength(MAX_KEY_CHARS, `${name} is longer than ${MAX_KEY_CHARS} characters`),
  );

/** A field checked by `schema`, any problem of it named by one message (the value it was given in view). */
const checked = <T extends v.GenericSchema>(schema: T, message: (input: unknown) => string) =>
  v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }): v.InferOutput<T> => {
      const parsed = v.safeParse(schema, dataset.value);
      if (parsed.success) return parsed.output;
      addIssue({ message: message(dataset.value) });
      return NEVER;
    }),
  );

/** The fields both routes take: how many hits, which attributes to return, and the filter. */
const common = {
  k: v.optional(checked(k, kMessage), 10),
  attributes: v.optional(
    checked(attributeList, (input) =>
      Array.isArray(input) || typeof input === 'string'
        ? attributesMessage
        : 'attributes must be a list of attribute names',
    ),
  ),
  filter: v.optional(
    v.pipe(
      v.unknown(),
      // In a GET the filter is JSON text; text that is not JSON is refused as the filter it is.
      v.transform((value) => (typeof value === 'string' ? parseJsonText(value) : value)),
      v.rawTransform(({ dataset, addIssue, NEVER }): AttributeFilter => {
        const parsed = parseFilter(dataset.value);
        if ('filter' in parsed) return parsed.filter;
        for (const problem of parsed.problems) addIssue({ message: problem });
        return NEVER;
      }),
    ),
  ),
};

/** A required field that is missing, in the words its own check would use. */
const missing =
  (messages: Readonly<Record<string, string>>) =>
  (issue: v.BaseIssue<unknown>): string =>
    messages[issue.expected?.replace(/"/g, '') ?? ''] ?? `${issue.expected} is required`;

const searchSchema = v.object(
  {
    q: v.pipe(
      v.string('q (the query text) is required and must not be empty'),
      v.check((text) => text.trim() !== '', 'q (the query text) is required and must not be empty'),
      v.maxLength(
        MAX_QUERY_CHARS,
        (issue) => `q is ${(issue.input as string).length} characters long; the limit is ${MAX_QUERY_CHARS}`,
      ),
    ),
    mode: v.optional(
      v.picklist(
        SEARCH_MODES,
        (issue) => `mode must be ${SEARCH_MODES.map((name) => `"${name}"`).join(', ')}, got ${show(issue.input)}`,
      ),
    ),
    group: v.optional(keyPart('group')),
    ...common,
  },
  missing({ q: 'q (the query text) is required and must not be empty' }),
);

const similarSchema = v.object(
  { group: keyPart('group'), id: keyPart('id'), ...common },
  missing({ group: 'group must be a non-empty string', id: 'id must be a non-empty string' }),
);

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A request's fields: a GET's query string parameters, or a POST's JSON body. */
function fieldsOf(event: APIGatewayProxyEventV2 & { body?: unknown }, example: string): unknown {
  const method = event.requestContext?.http?.method ?? 'GET';
  const raw = method === 'POST' ? event.body : (event.queryStringParameters ?? {});
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new BadRequestError(`the request body must be a JSON object like ${example}`);
  return raw;
}

function parseWith<T extends v.GenericSchema>(schema: T, fields: unknown): v.InferOutput<T> {
  const result = v.safeParse(schema, fields);
  if (!result.success) throw new BadRequestError(result.issues.map((issue) => issue.message).join('; '));
  return result.output;
}

/**
 * Reads and checks a search request; every problem is named.
 * @throws {BadRequestError} naming every problem
 *
 * @example
 * ```ts
 * parseSearchRequest(event); // { text: 'red bus', k: 10, mode: 'hybrid', filter: { year: { gte: 2020 } } }
 * ```
 */
export function parseSearchRequest(event: APIGatewayProxyEventV2 & { body?: unknown }): SearchRequest {
  const { q, k, mode, group, filter, attributes } = parseWith(searchSchema, fieldsOf(event, '{"q": "text", "k": 10}'));
  return {
    text: q,
    k,
    ...(mode ? { mode } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(filter ? { filter } : {}),
    ...(attributes?.length ? { attributes } : {}),
  };
}

/**
 * Reads and checks a "more like this" request.
 * @throws {BadRequestError} naming every problem
 */
export function parseSimilarRequest(event: APIGatewayProxyEventV2 & { body?: unknown }): SimilarRequest {
  const { group, id, k, filter, attributes } = parseWith(
    similarSchema,
    fieldsOf(event, '{"group": "g", "id": "a", "k": 10}'),
  );
  return {
    group,
    id,
    k,
    ...(filter ? { filter } : {}),
    ...(attributes?.length ? { attributes } : {}),
  };
}
