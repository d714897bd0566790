/**
 * Tenant isolation with `jwt` authorization: a caller searches only the content groups its
 * token's claim lists. Shown through the search handler, with events that carry the claims the
 * way API Gateway's JWT authorizer delivers them (every value as text, a list as "[a b]"), and
 * through the local server, which checks tokens against a local JSON Web Key Set as API Gateway
 * checks them against the issuer's.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { createSearchHandler } from '../../tasks/search-handler.ts';
import { runCli } from '../helpers/cli.ts';
import { IndexerHarness, testObservability } from '../helpers/indexer.ts';
import { tempDir } from '../helpers/local-stack.ts';

const ISSUER = 'https://issuer.example.com/pool';
const AUDIENCE = 'app-client';
const CLAIM = 'cognito:groups';
const QUERY = 'the chef is cooking pasta in the kitchen';
const TOPICS = [
  'a boy rides his bicycle to school',
  'the chef is cooking rice in the kitchen',
  'a woman plays the violin on stage',
  'the cat sleeps on the warm sofa',
  'two men are cooking dinner together',
  'a dog runs across the green field',
];

/** 30 items in each of three groups; those of "rival" hold the query itself, the best match any model can give. */
const ITEMS = Array.from({ length: 90 }, (_, i) => {
  const group = ['acme', 'beta', 'rival'][i % 3]!;
  const text = group === 'rival' ? QUERY : `${TOPICS[i % TOPICS.length]} ${i}`;
  return { group, id: `${group}-${i}`, text };
});
const inTenant = (groups: readonly string[]) => (hit: { group: string }) => groups.includes(hit.group);

interface Answer {
  readonly status: number;
  readonly body: {
    count?: number;
    hits?: { group: string; id: string; score: number }[];
    message?: string;
    code?: string;
  };
}

