/**
 * A proxy in front of the local DynamoDB that throttles a share of the requests the way
 * DynamoDB does (HTTP 400 with `ProvisionedThroughputExceededException` or `ThrottlingException`)
 * and forwards the rest. The local stack and the CLI reach it through the DynamoDB endpoint
 * setting, so every part of a run is throttled alike.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A port nothing listens on now (to start a stand-in on, behind the proxy). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ThrottlingProxy {
  readonly endpoint: string;
  /** The share of requests answered with a throttling error from now on (0 forwards all). */
  throttle(share: number): void;
  /** Requests forwarded and throttled so far, by operation (`DynamoDB_20120810.UpdateItem` → `UpdateItem`). */
  readonly counts: { forwarded: number; throttled: number; byOperation: Map<string, number> };
  close(): Promise<void>;
}

const THROTTLING_ERRORS = ['ProvisionedThroughputExceededException', 'ThrottlingException'] as const;

/** Starts a throttling proxy to `target` (e.g. `http://127.0.0.1:8600`), throttling nothing until told. */
export async function startThrottlingProxy(target: string): Promise<ThrottlingProxy> {
  const to = new URL(target);
  let share = 0;
  let turn = 0;
  const counts = { forwarded: 0, throttled: 0, byOperation: new Map<string, number>() };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      if (Math.random() < share) {
        counts.throttled += 1;
        counts.byOperation.set(`${operation} throttled`, (counts.byOperation.get(`${operation} throttled`) ?? 0) + 1);
        const type = THROTTLING_ERRORS[turn++ % THROTTLING_ERRORS.length];
        response
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type })
          .end(
            JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'Rate exceeded (proxy)' }),
          );
        return;
      }
      counts.forwarded += 1;
      counts.byOperation.set(operation, (counts.byOperation.get(operation) ?? 0) + 1);
      const forward = httpRequest(
        {
          host: to.hostname,
          port: to.port,
          method: request.method,
          path: request.url,
          // The stand-in answers only requests addressed to itself (its guard against DNS rebinding).
          headers: { ...request.headers, host: to.host },
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forward.on('error', () => response.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    throttle: (next) => {
      share = next;
    },
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
