/** The active model: the bundle whose manifest is published in S3 under the configured name. */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isS3NotFound } from '../aws/errors.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { type BundleManifest, bundleKeyPrefix, MANIFEST_FILE } from './bundle.ts';

/**
 * Reads the active model's manifest from S3: what the next run embeds with.
 * @returns the manifest, or null when no bundle is published under the configured name
 * @example
 * const active = await readPublishedManifest(clients.s3, config);
 * if (active && active.checksum !== index.model.checksum) console.log('a backfill is due');
 */
export async function readPublishedManifest(
  s3: S3Client,
  config: Pick<DdbFaissConfig, 'bucketName' | 'modelPrefix' | 'modelName'>,
): Promise<BundleManifest | null> {
  try {
    const object = await s3.send(
      new GetObjectCommand({
        Bucket: config.bucketName,
        Key: `${bundleKeyPrefix(config.modelPrefix, config.modelName)}${MANIFEST_FILE}`,
      }),
    );
    return JSON.parse(await object.Body!.transformToString()) as BundleManifest;
  } catch (error) {
    if (isS3NotFound(error)) return null;
    throw error;
  }
}
