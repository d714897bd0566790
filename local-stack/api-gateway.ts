/**
 * A stand-in for API Gateway's HTTP API on the local stack: turns a Node request into an
 * `APIGatewayProxyEventV2` (payload format 2.0), calls the Lambda handler for its route, and
 * writes the handler's response back. Like API Gateway it refuses a body over its limit with a
 * 413 (before buffering it whole); with a local JWT authorizer it checks bearer tokens as API
 * Gateway's JWT authorizer does; unlike it, it answers only to its loopback host name.
 */
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { localLambdaContext } from '../lambda-host/lambda-context.ts';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { foreignHost, readRequestBody, RequestBodyTooLargeError, sendJson } from '../local-http/guard.ts';
import { type JwtAuthorizerContext, type LocalAuthorizer, localJwtAuthorizer } from './jwt-authorizer.ts';

export type HttpLambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** The largest request body taken (a search request is a few hundred bytes). */
const MAX_BODY_BYTES = 1024 * 1024;

function toEvent(
  request: IncomingMessage,
  body: string | undefined,
  authorizer?: JwtAuthorizerContext,
): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(',') : (value ?? ''),
    ]),
  );
  const query = url.searchParams.size
    ? Object.fromEntries([...url.searchParams.keys()].map((key) => [key, url.searchParams.getAll(key).join(',')]))
    : undefined;
  const method = request.method ?? 'GET';
  const event: APIGatewayProxyEventV2WithJWTAuthorizer | APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(authorizer ? { authorizer } : {}),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
  return event;
}

/** Options of {@link apiGateway}. */
export interface ApiGatewayOptions {
  /** Serves what no route takes. @default a 404 */
  readonly fallback?: RequestListener;
  /**
   * The routes' JWT authorizer: a request it refuses gets API Gateway's 401, one it admits
   * reaches the handler with the token's claims. @default none: every request is admitted
   */
  readonly authorize?: LocalAuthorizer;
}

/** The gateway's authorizer option for the configuration: API Gateway's JWT checks when local keys are set. */
export function withLocalJwtAuthorizer(
  config: Parameters<typeof localJwtAuthorizer>[0],
): Pick<ApiGatewayOptions, 'authorize'> {
  const authorize = localJwtAuthorizer(config);
  return authorize ? { authorize } : {};
}

/** Routes requests by path prefix to Lambda handlers; anything else is a 404. */
export function apiGateway(
  routes: Readonly<Record<string, HttpLambdaHandler>>,
  { fallback, authorize }: ApiGatewayOptions = {},
): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const refused = foreignHost(request);
      if (refused) {
        sendJson(request, response, 403, { message: refused });
        return;
      }
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      const route = Object.keys(routes).find((prefix) => path === prefix || path.startsWith(`${prefix}/`));
      if (!route) {
        if (fallback) fallback(request, response);
        else sendJson(request, response, 404, { message: `no route ${path}` });
        return;
      }
      try {
        const authorization = await authorize?.(request.headers.authorization);
        if (authorization && 'refused' in authorization) {
          // API Gateway's answer, with the reason it keeps in its logs.
          response.writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer error="invalid_token" error_description="${authorization.refused.replace(/"/g, "'")}"`,
          });
          response.end(JSON.stringify({ message: `Unauthorized: ${authorization.refused}` }));
          return;
        }
        const body = await readRequestBody(request, MAX_BODY_BYTES);
        const result = await routes[route]!(
          toEvent(request, body === '' ? undefined : body, authorization?.context),
          localLambdaContext(route.slice(1) || 'root', 30_000),
        );
        response.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string>) });
        response.end(result.body ?? '');
      } catch (error) {
        if (error instanceof RequestBodyTooLargeError) sendJson(request, response, 413, { message: error.message });
        else sendJson(request, response, 500, { message: `gateway error: ${(error as Error).message}` });
      }
    })();
  };
}
