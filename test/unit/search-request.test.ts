/** How the search handler reads a request: pure parsing, no index or stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  BadRequestError,
  MAX_K,
  MAX_QUERY_CHARS,
  parseSearchRequest,
  parseSimilarRequest,
} from '../../tasks/search-request.ts';

const get = (query: Record<string, string>) =>
  ({ requestContext: { http: { method: 'GET' } }, queryStringParameters: query }) as unknown as APIGatewayProxyEventV2;
const post = (body: unknown) =>
  ({ requestContext: { http: { method: 'POST' } }, body }) as unknown as APIGatewayProxyEventV2 & { body: unknown };

/** The 400's message, as the client reads it. */
function refusal(
  event: APIGatewayProxyEventV2,
  parse: (event: APIGatewayProxyEventV2) => unknown = parseSearchRequest,
): string {
  try {
    parse(event);
  } catch (error) {
    assert.ok(error instanceof BadRequestError, String(error));
    return error.message;
  }
  assert.fail('the request was accepted');
}

describe('parseSearchRequest', () => {
  it('reads GET parameters and POST bodies alike, with k defaulting to 10', () => {
    assert.deepEqual(parseSearchRequest(get({ q: 'red bus' })), { text: 'red bus', k: 10 });
    assert.deepEqual(parseSearchRequest(get({ q: 'red bus', k: '3', group: 'g1', attributes: 'a, b' })), {
      text: 'red bus',
      k: 3,
      group: 'g1',
      attributes: ['a', 'b'],
    });
    assert.deepEqual(parseSearchRequest(post({ q: 'red bus', k: 5, attributes: ['title'] })), {
      text: 'red bus',
      k: 5,
      attributes: ['title'],
    });
  });

  it('names every problem of a request in one 400', () => {
    const message = refusal(get({ q: ' ', k: '0', group: '', attributes: 'bad name' }));
    assert.match(message, /q \(the query text\) is required/);
    assert.match(message, new RegExp(`k must be an integer from 1 to ${MAX_K}, got "0"`));
    assert.match(message, /group must be a non-empty string/);
    assert.match(message, /attributes must be at most 20 attribute names/);
  });

  it('refuses what is not a query: a non-object body, an oversized text, a k that is not a whole number in range', () => {
    assert.match(refusal(post('just text')), /the request body must be a JSON object/);
    assert.match(refusal(post(['q'])), /the request body must be a JSON object/);
    assert.match(refusal(get({ q: 'x'.repeat(MAX_QUERY_CHARS + 1) })), /characters long; the limit is 2000/);
    assert.match(refusal(get({ q: 'bus', k: '2.5' })), /k must be an integer/);
  });

  it('reads a mode and a filter (JSON text in a GET), and names a mode or filter it cannot take', () => {
    assert.deepEqual(parseSearchRequest(get({ q: 'bus', mode: 'hybrid', filter: '{"year":{"gte":2020}}' })), {
      text: 'bus',
      k: 10,
      mode: 'hybrid',
      filter: { year: { gte: 2020 } },
    });
    const message = refusal(post({ q: 'bus', mode: 'fuzzy', filter: { year: { ge: 1 } } }));
    assert.match(message, /mode must be "vector", "lexical", "hybrid", got "fuzzy"/);
    assert.match(message, /filter\.year\.ge: unknown operator/);
    assert.match(refusal(get({ q: 'bus', filter: 'year>2020' })), /filter must be an object of attribute conditions/);
  });
});

describe('parseSimilarRequest', () => {
  it('needs the item: its group and id', () => {
    assert.deepEqual(parseSimilarRequest(get({ group: 'g', id: 'a', k: '3' })), { group: 'g', id: 'a', k: 3 });
    const message = refusal(get({ id: '' }), parseSimilarRequest);
    assert.match(message, /group must be a non-empty string/);
    assert.match(message, /id must be a non-empty string/);
  });
});
