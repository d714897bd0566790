/**
 * What every HTTP server of the local stack (and `ddb-faiss monitor`) does before it acts on
 * a request: read its body up to a limit, refusing a larger one before it is buffered whole;
 * answer only to its own loopback host name, so a page whose domain was re-pointed at 127.0.0.1
 * (DNS rebinding) cannot use it; and take state-changing requests only as JSON from the same
 * origin, so no other web page the user visits can start or stop runs.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

/** Thrown when a request body is larger than the endpoint takes. */
export class RequestBodyTooLargeError extends Error {
  override readonly name = 'RequestBodyTooLargeError';
  readonly statusCode = 413;
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes`);
  }
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before a byte is read; a streamed body as soon as it passes the limit (the rest is
 * never read: answer with {@link sendJson}, which closes the connection).
 * @throws {RequestBodyTooLargeError}
 */
export function readRequestBody(request: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > limit) return Promise.reject(new RequestBodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      request.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      request.pause();
      reject(new RequestBodyTooLargeError(limit));
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** Writes a JSON answer. An unread request body (a refused one) ends the connection with it. */
export function sendJson(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const unread = !request.complete;
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(unread ? { connection: 'close' } : {}),
      ...headers,
    })
    .end(JSON.stringify(body));
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Why the request is refused for its Host header, or undefined: only this server's loopback names are answered. */
export function foreignHost(request: IncomingMessage): string | undefined {
  const host = request.headers.host ?? '';
  const port = request.socket.localPort;
  if (LOOPBACK_NAMES.some((name) => host === `${name}:${port}`)) return undefined;
  const allowed = LOOPBACK_NAMES.map((name) => `${name}:${port}`).join(', ');
  return `Host "${host}" is refused: this server answers only to ${allowed} (a guard against DNS rebinding)`;
}

/**
 * Why a state-changing request is refused, with its status, or undefined. It must be JSON
 * (a cross-site form or `text/plain` post needs no preflight) from this origin (the browser's
 * Origin and Sec-Fetch-Site headers say where a request comes from).
 */
export function crossSiteWrite(request: IncomingMessage): { status: number; message: string } | undefined {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, message: `cross-site request refused (Sec-Fetch-Site: ${site})` };
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) {
    return { status: 403, message: `cross-site request refused (Origin: ${origin})` };
  }
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    return { status: 415, message: `send the request body as application/json (got "${type || 'none'}")` };
  return undefined;
}

/**
 * Puts {@link foreignHost} in front of a server whose request handler is not ours (dynalite):
 * its listeners run only for requests to its own loopback host name.
 */
export function answerOnlyOwnHost(server: Server): Server {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const refused = foreignHost(request);
    if (refused) sendJson(request, response, 403, { message: refused });
    else for (const listener of listeners) listener(request, response);
  });
  return server;
}
