/**
 * Bootstrap stage: make the active model bundle available on EFS. The bundle's manifest in
 * S3 names its checksum; the EFS copy lives in `models/<name>@<checksum>` and is only
 * downloaded when missing. A copy is downloaded into a private staging folder, verified
 * against the manifest, and published by rename: two cold starts at once each stage their
 * own copy, one rename wins, and the other discards its copy. Nothing is ever half-written
 * under the published name.
 */
import { advise } from '../config/advice.ts';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { PermanentError } from '../aws/errors.ts';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { readPublishedManifest } from '../embedding/published-model.ts';
import {
  BUNDLE_FILES,
  bundleKeyPrefix,
  MANIFEST_FILE,
  modelDirFor,
  readManifest,
  verifyBundle,
} from '../embedding/bundle.ts';
import { publishDirectory } from '../index-store/atomic-file.ts';
import type { IndexerContext, ModelDescriptor } from './context.ts';

export async function bootstrapModel({
  config,
  clients,
}: IndexerContext): Promise<ModelDescriptor & { copied: boolean }> {
  const prefix = bundleKeyPrefix(config.modelPrefix, config.modelName);
  const manifest = await readPublishedManifest(clients.s3, config);
  if (!manifest) {
    throw new PermanentError(
      `model "${config.modelName}" is not published in s3://${config.bucketName}/${prefix}: ` +
        `run ${advise('publishModel', config.modelName)}`,
    );
  }
  const dir = modelDirFor(config.modelName, manifest.checksum);
  const target = path.join(config.efsRoot, dir);
  const describe = (copied: boolean) => ({
    name: manifest.name,
    checksum: manifest.checksum,
    dimensions: manifest.dimensions,
    dir,
    copied,
  });
  if (existsSync(path.join(target, MANIFEST_FILE)) && readManifest(target).checksum === manifest.checksum)
    return describe(false);

  const staging = path.join(config.efsRoot, 'models', `.staging-${randomUUID()}`);
  mkdirSync(staging, { recursive: true });
  try {
    for (const file of [...BUNDLE_FILES, MANIFEST_FILE]) {
      const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: config.bucketName, Key: `${prefix}${file}` }),
      );
      await pipeline(object.Body as Readable, createWriteStream(path.join(staging, file)));
    }
    const copied = await verifyBundle(staging);
    if (copied.checksum !== manifest.checksum)
      throw new PermanentError(`model "${config.modelName}" changed while it was being copied; run again`);
    try {
      publishDirectory(staging, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error; // another cold start published it first
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return describe(true);
}