describe('tenant isolation (jwt authorization, tenantClaim)', () => {
  const dir = tempDir();
  let h: IndexerHarness;
  let handler: (event: APIGatewayProxyEventV2) => Promise<Answer>;
  let sign: (
    claims: JWTPayload,
    options?: { audience?: string; issuer?: string; expiresIn?: string },
  ) => Promise<string>;

  before(async () => {
    // A key pair as an OIDC issuer has one; its public half is the local key set.
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwksFile = path.join(dir.path, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
    sign = (claims, options = {}) => {
      const token = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(options.issuer ?? ISSUER)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m');
      return (options.audience === '' ? token : token.setAudience(options.audience ?? AUDIENCE)).sign(privateKey);
    };
    h = await IndexerHarness.start(dir.path, {
      'api-authorization': 'jwt',
      'jwt-issuer': ISSUER,
      'jwt-audience': AUDIENCE,
      'tenant-claim': CLAIM,
      'local-jwks-file': jwksFile,
    });
    await h.put(ITEMS);
    const run = await h.run();
    assert.equal(run.status, 'SUCCEEDED', run.cause);
    const search = createSearchHandler({ config: h.config, clients: h.stack.clients }, testObservability(dir.path));
    handler = async (event) => {
      const response = (await search(event, {} as Context)) as APIGatewayProxyStructuredResultV2;
      return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as Answer['body'] };
    };
  });
  after(async () => {
    await h.close();
    dir.remove();
  });

  /** An API Gateway HTTP API event (payload 2.0) from a caller whose token carried `claims`. */
  const event = (
    route: '/search' | '/similar',
    query: Record<string, string>,
    claims?: Record<string, string>,
  ): APIGatewayProxyEventV2 =>
    ({
      version: '2.0',
      routeKey: `GET ${route}`,
      rawPath: route,
      rawQueryString: new URLSearchParams(query).toString(),
      headers: {},
      queryStringParameters: query,
      requestContext: {
        http: { method: 'GET', path: route, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' },
        ...(claims ? { authorizer: { principalId: '', integrationLatency: 0, jwt: { claims, scopes: null } } } : {}),
      },
      isBase64Encoded: false,
    }) as unknown as APIGatewayProxyEventV2;
  /** Claims as API Gateway passes them on: text, the group list bracketed. */
  const claimsOf = (groups: string) => ({ sub: 'user-1', [CLAIM]: groups, exp: '1999999999', iss: ISSUER });

  describe('through the handler, with claims as API Gateway delivers them', () => {
    it("searches only the caller's groups, exactly: k hits of theirs though another group's match better", async () => {
      // Act
      const tenant = await handler(event('/search', { q: QUERY, k: '40' }, claimsOf('[acme beta]')));
      const all = await handler(event('/search', { q: QUERY, k: '90' }, claimsOf('[acme beta rival]')));
      // Assess
      assert.equal(tenant.status, 200, tenant.body.message);
      assert.equal(tenant.body.count, 40, 'the two groups hold 60 items');
      assert.ok(tenant.body.hits!.every(inTenant(['acme', 'beta'])));
      assert.equal(all.body.hits![0]!.group, 'rival', 'rival items are the best matches for everyone else');
      assert.deepEqual(
        tenant.body.hits!.map((hit) => hit.score),
        all.body
          .hits!.filter(inTenant(['acme', 'beta']))
          .slice(0, 40)
          .map((hit) => hit.score),
        "the tenant's 40 best, as a search of every group ranks them",
      );
    });

    it('keeps lexical and hybrid ranking to them too', async () => {
      for (const mode of ['lexical', 'hybrid']) {
        // Act
        const answer = await handler(event('/search', { q: 'cooking kitchen', k: '20', mode }, claimsOf('[beta]')));
        const everyone = await handler(
          event('/search', { q: 'cooking kitchen', k: '20', mode }, claimsOf('[beta rival]')),
        );
        // Assess
        assert.equal(answer.status, 200, answer.body.message);
        assert.equal(answer.body.count, 20, mode);
        assert.ok(answer.body.hits!.every(inTenant(['beta'])), mode);
        assert.ok(everyone.body.hits!.some(inTenant(['rival'])), `${mode}: rival items rank otherwise`);
      }
    });

    it('takes a one-group claim (a custom attribute) and a comma-separated one', async () => {
      // Act
      const one = await handler(event('/search', { q: QUERY, k: '5' }, { 'custom:tenant': 'x', [CLAIM]: 'beta' }));
      const listed = await handler(event('/search', { q: QUERY, k: '50' }, claimsOf('beta, rival')));
      // Assess
      assert.ok(one.body.count === 5 && one.body.hits!.every(inTenant(['beta'])));
      assert.ok(listed.body.hits!.every(inTenant(['beta', 'rival'])));
      assert.ok(listed.body.hits!.some(inTenant(['rival'])));
    });

    it('answers a group outside them with a 403 that says so, and nothing of the group', async () => {
      // Act
      const other = await handler(event('/search', { q: QUERY, group: 'rival' }, claimsOf('[acme beta]')));
      const unknown = await handler(event('/search', { q: QUERY, group: 'nosuch' }, claimsOf('[acme beta]')));
      const own = await handler(event('/search', { q: QUERY, group: 'beta', k: '5' }, claimsOf('[acme beta]')));
      // Assess
      assert.equal(other.status, 403);
      assert.match(other.body.message!, /group "rival" is not one of the content groups you may search/);
      assert.deepEqual(Object.keys(other.body), ['message', 'code'], 'no hit and no count');
      assert.equal(other.body.code, 'forbidden-group');
      assert.equal(unknown.status, 403, 'the same answer whether the group exists or not');
      assert.equal(own.status, 200);
      assert.ok(own.body.count === 5 && own.body.hits!.every(inTenant(['beta'])));
    });

    it('keeps "more like this" to them: the item must be theirs, and so must every hit', async () => {
      // Act
      const theirs = await handler(event('/similar', { group: 'rival', id: 'rival-2' }, claimsOf('[acme beta]')));
      const own = await handler(event('/similar', { group: 'acme', id: 'acme-0', k: '30' }, claimsOf('[acme beta]')));
      // Assess
      assert.equal(theirs.status, 403);
      assert.equal(own.status, 200, own.body.message);
      assert.equal(own.body.count, 30);
      assert.ok(own.body.hits!.every(inTenant(['acme', 'beta'])));
    });

    it('refuses a caller whose token lists no group claim, or a request with no verified token', async () => {
      // Act
      const noClaim = await handler(event('/search', { q: QUERY }, { sub: 'user-1', iss: ISSUER }));
      const anonymous = await handler(event('/search', { q: QUERY }));
      const noGroups = await handler(event('/search', { q: QUERY }, claimsOf('[]')));
      // Assess
      assert.equal(noClaim.status, 403);
      assert.match(noClaim.body.message!, /your token has no "cognito:groups" claim/);
      assert.equal(anonymous.status, 403);
      assert.match(anonymous.body.message!, /carries no verified token/);
      assert.equal(noGroups.status, 200);
      assert.equal(noGroups.body.count, 0, 'an empty list allows no group');
    });
  });

  describe('through the local server, which checks tokens as API Gateway does', () => {
    const ask = (query: Record<string, string>, token?: string) =>
      h.search(new URLSearchParams(query).toString(), token ? { headers: { authorization: `Bearer ${token}` } } : {});

    it('admits a valid token and searches only its groups; a group outside them is a 403', async () => {
      // Prepare
      const token = await sign({ sub: 'user-1', [CLAIM]: ['acme', 'beta'] });
      // Act
      const mine = await ask({ q: QUERY, k: '40' }, token);
      const other = await ask({ q: QUERY, group: 'rival' }, token);
      // Assess
      assert.equal(mine.status, 200, mine.text);
      assert.equal(mine.body.count, 40);
      assert.ok(mine.body.hits.every(inTenant(['acme', 'beta'])));
      assert.equal(other.status, 403);
      assert.match(other.body.message, /group "rival" is not one of/);
    });

    it("takes a Cognito access token's client_id when it has no aud", async () => {
      // Prepare
      const token = await sign({ client_id: AUDIENCE, [CLAIM]: ['rival'] }, { audience: '' });
      // Act
      const answer = await ask({ q: QUERY, k: '5' }, token);
      // Assess
      assert.equal(answer.status, 200, answer.text);
      assert.ok(answer.body.hits.every(inTenant(['rival'])));
    });

    it('refuses with a 401 a request with no token, an expired one, another audience, issuer or key', async () => {
      // Prepare
      const { privateKey: otherKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT({ [CLAIM]: ['rival'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('10m')
        .sign(otherKey);
      const cases: [string, string | undefined, RegExp][] = [
        ['no token', undefined, /send a bearer token/],
        ['expired', await sign({ [CLAIM]: ['acme'] }, { expiresIn: '-1m' }), /expired/],
        ['another audience', await sign({ [CLAIM]: ['acme'] }, { audience: 'other-app' }), /audience/],
        ['another issuer', await sign({ [CLAIM]: ['acme'] }, { issuer: 'https://evil.example.com/' }), /issuer/],
        ['another key', forged, /signature/],
      ];
      for (const [name, token, why] of cases) {
        // Act
        const answer = await ask({ q: QUERY }, token);
        // Assess
        assert.equal(answer.status, 401, name);
        assert.match(answer.body.message, /^Unauthorized/, name);
        assert.match(answer.body.message, why, name);
        assert.equal(answer.body.hits, undefined, name);
      }
    });

    it('`ddb-faiss search` sends the apiToken to the local server too', async () => {
      // Prepare
      const saved = process.env['DDB_FAISS_API_TOKEN'];
      process.env['DDB_FAISS_API_TOKEN'] = await sign({ sub: 'user-1', [CLAIM]: ['beta'] });
      const flags = ['--data-dir', h.config.dataDir, '--api-authorization', 'jwt', '--json'];
      try {
        // Act
        const run = await runCli(['search', QUERY, '-k', '5', ...flags]);
        // Assess
        assert.equal(run.code, 0, run.stderr);
        const answer = JSON.parse(run.stdout) as Answer['body'];
        assert.equal(answer.count, 5);
        assert.ok(answer.hits!.every(inTenant(['beta'])));
      } finally {
        if (saved === undefined) delete process.env['DDB_FAISS_API_TOKEN'];
        else process.env['DDB_FAISS_API_TOKEN'] = saved;
      }
    });
  });
});
