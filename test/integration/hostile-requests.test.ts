/**
 * Nothing a caller sends gets a 500: attribute names, filter keys and groups are looked up as the
 * item's own properties only (`constructor`, `toString`, `__proto__` are ordinary names, or clear
 * 400s), a refused request is logged at WARN with its reason (no stack trace), and "more like
 * this" of an item deleted from the table since it was indexed is a 404.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { localObservability } from '../../lambda-host/observability.ts';
import { IndexerHarness, sentences } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { captureLogLines } from '../helpers/logs.ts';

const INHERITED_NAMES = ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'];

describe('hostile requests to the search API', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  before(async () => {
    h = await IndexerHarness.start(dir.path, {}, localObservability({ dataDir: dir.path, logLevel: 'INFO' }));
    await h.put(sentences(40));
    assert.equal((await h.run()).status, 'SUCCEEDED');
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  /** GET or POST to a route. */
  const call = async (route: '/search' | '/similar', fields: Record<string, unknown>, method: 'GET' | 'POST') => {
    const base = `${h.stack.info.endpoints.http}${route}`;
    const response =
      method === 'GET'
        ? await fetch(
            `${base}?${new URLSearchParams(
              Object.entries(fields).map(([key, value]) => [
                key,
                typeof value === 'string' ? value : JSON.stringify(value),
              ]),
            )}`,
          )
        : await fetch(base, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(fields),
          });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it('reads attribute names that objects inherit as the names they are, on every route and method', async () => {
    for (const method of ['GET', 'POST'] as const)
      for (const name of INHERITED_NAMES) {
        const attributes = method === 'GET' ? name : [name];
        const searched = await call('/search', { q: 'a dog is riding', k: 3, attributes }, method);
        const similar = await call('/similar', { group: 'g', id: 'item-0003', k: 3, attributes }, method);
        for (const answer of [searched, similar]) {
          assert.equal(answer.status, 200, `${method} attributes=${name}: ${JSON.stringify(answer.body)}`);
          assert.equal(answer.body['hits'].length, 3);
          for (const hit of answer.body['hits']) assert.deepEqual(hit.attributes, {}, 'no item has such an attribute');
        }
      }
  });

  it('refuses a filter on an inherited name as one no item has, and says why a body naming __proto__ is refused', async () => {
    for (const method of ['GET', 'POST'] as const)
      for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
        const answer = await call('/search', { q: 'a dog', filter: { [name]: 'x' } }, method);
        assert.equal(answer.status, 400, `${method} filter ${name}`);
        assert.match(answer.body['message'], new RegExp(`filter\\.${name}: no indexed item has this attribute`));
      }
    // In a GET the filter is JSON text; its __proto__ is a key like any other.
    const got = await call('/search', { q: 'a dog', filter: '{"__proto__": {"eq": 1}}' }, 'GET');
    assert.equal(got.status, 400);
    assert.match(got.body['message'], /filter\.__proto__: no indexed item has this attribute/);
    // A POST body is refused whole by the JSON parser (prototype poisoning): said as it is.
    const posted = await fetch(`${h.stack.info.endpoints.http}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"q": "a dog", "filter": {"__proto__": {"eq": 1}}}',
    });
    assert.equal(posted.status, 400);
    assert.match(((await posted.json()) as { message: string }).message, /uses the key "__proto__"/);
  });

  it('logs a refused request at WARN with its reason, never at ERROR with a stack', async () => {
    const lines = await captureLogLines(async () => {
      assert.equal((await call('/search', { q: 'a dog', k: 500 }, 'GET')).status, 400);
      assert.equal((await call('/search', { q: 'a dog', filter: { constructor: 1 } }, 'POST')).status, 400);
    });
    const refused = lines.filter((line) => line['message'] === 'search refused the request');
    assert.equal(refused.length, 2, JSON.stringify(lines));
    assert.ok(refused.every((line) => line['level'] === 'WARN' && line['statusCode'] === 400));
    assert.match(String(refused[0]!['reason']), /k must be an integer from 1 to 100/);
    assert.ok(!lines.some((line) => line['level'] === 'ERROR'), 'nothing at ERROR');
  });

  it('answers "more like this" of an item deleted from the table since it was indexed with a 404', async () => {
    // Prepare: a hard delete, which the index does not hear of until a backfill
    await h.stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: h.config.tableName,
        Key: { [h.config.groupAttribute]: { S: 'g' }, [h.config.idAttribute]: { S: 'item-0007' } },
      }),
    );
    // Act
    const answer = await call('/similar', { group: 'g', id: 'item-0007', k: 3 }, 'GET');
    // Assess
    assert.equal(answer.status, 404);
    assert.match(answer.body['message'], /the table holds no item g\/item-0007 any more/);
  });
});
