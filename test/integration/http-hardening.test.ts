/**
 * The local HTTP endpoints against hostile requests, over real HTTP: bodies over the limit are
 * refused with a 413 before they are buffered whole, and the monitor's state-changing
 * endpoints refuse cross-site and non-JSON requests and foreign Host headers (DNS rebinding).
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../local-stack/stack.ts';
import { startLocalStack } from '../../local-stack/stack.ts';
import { localStackProps } from '../../workflow/local-stack-props.ts';
import { tempDir, testConfig } from '../helpers/local-stack.ts';

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A raw HTTP request: headers as given (Host included), a body written as given, the answer read whole. */
function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: string | Buffer;
    chunks?: { size: number; count: number };
    end?: boolean;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
    });
    req.on('response', (response: IncomingMessage) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    for (let i = 0; i < (options.chunks?.count ?? 0); i++) req.write(Buffer.alloc(options.chunks!.size, 0x61));
    if (options.end !== false) req.end();
    else req.flushHeaders(); // the headers go out even though the body never comes
  });
}

/** Resolves with the answer, or rejects when none comes within `ms` (a server still waiting for the body). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  ]);
}

describe('HTTP hardening (local stack)', () => {
  const dir = tempDir();
  let stack: LocalStack;
  let base = '';
  let host = '';
  before(async () => {
    stack = await startLocalStack(localStackProps(testConfig(dir.path)));
    base = stack.info.endpoints.http;
    host = new URL(base).host;
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  const executions = async (): Promise<number> =>
    (await stack.clients.stepFunctions.send(new ListExecutionsCommand({ stateMachineArn: stack.info.stateMachineArn })))
      .executions?.length ?? 0;

  it('answers a /search body over the limit with 413 and a message, from its declared length alone', async () => {
    // Act: a 20 MB body announced by Content-Length, of which nothing is sent
    const answer = await within(
      5_000,
      send(`${base}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': 20 * 1024 * 1024 },
        end: false,
      }),
    );
    // Assess
    assert.equal(answer.status, 413);
    assert.match(JSON.parse(answer.body).message, /request body is larger than 1048576 bytes/);
  });

  it('refuses a streamed (chunked) body as soon as it passes the limit, before it ends', async () => {
    // Act: 1.5 MB sent in chunks, the request left open: a server that buffers it whole never answers
    const answer = await within(
      5_000,
      send(`${base}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        chunks: { size: 64 * 1024, count: 24 },
        end: false,
      }),
    );
    // Assess
    assert.equal(answer.status, 413);
    assert.match(JSON.parse(answer.body).message, /larger than/);
  });

  it('refuses cross-origin and non-JSON requests to every state-changing monitor endpoint', async () => {
    // Prepare
    const before = await executions();
    const json = { 'content-type': 'application/json', host };
    const cases: [string, Record<string, string>][] = [
      ['text/plain from another site', { 'content-type': 'text/plain', origin: 'http://evil.example', host }],
      ['JSON from another site', { ...json, origin: 'http://evil.example' }],
      ['JSON marked cross-site by the browser', { ...json, 'sec-fetch-site': 'cross-site' }],
      ['a form post', { 'content-type': 'application/x-www-form-urlencoded', host }],
      ['no content type', { host }],
    ];
    // Act
    const answers: [string, Answer][] = [];
    for (const [name, headers] of cases) {
      answers.push([
        `${name} -> /api/runs`,
        await send(`${base}/api/runs`, { method: 'POST', headers, body: '{"mode":"backfill"}' }),
      ]);
      answers.push([
        `${name} -> stop`,
        await send(`${base}/api/executions/anything/stop`, { method: 'POST', headers, body: '{}' }),
      ]);
    }
    const sameOrigin = await send(`${base}/api/runs`, {
      method: 'POST',
      headers: { ...json, origin: base },
      body: '{"mode":"incremental"}',
    });
    // Assess
    for (const [name, answer] of answers) {
      assert.ok(answer.status === 403 || answer.status === 415, `${name}: ${answer.status} ${answer.body}`);
      assert.match(JSON.parse(answer.body).message, /cross-site|application\/json/, name);
    }
    assert.equal(sameOrigin.status, 202, sameOrigin.body);
    assert.equal(await executions(), before + 1, 'only the same-origin JSON request started a run');
  });

  it('the DynamoDB, S3 and Step Functions endpoints answer only to their own host name too', async () => {
    for (const [service, endpoint] of Object.entries(stack.info.endpoints)) {
      const foreign = await send(`${endpoint}/`, {
        method: 'POST',
        headers: { host: `evil.example:${new URL(endpoint).port}`, 'content-type': 'application/x-amz-json-1.0' },
        body: '{}',
      });
      assert.equal(foreign.status, 403, `${service}: ${foreign.body}`);
    }
  });

  it('answers only to its own host name (a DNS-rebinding guard) on the monitor and on /search', async () => {
    for (const path of ['/', '/api/status', '/api/executions', '/search?q=x']) {
      const foreign = await send(`${base}${path}`, { headers: { host: `evil.example:${new URL(base).port}` } });
      assert.equal(foreign.status, 403, `${path}: ${foreign.body}`);
      assert.match(JSON.parse(foreign.body).message, /Host/);
      const own = await send(`${base}${path}`, { headers: { host: `localhost:${new URL(base).port}` } });
      assert.notEqual(own.status, 403, `${path} via localhost`);
    }
  });
});
