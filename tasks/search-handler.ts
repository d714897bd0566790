/**
 * The search service's Lambda handler for API Gateway HTTP API events:
 *   GET  /search?q=...&k=10&mode=hybrid&group=...&filter={"year":{"gte":2020}}&attributes=a,b
 *   POST /search  {"q": "...", "k": 10, "mode": "vector", "group": "...", "filter": {...}, "attributes": ["a"]}
 * Wrapped with middy's HTTP middlewares: JSON body parsing, CORS, error handling (no stack
 * trace ever reaches a response). Bad input is a 400 saying what is wrong; no published
 * index yet is a 503 saying so, as is a damaged index (naming the file and what heals it) and a
 * table that throttles the reads past their deadline (with Retry-After). With tenant isolation
 * (the tenantClaim setting) a caller reads only the groups its token lists; a group outside them
 * is a 403. Nothing a caller sends gets a 500.
 */
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpErrorHandler from '@middy/http-error-handler';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import { createError } from '@middy/util';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { TaskHandler } from './handler.ts';
import { IndexReader } from '../search/index-reader.ts';
import { type Observability, observeTask, type TaskObservation } from './observability.ts';
import { RequestError } from '../config/errors.ts';
import { search } from '../search/query.ts';
import type { SearchContext } from '../search/results.ts';
import { similar } from '../search/similar.ts';
import { allowedGroupsOf } from './caller-groups.ts';
import { parseSearchRequest, parseSimilarRequest } from './search-request.ts';
import { SEARCH_ROUTES } from './search-routes.ts';

/** An error's body: what went wrong, and for an error of ours its stable code. */
const message = (text: string, code?: string): string => JSON.stringify({ message: text, ...(code ? { code } : {}) });
const badRequest = (text: string) => createError(400, message(text, 'bad-request'));

/**
 * json-body-parser answers malformed JSON with 422, and a body naming `__proto__` or
 * `constructor.prototype` with a 422 "Forbidden key" (prototype poisoning): to the client both
 * are bad requests, said as they are.
 */
const malformedJsonIsBadRequest = (): MiddlewareObj => ({
  onError: async (request) => {
    const error = request.error as { statusCode?: number; message?: string; cause?: { data?: unknown } } | null;
    const forbiddenKey = error?.message === 'Forbidden key in JSON body' ? error.cause?.data : undefined;
    if (error?.statusCode === 422)
      request.error = badRequest(
        typeof forbiddenKey === 'string'
          ? `the request body uses the key "${forbiddenKey}", which is not accepted anywhere in a request`
          : 'the request body is not valid JSON',
      );
    if (error?.statusCode === 415)
      request.error = createError(415, message('send the request body as application/json'));
  },
});

/** middy's JSON body parser, for POST only: a GET has no body and no content type. */
const parseJsonBodyOnPost = (): MiddlewareObj => {
  const parser = httpJsonBodyParser({ disableContentTypeError: false });
  return {
    before: async (request) => {
      const event = request.event as APIGatewayProxyEventV2;
      if (event.requestContext?.http?.method === 'POST')
        await parser.before?.(request as Parameters<NonNullable<typeof parser.before>>[0]);
    },
  };
};

/** The HTTP error middy's error handler answers a {@link RequestError} with: message and code exposed, headers. */
const httpError = (error: RequestError): Error =>
  Object.assign(createError(error.status, message(error.message, error.code), { expose: true }), {
    headers: { ...error.headers },
  });

/**
 * The answer to a failed request: a {@link RequestError} says its own status, what the caller got
 * wrong (4xx) or why the service cannot answer now (503, with Retry-After where waiting helps).
 * Anything else stays an internal error.
 */
function httpErrorOf(error: unknown): unknown {
  return error instanceof RequestError ? httpError(error) : error;
}

/** A search's metric is its latency; its log line says the status, never the hits (user data). */
const SEARCH_OBSERVATION: TaskObservation<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  metricsOf: (_event, _response, durationMs) => ({ searchLatency: durationMs }),
  summaryOf: (response) => ({ statusCode: response.statusCode }),
};

/** The search function's handler: an API Gateway HTTP API (payload 2.0) event in, a response out. */
export type SearchHandler = TaskHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;

/**
 * Whether this process is a provisioned search instance in its init: Lambda then runs the init
 * before any request arrives, and the index and model are loaded there (an on-demand instance
 * loads them on its first query, whose API Gateway limit, 29 s, is longer than init's 10 s).
 */
export const isProvisionedSearchInit = (env: NodeJS.ProcessEnv): boolean =>
  env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'provisioned-concurrency' && (env['_HANDLER'] ?? '').endsWith('.search');

/** The search handler; the index reader and model stay loaded across invocations. */
export function createSearchHandler(
  context: SearchContext,
  observability: Observability,
  reader = new IndexReader(context.config.efsRoot, context.config.indexLayout),
): SearchHandler {
  const handle = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const path = (event.rawPath ?? event.requestContext?.http?.path ?? '/').replace(/\/$/, '');
    const method = event.requestContext?.http?.method ?? 'GET';
    const route = SEARCH_ROUTES.find((known) => known === path);
    if (!route) throw createError(404, message(`no route ${method} ${path}; use ${SEARCH_ROUTES.join(' or ')}`));
    if (method !== 'GET' && method !== 'POST')
      throw createError(405, message(`${method} is not allowed on ${route}; use GET or POST`));
    try {
      // Who the caller is (the groups its verified token lists) comes before what it asks.
      const allowedGroups = allowedGroupsOf(event, context.config.tenantClaim);
      const caller = allowedGroups ? { allowedGroups } : {};
      const result =
        route === '/search'
          ? await search(context, reader, { ...parseSearchRequest(event), ...caller })
          : await similar(context, reader, { ...parseSimilarRequest(event), ...caller });
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          mode: result.mode,
          generation: result.generation,
          model: result.model,
          count: result.hits.length,
          hits: result.hits,
          ...(result.reason ? { reason: result.reason } : {}),
          timingsMs: result.timings,
        }),
      };
    } catch (error) {
      throw httpErrorOf(error);
    }
  };
  // CORS comes first: middy runs onError in reverse order, so the error handler's answer exists
  // when CORS adds its headers, and a listed page can read why a request was refused. It grants
  // the origins the corsOrigins setting lists, as the API's preflight does: none by default.
  return (
    middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(handle)
      .use(httpCors({ origins: [...context.config.corsOrigins] }))
      // Logged by observeTask (refusals at WARN with their reason, faults at ERROR), not again here.
      .use(httpErrorHandler({ logger: false, fallbackMessage: message('internal error') }))
      .use(observeTask(observability, 'search', SEARCH_OBSERVATION))
      .use(parseJsonBodyOnPost())
      .use(malformedJsonIsBadRequest())
  );
}
