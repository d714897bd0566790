/**
 * Tenant isolation: the content groups a caller may search, read from the claims of its JWT as
 * API Gateway's JWT authorizer passes them on (`requestContext.authorizer.jwt.claims`), never
 * from the request. API Gateway delivers every claim as text: a list claim such as
 * `cognito:groups: ["acme", "beta"]` arrives as `"[acme beta]"`, a number as its digits.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { RequestError } from '../config/errors.ts';

/** Thrown when the search API isolates tenants and the caller's identity says no group. */
export class NoTenantClaimError extends RequestError {
  override readonly name = 'NoTenantClaimError';
  readonly code = 'no-tenant-claim';
  readonly status = 403;
}

/** A claim's value as an authorizer context may carry it (API Gateway: always text). */
type ClaimValue = string | number | boolean | readonly string[];

/** The event as an API Gateway JWT authorizer delivers it (absent on a route without one). */
type MaybeAuthorizedEvent = APIGatewayProxyEventV2 & {
  readonly requestContext: {
    readonly authorizer?: { readonly jwt?: { readonly claims?: Record<string, ClaimValue> } };
  };
};

/**
 * The groups a claim lists: `[a b c]` (API Gateway's text for a list claim), a comma-separated
 * list (`a,b`, as a custom attribute holds several), or one group.
 *
 * @example
 * ```ts
 * groupsOfClaim('[acme beta]'); // ['acme', 'beta']
 * groupsOfClaim('acme');        // ['acme']
 * ```
 */
export function groupsOfClaim(value: ClaimValue): string[] {
  if (Array.isArray(value)) return value.map(String);
  const text = String(value).trim();
  const listed = /^\[.*\]$/s.test(text) ? text.slice(1, -1).split(/\s+/) : text.split(',');
  return [...new Set(listed.map((group) => group.trim()).filter(Boolean))];
}

/**
 * The content groups the caller may search, from its token's `claim`; undefined (every group)
 * when the API does not isolate tenants.
 * @throws {NoTenantClaimError} when the API isolates tenants and the request carries no verified
 *   token with the claim
 *
 * @example
 * ```ts
 * allowedGroupsOf(event, 'cognito:groups'); // ['acme', 'beta'] for claims { 'cognito:groups': '[acme beta]' }
 * ```
 */
export function allowedGroupsOf(event: APIGatewayProxyEventV2, claim: string | undefined): string[] | undefined {
  if (claim === undefined) return undefined;
  const claims = (event as MaybeAuthorizedEvent).requestContext.authorizer?.jwt?.claims;
  if (!claims)
    throw new NoTenantClaimError(
      `this search API searches only the content groups a caller's token lists (claim "${claim}"), ` +
        'and the request carries no verified token (on the local stack: start it with localJwtSecret or localJwksFile)',
    );
  const value = claims[claim];
  if (value === undefined)
    throw new NoTenantClaimError(`your token has no "${claim}" claim, which lists the content groups you may search`);
  return groupsOfClaim(value);
}
