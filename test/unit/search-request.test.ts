/** How the search handler reads a request: pure parsing, no index or stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_K, MAX_QUERY_CHARS, parseSearchRequest } from '../../tasks/search-handler.ts';

const get = (query: Record<string, string>) =>
  ({ requestContext: { http: { method: 'GET' } }, queryStringParameters: query }) as unknown as APIGatewayProxyEventV2;
const post = (body: unknown) =>
  ({ requestContext: { http: { method: 'POST' } }, body }) as unknown as APIGatewayProxyEventV2 & { body: unknown };

/** The 400's message, as the client reads it. */
function refusal(event: APIGatewayProxyEventV2): string {
  try {
    parseSearchRequest(event);
  } catch (error) {
    const { statusCode, message } = error as { statusCode?: number; message: string };
    assert.equal(statusCode, 400);
    return (JSON.parse(message) as { message: string }).message;
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
});
