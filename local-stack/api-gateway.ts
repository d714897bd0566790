/**
 * A stand-in for API Gateway's HTTP API on the local stack: turns a Node request into an
 * `APIGatewayProxyEventV2` (payload format 2.0), calls the Lambda handler for its route, and
 * writes the handler's response back.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { localLambdaContext } from '../workflow/engine/lambda-context.ts';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export type HttpLambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
}

function toEvent(request: IncomingMessage, body: string | undefined): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : (value ?? '')]));
  const query = url.searchParams.size ? Object.fromEntries([...url.searchParams.keys()].map((key) => [key, url.searchParams.getAll(key).join(',')])) : undefined;
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
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
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
export function apiGateway(routes: Readonly<Record<string, HttpLambdaHandler>>, fallback?: RequestListener): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      const route = Object.keys(routes).find((prefix) => path === prefix || path.startsWith(`${prefix}/`));
      if (!route) {
        if (fallback) fallback(request, response);
        else response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no route ${path}` }));
        return;
      }
      try {
        const result = await routes[route]!(toEvent(request, await readBody(request)), localLambdaContext(route.slice(1) || 'root', 30_000));
        response.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string>) });
        response.end(result.body ?? '');
      } catch (error) {
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `gateway error: ${(error as Error).message}` }));
      }
    })();
  };
}
