/**
 * Where the AWS services are. For the local target, `ddb-faiss up` writes the endpoints it
 * actually listens on (ports may be 0 = any free port) to `<dataDir>/stack.json`, and every
 * other command reads them from there; explicit endpoint settings win over both. A stack.json
 * is trusted only when its stack answers: one left by a stack that was killed names a pid that
 * may still exist (a zombie, or reused) and ports nobody listens on.
 */
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { advise } from '../config/advice.ts';
import { endOrphanedDynamoDbLocal } from './dynamodb-local.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import { UserFacingError } from '../config/errors.ts';

/** What a running local stack publishes about itself. */
export interface LocalStackInfo {
  readonly pid: number;
  readonly endpoints: {
    readonly dynamodb: string;
    readonly s3: string;
    readonly stepFunctions: string;
    readonly http: string;
  };
  readonly stateMachineArn: string;
  readonly startedAt: string;
}

/** Thrown when the local target is asked for but no `ddb-faiss up` serves the data directory. */
export class LocalStackNotRunningError extends UserFacingError {
  override readonly name = 'LocalStackNotRunningError';
  readonly code = 'local-stack-not-running';
}

export function stackInfoFile(config: Pick<DdbFaissConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'stack.json');
}

/** Atomically writes the running stack's description. */
export function writeStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>, info: LocalStackInfo): void {
  writeFileAtomic(stackInfoFile(config), JSON.stringify(info, null, 2));
}

export function removeStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>): void {
  rmSync(stackInfoFile(config), { force: true });
}

/** Reads the stack description `up` left, whether or not that stack still runs. */
export function readStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>): LocalStackInfo | undefined {
  try {
    return JSON.parse(readFileSync(stackInfoFile(config), 'utf8')) as LocalStackInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no stack was started here
    throw error;
  }
}

/** Whether something accepts connections at the endpoint, within `timeoutMs`. */
function answers(endpoint: string, timeoutMs = 1_000): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket
      .once('connect', () => done(true))
      .once('error', () => done(false))
      .once('timeout', () => done(false));
  });
}

/** Whether the stack a stack.json describes is alive: its process exists and its endpoints answer. */
export async function isStackAlive(info: LocalStackInfo): Promise<boolean> {
  try {
    process.kill(info.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: alive, another user's
  }
  const answered = await Promise.all(Object.values(info.endpoints).map((endpoint) => answers(endpoint)));
  return answered.every(Boolean);
}

/** The running stack's description. @throws {LocalStackNotRunningError} when none answers for the data directory */
export async function runningStackInfo(config: Pick<DdbFaissConfig, 'dataDir'>): Promise<LocalStackInfo> {
  const info = readStackInfo(config);
  if (!info) {
    throw new LocalStackNotRunningError(
      `no local stack is running for data directory ${config.dataDir}: ` +
        `start one with ${advise('startStack', config.dataDir)}`,
    );
  }
  if (!(await isStackAlive(info))) {
    // A stack killed with SIGKILL may have left its DynamoDB Local running (until it notices).
    await endOrphanedDynamoDbLocal(path.join(config.dataDir, 'dynamodb'));
    throw new LocalStackNotRunningError(
      `the local stack recorded in ${stackInfoFile(config)} (pid ${info.pid}, started ${info.startedAt}) ` +
        'is not running: it stopped without cleaning up (killed?). ' +
        `Start it again with ${advise('startStack', config.dataDir)}`,
    );
  }
  return info;
}
