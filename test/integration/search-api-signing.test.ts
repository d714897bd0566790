/**
 * `ddb-faiss search --target aws` calls the search API as its deployment requires: SigV4-signed
 * with the caller's AWS credentials (IAM, the default), with a bearer token (JWT), or plain
 * (none). A local endpoint stands in for API Gateway and checks what arrives.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../../workflow/search-api-client.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/local-stack.ts';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const ANSWER = {
  mode: 'vector',
  generation: 3,
  model: 'default',
  count: 1,
  hits: [{ group: 'demo', id: 'a', score: 0.91, content: 'a man plays the guitar' }],
};
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

/** "20261204T205500Z" -> its Date. */
const amzDate = (value: string): Date =>
  new Date(value.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

describe('search API calls from the CLI: signed, with a token, or plain', () => {
  const dir = tempDir();
  let server: Server;
  let url = '';
  const received: Received[] = [];
  const saved = { ...process.env };

  before(async () => {
    Object.assign(process.env, CREDENTIALS);
    delete process.env['AWS_SESSION_TOKEN'];
    delete process.env['AWS_PROFILE'];
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ method: request.method!, url: request.url!, headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ANSWER));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
    dir.remove();
  });

  const search = (...flags: string[]) =>
    runCli(['search', 'a man playing music', '--target', 'aws', '--search-url', url, '--data-dir', dir.path, ...flags]);

  it('signs with SigV4 by default (iam): a signature the same credentials reproduce', async () => {
    // Act
    received.length = 0;
    const run = await search('--region', 'eu-west-1');
    // Assess: the answer is printed, and the request carries a valid execute-api signature
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 hits \(generation 3/);
    const [request] = received;
    assert.ok(request);
    const authorization = String(request.headers['authorization']);
    assert.match(
      authorization,
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
    );
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(';');
    assert.ok(signedHeaders.includes('host') && signedHeaders.includes('x-amz-date'));
    // Re-sign what arrived, with the same date: the signature matches only if nothing was lost or changed
    const given = Object.fromEntries(
      signedHeaders
        .filter((name) => !['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'].includes(name))
        .map((name) => [name, String(request.headers[name])]),
    );
    const again = await signRequest(
      'eu-west-1',
      new URL(`${url}${request.url}`),
      request.method,
      given,
      request.body,
      amzDate(String(request.headers['x-amz-date'])),
    );
    assert.equal(again['authorization'], authorization);
    assert.equal(JSON.parse(request.body).q, 'a man playing music');
  });

  it('sends the bearer token when the API takes JWTs, and says what is missing without one', async () => {
    // Act
    received.length = 0;
    const withToken = await search('--api-authorization', 'jwt');
    const saved = process.env['DDB_FAISS_API_TOKEN'];
    process.env['DDB_FAISS_API_TOKEN'] = 'header.payload.signature';
    const tokenRun = await search('--api-authorization', 'jwt');
    if (saved === undefined) delete process.env['DDB_FAISS_API_TOKEN'];
    // Assess
    assert.notEqual(withToken.code, 0);
    assert.match(withToken.stderr, /takes JWTs \(apiAuthorization=jwt\): set DDB_FAISS_API_TOKEN/);
    assert.equal(tokenRun.code, 0, tokenRun.stderr);
    assert.equal(received.length, 1, 'no request went out without the token');
    assert.equal(received[0]!.headers['authorization'], 'Bearer header.payload.signature');
  });

  it('sends no credentials to a public API (none), nor to the local stack', async () => {
    // Act
    received.length = 0;
    const open = await search('--api-authorization', 'none');
    // Assess
    assert.equal(open.code, 0, open.stderr);
    assert.equal(received[0]!.headers['authorization'], undefined);
  });
});
