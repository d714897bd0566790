/**
 * The search handler answers CORS as the API's preflight does: for the origins the corsOrigins
 * setting lists, and for none by default (a page elsewhere cannot read the answers).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../config/config.ts';
import { localObservability } from '../../lambda-host/observability.ts';
import { createSearchHandler } from '../../tasks/search-handler.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'search-cors-'));

/** A request the handler refuses before it reads anything (no `q`), from a page at `origin`. */
async function askFrom(corsOrigins: string | undefined, origin: string) {
  const config = loadConfig({
    env: {},
    flags: { 'data-dir': dataDir, ...(corsOrigins ? { 'cors-origins': corsOrigins } : {}) },
    cwd: '/nonexistent-dir',
  });
  const handler = createSearchHandler(
    { config, clients: { dynamodb: new DynamoDBClient({ region: 'us-east-1' }) } },
    localObservability({ dataDir, logLevel: 'SILENT' }),
  );
  const event = {
    rawPath: '/search',
    rawQueryString: '',
    headers: { origin },
    requestContext: { http: { method: 'GET', path: '/search' } },
  } as unknown as APIGatewayProxyEventV2;
  return handler(event, {} as Context);
}

describe('the search handler and CORS', () => {
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('grants no origin by default', async () => {
    // Act
    const response = await askFrom(undefined, 'https://elsewhere.example.com');
    // Assess
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers?.['Access-Control-Allow-Origin'], undefined);
  });

  it('grants the origins listed, and only those', async () => {
    // Act
    const listed = await askFrom('https://app.example.com,https://admin.example.com', 'https://app.example.com');
    const other = await askFrom('https://app.example.com,https://admin.example.com', 'https://evil.example.com');
    // Assess
    assert.equal(listed.headers?.['Access-Control-Allow-Origin'], 'https://app.example.com');
    assert.equal(other.headers?.['Access-Control-Allow-Origin'], undefined);
  });
});
