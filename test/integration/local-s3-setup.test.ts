/** The local stack's bucket setup creates the bucket only when S3 says it does not exist. */
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureBucket } from '../../local-stack/s3.ts';
import { useTestStack } from '../helpers/local-stack.ts';

describe('local S3 setup', () => {
  const local = useTestStack();

  /** A client of the stand-in whose HeadBucket answers with the given status. */
  const clientAnswering = (status: number): S3Client => {
    const { stack } = local;
    const client = new S3Client({
      region: stack.config.region,
      endpoint: stack.info.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if ((context as { commandName?: string }).commandName !== 'HeadBucketCommand') return next(args);
        const name = status === 404 ? 'NotFound' : 'Forbidden';
        throw new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });
      },
      { step: 'initialize' },
    );
    return client;
  };

  it('creates a missing bucket, and leaves an existing one', async () => {
    const { stack } = local;
    assert.equal(await ensureBucket(stack.clients.s3, 'fresh-bucket'), true);
    assert.equal(await ensureBucket(stack.clients.s3, 'fresh-bucket'), false);
    assert.equal(await ensureBucket(clientAnswering(404), 'another-bucket'), true);
  });

  it('reports any other HeadBucket error (e.g. access denied) instead of trying to create the bucket', async () => {
    await assert.rejects(
      ensureBucket(clientAnswering(403), local.stack.config.bucketName),
      (error: Error) => error.name === 'Forbidden',
    );
  });
});
