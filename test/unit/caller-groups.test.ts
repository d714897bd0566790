/**
 * Who a caller is: the groups a JWT claim lists, as API Gateway passes claims on, and the local
 * stack's JWT authorizer that passes them on the same way.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { claimText, localJwtAuthorizer, LocalJwtSettingsError } from '../../local-stack/jwt-authorizer.ts';
import { groupsOfClaim } from '../../tasks/caller-groups.ts';
import { tempDir } from '../helpers/local-stack.ts';

const SETTINGS = {
  localJwtSecret: 'a-test-secret-of-enough-length-1234',
  localJwksFile: undefined,
  jwtIssuer: 'https://issuer.example.com/',
  jwtAudience: ['app'],
};
const secret = new TextEncoder().encode(SETTINGS.localJwtSecret);

describe('the groups a claim lists', () => {
  it("reads API Gateway's text for a list, a comma-separated list and one group", () => {
    // Act + Assess
    assert.deepEqual(groupsOfClaim('[acme beta]'), ['acme', 'beta']);
    assert.deepEqual(groupsOfClaim('[acme]'), ['acme']);
    assert.deepEqual(groupsOfClaim('[]'), []);
    assert.deepEqual(groupsOfClaim('acme, beta ,acme'), ['acme', 'beta']);
    assert.deepEqual(groupsOfClaim('acme'), ['acme']);
    assert.deepEqual(groupsOfClaim(42), ['42']);
    assert.deepEqual(groupsOfClaim(['acme', 'beta']), ['acme', 'beta']);
  });
});

describe('the local JWT authorizer', () => {
  it('writes claims as API Gateway does: text, a list bracketed, an object as a map', () => {
    // Act + Assess
    assert.equal(claimText(['acme', 'beta']), '[acme beta]');
    assert.equal(claimText(1_700_000_000), '1700000000');
    assert.equal(claimText(true), 'true');
    assert.equal(claimText({ b: 1, a: ['x'] }), 'map[a:[x] b:1]');
  });

  it('admits a token signed with the secret for the issuer and audience, with its claims as text', async () => {
    // Prepare
    const authorize = localJwtAuthorizer(SETTINGS)!;
    const token = await new SignJWT({ 'cognito:groups': ['acme', 'beta'], sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(SETTINGS.jwtIssuer)
      .setAudience('app')
      .setExpirationTime('5m')
      .sign(secret);
    // Act
    const verdict = await authorize(`Bearer ${token}`);
    // Assess
    assert.ok('context' in verdict, JSON.stringify(verdict));
    assert.equal(verdict.context.jwt.claims['cognito:groups'], '[acme beta]');
    assert.equal(verdict.context.jwt.claims['aud'], 'app');
    assert.match(String(verdict.context.jwt.claims['exp']), /^\d+$/);
  });

  it('refuses a token without exp, signed with another secret, or not a bearer token', async () => {
    // Prepare
    const authorize = localJwtAuthorizer(SETTINGS)!;
    const claims = new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(SETTINGS.jwtIssuer)
      .setAudience('app');
    const noExpiry = await claims.sign(secret);
    const otherSecret = await claims.setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(40)));
    // Act + Assess
    assert.deepEqual(await authorize(`Bearer ${noExpiry}`), {
      refused: 'the token has no exp claim',
    });
    assert.deepEqual(await authorize(`Bearer ${otherSecret}`), { refused: "the token's signature does not verify" });
    assert.deepEqual(await authorize('Basic dXNlcjpwYXNz'), {
      refused: 'send a bearer token: Authorization: Bearer <JWT>',
    });
    assert.deepEqual(await authorize('Bearer not-a-jwt'), { refused: 'the token is not valid: Invalid Compact JWS' });
  });

  it('is off without a local key, and names a key set file that is not one', () => {
    // Prepare
    const dir = tempDir();
    try {
      const file = path.join(dir.path, 'keys.json');
      writeFileSync(file, '{"keys": []}');
      // Act + Assess
      assert.equal(localJwtAuthorizer({ ...SETTINGS, localJwtSecret: undefined }), undefined);
      assert.throws(
        () => localJwtAuthorizer({ ...SETTINGS, localJwtSecret: undefined, localJwksFile: file }),
        (error: Error) =>
          error instanceof LocalJwtSettingsError &&
          /keys\.json: a JSON Web Key Set needs a "keys" list/.test(error.message),
      );
    } finally {
      dir.remove();
    }
  });
});
