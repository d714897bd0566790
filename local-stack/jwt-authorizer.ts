/**
 * API Gateway's JWT authorizer for the local stack, so that `jwt` authorization and tenant
 * isolation can be tried before deploying. Like API Gateway it takes a bearer token from the
 * `Authorization` header, checks its signature, `iss` (the jwtIssuer setting), `exp` and `nbf`,
 * and that its `aud` (or, without one, its `client_id`) names one of the jwtAudience entries;
 * it refuses anything else with a 401. The claims of a token it admits reach the handler as API
 * Gateway passes them on: every value as text, a list as `[a b]`. Keys come from a shared
 * secret (HS256, for tests) or a local JSON Web Key Set file (public keys, as an issuer
 * publishes them), never from the network. Local-only: Lambda code never imports it.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type { APIGatewayEventRequestContextJWTAuthorizer } from 'aws-lambda';
import type { DdbFaissConfig } from '../config/config.ts';
import { UserFacingError } from '../config/errors.ts';

/** What an admitted token passes on to the handler (`requestContext.authorizer`), as API Gateway does. */
export type JwtAuthorizerContext = APIGatewayEventRequestContextJWTAuthorizer;

/** A request's verdict: the authorizer context, or why the token is refused. */
export type Authorization = { readonly context: JwtAuthorizerContext } | { readonly refused: string };

/** Checks a request's bearer token. */
export type LocalAuthorizer = (authorizationHeader: string | undefined) => Promise<Authorization>;

/** Thrown when the local JWT settings cannot be used (e.g. the key set file is not one). */
export class LocalJwtSettingsError extends UserFacingError {
  override readonly name = 'LocalJwtSettingsError';
  readonly code = 'local-jwt-settings';
}

/** The algorithms of a key set's public keys (API Gateway takes RSA; EC keys are common too). */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

/**
 * The local stack's JWT authorizer for the configuration, or undefined when the search API is
 * not checked locally (no localJwtSecret or localJwksFile: the loopback API is open, as before).
 * @throws {LocalJwtSettingsError} when the key set file cannot be read as a JSON Web Key Set
 *
 * @example
 * ```ts
 * const authorize = localJwtAuthorizer(config); // with DDB_FAISS_LOCAL_JWT_SECRET set
 * await authorize?.('Bearer eyJhbGciOi...');
 * // { context: { jwt: { claims: { 'cognito:groups': '[acme beta]', ... } } } }
 * ```
 */
export function localJwtAuthorizer(
  config: Pick<DdbFaissConfig, 'localJwtSecret' | 'localJwksFile' | 'jwtIssuer' | 'jwtAudience'>,
): LocalAuthorizer | undefined {
  const { localJwtSecret, localJwksFile, jwtIssuer, jwtAudience } = config;
  if (localJwtSecret === undefined && localJwksFile === undefined) return undefined;
  const options = { ...(jwtIssuer !== undefined ? { issuer: jwtIssuer } : {}), requiredClaims: ['exp'] };
  let verify: (token: string) => Promise<{ payload: JWTPayload }>;
  if (localJwtSecret !== undefined) {
    const secret = new TextEncoder().encode(localJwtSecret);
    verify = (token) => jwtVerify(token, secret, { ...options, algorithms: ['HS256'] });
  } else {
    const keySet = createLocalJWKSet(readKeySet(localJwksFile!));
    verify = (token) => jwtVerify(token, keySet, { ...options, algorithms: ASYMMETRIC_ALGORITHMS });
  }
  return async (header) => {
    const started = performance.now();
    const token = /^Bearer +(\S+)$/i.exec(header?.trim() ?? '')?.[1];
    if (!token) return { refused: 'send a bearer token: Authorization: Bearer <JWT>' };
    let payload: JWTPayload;
    try {
      ({ payload } = await verify(token));
    } catch (error) {
      return { refused: refusalOf(error) };
    }
    const audiences = payload.aud === undefined ? [payload['client_id']] : [payload.aud].flat();
    if (!audiences.some((audience) => typeof audience === 'string' && jwtAudience.includes(audience)))
      return { refused: `the token's audience is not one of ${jwtAudience.join(', ')}` };
    const scope = payload['scope'];
    return {
      context: {
        principalId: '',
        integrationLatency: Math.round(performance.now() - started),
        jwt: {
          claims: Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, claimText(value)])),
          scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
        },
      },
    };
  };
}

/**
 * A claim's value as API Gateway passes it to a Lambda function: text, a list as its items
 * space-separated in brackets, an object as Go prints a map.
 */
export function claimText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(claimText).join(' ')}]`;
  if (value !== null && typeof value === 'object')
    return `map[${Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, inner]) => `${name}:${claimText(inner)}`)
      .join(' ')}]`;
  return String(value);
}

function readKeySet(file: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LocalJwtSettingsError(`localJwksFile ${file}: cannot be read as JSON (${(error as Error).message})`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new LocalJwtSettingsError(
      `localJwksFile ${file}: a JSON Web Key Set needs a "keys" list with at least one key`,
    );
  return parsed as JSONWebKeySet;
}

/** Why jose refused a token, in a user's words. */
function refusalOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `the token has no ${error.claim} claim`;
    if (error.claim === 'iss') return "the token's issuer is not the jwtIssuer";
    if (error.claim === 'nbf') return 'the token is not valid yet (nbf)';
    return `the token's ${error.claim} claim: ${error.reason}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the key set matches the token';
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  if (error instanceof errors.JOSEError) return `the token is not valid: ${error.message}`;
  throw error;
}
