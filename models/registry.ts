/**
 * Finding, fetching and publishing model bundles. A model is named by a bundle folder, by
 * `default` (built on first use), or by a name cached under `<cache>/models/`.
 */
import { advise } from '../config/advice.ts';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BUNDLE_FILES,
  bundleKeyPrefix,
  MANIFEST_FILE,
  type BundleManifest,
  type Pooling,
  verifyBundle,
  writeManifest,
} from '../embedding/bundle.ts';
import { ensureDefaultBundle, modelCacheDir } from './default-model/build.ts';
import { replaceDirectory } from '../index-store/atomic-file.ts';
import { UserFacingError } from '../config/errors.ts';

/** Thrown when a model name or folder cannot be resolved or fetched. */
export class ModelNotFoundError extends UserFacingError {
  override readonly name = 'ModelNotFoundError';
  readonly code = 'model-not-found';
}

const cachedBundleDir = (name: string): string =>
  path.join(modelCacheDir(), 'models', name.replace(/[^A-Za-z0-9._-]+/g, '--'));

/** Resolves `--model` to a bundle folder. */
export async function resolveModel(model: string, log?: (line: string) => void): Promise<string> {
  if (existsSync(path.join(model, MANIFEST_FILE))) return path.resolve(model);
  if (model === 'default') return ensureDefaultBundle(log);
  const cached = cachedBundleDir(model);
  if (existsSync(path.join(cached, MANIFEST_FILE))) return cached;
  throw new ModelNotFoundError(
    `no model "${model}": pass a bundle folder, "default", or fetch it first with ${advise('fetchModel', model)}`,
  );
}

/** Options of {@link fetchHuggingFaceModel}. */
export interface FetchModelOptions {
  /** Hub base URL. @default 'https://huggingface.co' */
  readonly baseUrl?: string;
  /** Revision (branch, tag or commit). @default 'main' */
  readonly revision?: string;
  /** Target folder. @default the model cache */
  readonly outDir?: string;
  readonly log?: (line: string) => void;
}

/**
 * Downloads a sentence-transformers ONNX export (`onnx/model.onnx`, `tokenizer.json`, and
 * the pooling and max-length settings) into a bundle.
 */
export async function fetchHuggingFaceModel(repoId: string, options: FetchModelOptions = {}): Promise<BundleManifest> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repoId))
    throw new ModelNotFoundError(`"${repoId}" is not a Hugging Face repository id (owner/name)`);
  const base = (options.baseUrl ?? 'https://huggingface.co').replace(/\/$/, '');
  const revision = options.revision ?? 'main';
  const outDir = options.outDir ?? cachedBundleDir(repoId);
  const url = (file: string): string => `${base}/${repoId}/resolve/${revision}/${file}`;
  const get = async (file: string, required: boolean): Promise<Buffer | undefined> => {
    let response: Response;
    try {
      response = await fetch(url(file));
    } catch (error) {
      // Unreachable (no route, no DNS, refused): say where and why, not a stack trace.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ModelNotFoundError(
        `cannot reach ${base} to fetch ${file} (${cause?.code ?? cause?.message ?? (error as Error).message}); ` +
          'give a reachable hub or mirror with --hub-url, or copy a bundle folder here and publish it',
        { cause: error },
      );
    }
    if (response.ok) return Buffer.from(await response.arrayBuffer());
    if (!required && response.status === 404) return undefined;
    throw new ModelNotFoundError(`fetching ${url(file)} failed: HTTP ${response.status}`);
  };
  const json = (buffer: Buffer | undefined): Record<string, unknown> =>
    buffer ? (JSON.parse(buffer.toString('utf8')) as Record<string, unknown>) : {};

  options.log?.(`fetching ${repoId}@${revision} from ${base}`);
  const model = await get('onnx/model.onnx', true);
  const tokenizer = await get('tokenizer.json', true);
  const config = json(await get('config.json', true));
  const sentenceConfig = json(await get('sentence_bert_config.json', false));
  const pooling = json(await get('1_Pooling/config.json', false));

  const staging = `${outDir}.fetching-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'model.onnx'), model!);
  writeFileSync(path.join(staging, 'tokenizer.json'), tokenizer!);
  const poolingMode: Pooling = pooling['pooling_mode_cls_token'] === true ? 'cls' : 'mean';
  const manifest = await writeManifest(staging, {
    name: repoId,
    version: revision,
    dimensions: Number(config['hidden_size'] ?? pooling['word_embedding_dimension']),
    pooling: poolingMode,
    normalize: true,
    maxTokens: Number(sentenceConfig['max_seq_length'] ?? config['max_position_embeddings'] ?? 512),
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
    output: 'last_hidden_state',
  });
  replaceDirectory(staging, outDir);
  options.log?.(`saved ${repoId} to ${outDir} (${manifest.dimensions} dimensions)`);
  return manifest;
}

/**
 * Uploads a verified bundle to the assets bucket under `<modelPrefix><name>/`, model files
 * first and the manifest last, so a reader that finds the manifest finds complete files.
 */
export async function publishBundle(
  s3: S3Client,
  bucket: string,
  modelPrefix: string,
  dir: string,
  name?: string,
): Promise<{ key: string; manifest: BundleManifest }> {
  const manifest = await verifyBundle(dir);
  const prefix = bundleKeyPrefix(modelPrefix, name ?? manifest.name);
  for (const file of [...BUNDLE_FILES, MANIFEST_FILE]) {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}${file}`,
        Body: readFileSync(path.join(dir, file)),
        Metadata: { checksum: manifest.checksum },
      }),
    );
  }
  return { key: prefix, manifest };
}
