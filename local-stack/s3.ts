/**
 * The S3 stand-in (s3rver, persisted as files) and the idempotent creation of the assets
 * bucket. s3rver is a Koa app; it is hosted on a server of ours because its own `run()`
 * lets a taken port crash the process instead of rejecting. Paginated ListObjectsV2
 * continuation tokens use DES, which OpenSSL 3 only offers with `--openssl-legacy-provider`:
 * the `ddb-faiss` bin and the test runner pass that flag.
 */
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import S3rver from 's3rver';
import { isS3NotFound } from '../aws/errors.ts';
import type { RunningService } from './dynamodb.ts';
import { answerOnlyOwnHost } from '../local-http/guard.ts';
import { closeServer, listenLocal } from '../local-http/listen.ts';

export async function startS3(directory: string, port: number): Promise<RunningService> {
  mkdirSync(directory, { recursive: true });
  const app = new S3rver({ directory, silent: true });
  const server = answerOnlyOwnHost(createServer(app.callback()));
  const bound = await listenLocal(server, port, 'S3', 's3-port');
  // s3rver's logger (a silent console transport) holds nothing to release, and a request cut
  // short at shutdown still logs through it: it is left open.
  return { endpoint: `http://127.0.0.1:${bound}`, close: () => closeServer(server) };
}

/**
 * Creates the bucket when S3 says it does not exist (404). Any other answer (access denied,
 * a stand-in that is not running) is reported, not taken for "missing".
 * @returns whether it was created
 */
export async function ensureBucket(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return false;
  } catch (error) {
    if (!isS3NotFound(error)) throw error;
  }
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return true;
}
