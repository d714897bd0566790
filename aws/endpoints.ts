/**
 * Where the AWS services are. For the local target, `ddb-faiss up` writes the endpoints it
 * actually listens on (ports may be 0 = any free port) to `<dataDir>/stack.json`, and every
 * other command reads them from there; explicit endpoint settings win over both.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DdbFaissConfig } from '../config/config.ts';

/** Endpoints of the service APIs; `undefined` means the SDK's default (real AWS). */
export interface ServiceEndpoints {
  readonly dynamodb: string | undefined;
  readonly s3: string | undefined;
  readonly stepFunctions: string | undefined;
  /** The ddb-faiss HTTP API (search, monitor). */
  readonly http: string | undefined;
}

/** What a running local stack publishes about itself. */
export interface LocalStackInfo {
  readonly pid: number;
  readonly endpoints: { readonly dynamodb: string; readonly s3: string; readonly stepFunctions: string; readonly http: string };
  readonly stateMachineArn: string;
  readonly startedAt: string;
}

/** Thrown when the local target is asked for but no `ddb-faiss up` serves the data directory. */
export class LocalStackNotRunningError extends Error {
  override readonly name = 'LocalStackNotRunningError';
}

export function stackInfoFile(config: Pick<DdbFaissConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'stack.json');
}

/** Atomically writes the running stack's description. */
export function writeStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>, info: LocalStackInfo): void {
  const file = stackInfoFile(config);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2));
  renameSync(`${file}.tmp`, file);
}

export function removeStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>): void {
  rmSync(stackInfoFile(config), { force: true });
}

/** Reads the running stack's description, or `undefined` when none is running. */
export function readStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>): LocalStackInfo | undefined {
  let info: LocalStackInfo;
  try {
    info = JSON.parse(readFileSync(stackInfoFile(config), 'utf8')) as LocalStackInfo;
  } catch {
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
  } catch {
    return undefined; // a stale file left by a stack that was killed
  }
  return info;
}

/** Resolves the endpoints for the configured target. @throws {LocalStackNotRunningError} */
export function resolveEndpoints(config: DdbFaissConfig): ServiceEndpoints {
  if (config.target === 'aws') {
    return { dynamodb: config.dynamodbEndpoint, s3: config.s3Endpoint, stepFunctions: config.stepFunctionsEndpoint, http: config.searchUrl };
  }
  const explicit = config.dynamodbEndpoint && config.s3Endpoint && config.stepFunctionsEndpoint;
  const info = explicit ? undefined : readStackInfo(config);
  if (!explicit && !info) {
    throw new LocalStackNotRunningError(
      `no local stack is running for data directory ${config.dataDir}: start one with \`ddb-faiss up --data-dir ${config.dataDir}\``,
    );
  }
  return {
    dynamodb: config.dynamodbEndpoint ?? info?.endpoints.dynamodb,
    s3: config.s3Endpoint ?? info?.endpoints.s3,
    stepFunctions: config.stepFunctionsEndpoint ?? info?.endpoints.stepFunctions,
    http: info?.endpoints.http,
  };
}
