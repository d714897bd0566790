/**
 * Calls the search API the way its deployment requires. Locally (and on a stack deployed with
 * `apiAuthorization=none`) a request goes as it is; on AWS with `iam` it is signed with SigV4
 * by the AWS SDK's own signer, with the caller's credentials from the SDK's default chain
 * (environment, profile, SSO, instance role); with `jwt` it carries the `apiToken` as a bearer
 * token, on AWS and locally (where the local stack checks it when started with a local key).
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { DdbFaissConfig } from '../config/config.ts';
import { UserFacingError } from '../config/errors.ts';

/** The search API needs a credential the configuration does not give. */
export class SearchApiAuthorizationError extends UserFacingError {
  override readonly name = 'SearchApiAuthorizationError';
  readonly code = 'search-api-authorization';
}

/** A request to a search route. */
export interface SearchApiRequest {
  readonly method: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * Sends a request to the search API at `url`, authorized as the target requires.
 * @throws {SearchApiAuthorizationError} when the API takes JWTs and no `apiToken` is set
 * @example
 * const response = await callSearchApi(config, `${config.searchUrl}/search`, {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ q: 'a man playing music' }),
 * });
 */
export async function callSearchApi(
  config: Pick<DdbFaissConfig, 'target' | 'apiAuthorization' | 'apiToken' | 'region'>,
  url: string,
  request: SearchApiRequest,
): Promise<Response> {
  const headers = { ...request.headers };
  const init = { method: request.method, ...(request.body !== undefined ? { body: request.body } : {}) };
  if (config.apiAuthorization === 'jwt') {
    // The local stack checks tokens too when started with a local key; the token goes wherever it is set.
    if (config.apiToken)
      return fetch(url, { ...init, headers: { ...headers, authorization: `Bearer ${config.apiToken}` } });
    if (config.target === 'aws')
      throw new SearchApiAuthorizationError(
        'the search API takes JWTs (apiAuthorization=jwt): set DDB_FAISS_API_TOKEN to a token from its issuer',
      );
  }
  if (config.target !== 'aws' || config.apiAuthorization !== 'iam') return fetch(url, { ...init, headers });
  const { host: _host, ...signed } = await signRequest(
    config.region,
    new URL(url),
    request.method,
    headers,
    request.body,
  );
  // fetch sends the same Host itself (the URL's), which the signature covers.
  return fetch(url, { ...init, headers: signed });
}

/** The request's headers with SigV4's added (`authorization`, `x-amz-date`, ...), for API Gateway. */
export async function signRequest(
  region: string,
  url: URL,
  method: string,
  headers: Readonly<Record<string, string>>,
  body?: string,
  signingDate?: Date,
): Promise<Record<string, string>> {
  const signed = await signerFor(region).sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...headers, host: url.host },
      ...(body !== undefined ? { body } : {}),
    },
    signingDate ? { signingDate } : {},
  );
  return signed.headers;
}

/** One credential chain per process: it caches what it resolves and refreshes it before expiry. */
let credentials: ReturnType<typeof defaultProvider> | undefined;
const signers = new Map<string, SignatureV4>();

/** The region's signer, made once: the monitor proxies every query of its search box through it. */
function signerFor(region: string): SignatureV4 {
  let signer = signers.get(region);
  if (!signer) {
    credentials ??= defaultProvider();
    signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Hash.bind(null, 'sha256') });
    signers.set(region, signer);
  }
  return signer;
}
