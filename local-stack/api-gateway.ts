/**
 * A stand-in for API Gateway's HTTP API on the local stack: turns a Node request into an
 * `APIGatewayProxyEventV2` (payload format 2.0), calls the Lambda handler for its route, and
 * writes the handler's response back. Like API Gateway it refuses a body over its limit with a
 * 413 (before buffering it whole); unlike it, it answers only to its loopback host name.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { localLambdaContext } from './engine/lambda-context.ts';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { foreignHost, readRequestBody, RequestBodyTooLargeError, sendJson } from './http-guard.ts';

export type HttpLambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** The largest request body taken (a search request is a few hundred bytes). */
const MAX_BODY_BYTES = 1024 * 1024;

function toEvent(request: IncomingMessage, body: string | undefined): APIGatewayProxyEventV2 {
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
  return {
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
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
}

/** Routes requests by path prefix to Lambda handlers; anything else is a 404. */
export function apiGateway(
  routes: Readonly<Record<string, HttpLambdaHandler>>,
  fallback?: RequestListener,
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
        const body = await readRequestBody(request, MAX_BODY_BYTES);
        const result = await routes[route]!(
          toEvent(request, body === '' ? undefined : body),
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
