/**
 * The model bundle: a folder with `model.onnx`, `tokenizer.json` (Hugging Face format) and
 * `manifest.json`, which describes the model and carries a SHA-256 of every file, so a copy
 * (S3 -> EFS) can be verified, and one checksum that names the bundle's exact content.
 *
 * @example
 * ```ts
 * import { readManifest, verifyBundle } from './embedding/bundle.ts';
 * const dir = '/mnt/efs/models/default@0123456789abcdef';
 * readManifest(dir).format; // 'ddb-faiss-bundle/1'
 * const manifest = await verifyBundle(dir); // throws BundleError when a file is missing or differs
 * manifest.dimensions; // e.g. 356
 * ```
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../index-store/atomic-file.ts';
import path from 'node:path';
import { UserFacingError } from '../config/errors.ts';

export const MANIFEST_FILE = 'manifest.json';
export const BUNDLE_FORMAT = 'ddb-faiss-bundle/1';

/** How token vectors become one sentence vector. */
export type Pooling = 'mean' | 'cls' | 'none';

/** The manifest of a model bundle. */
export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  /** Bundle name, e.g. `default` or `sentence-transformers/all-MiniLM-L6-v2`. */
  readonly name: string;
  /** Free-form version of the model's origin. */
  readonly version: string;
  /** Length of the sentence vector. */
  readonly dimensions: number;
  /** `mean` (masked mean over last_hidden_state), `cls`, or `none` (the model outputs the sentence vector). */
  readonly pooling: Pooling;
  /** Whether vectors are L2-normalised (always true for inner-product search). */
  readonly normalize: boolean;
  /** Tokens per text; longer texts are truncated. */
  readonly maxTokens: number;
  /** ONNX graph input names used (of input_ids, attention_mask, token_type_ids). */
  readonly inputs: readonly string[];
  /** The ONNX output read. */
  readonly output: string;
  /** Any parameters the pooling or model needs (recorded for inspection). */
  readonly parameters?: Readonly<Record<string, unknown>>;
  /** SHA-256 and size of each file, by file name. */
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly bytes: number }>>;
  /** SHA-256 over the file hashes: identifies the bundle's content. */
  readonly checksum: string;
}

/** Thrown when a bundle is missing a file, malformed, or does not match its manifest. */
export class BundleError extends UserFacingError {
  override readonly name = 'BundleError';
  readonly code = 'model-bundle';
}

export const BUNDLE_FILES = ['model.onnx', 'tokenizer.json'] as const;

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function bundleChecksum(files: BundleManifest['files']): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(`${name}:${files[name]!.sha256}\n`);
  return hash.digest('hex');
}

/** Hashes the bundle's files and writes its manifest (atomically). */
export async function writeManifest(
  dir: string,
  fields: Omit<BundleManifest, 'format' | 'files' | 'checksum'>,
): Promise<BundleManifest> {
  const files: Record<string, { sha256: string; bytes: number }> = {};
  for (const name of BUNDLE_FILES) {
    const file = path.join(dir, name);
    if (!existsSync(file)) throw new BundleError(`bundle ${dir} lacks ${name}`);
    files[name] = { sha256: await sha256File(file), bytes: readFileSync(file).byteLength };
  }
  const manifest: BundleManifest = { format: BUNDLE_FORMAT, ...fields, files, checksum: bundleChecksum(files) };
  writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
  return manifest;
}

/** Reads and checks a manifest's shape. @throws {BundleError} */
export function readManifest(dir: string): BundleManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new BundleError(`${dir} is not a model bundle: no ${MANIFEST_FILE}`);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as BundleManifest;
  } catch (error) {
    throw new BundleError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  if (manifest.format !== BUNDLE_FORMAT) problems.push(`format must be "${BUNDLE_FORMAT}"`);
  if (!Number.isInteger(manifest.dimensions) || manifest.dimensions < 1)
    problems.push('dimensions must be a positive integer');
  if (!Number.isInteger(manifest.maxTokens) || manifest.maxTokens < 1)
    problems.push('maxTokens must be a positive integer');
  if (!['mean', 'cls', 'none'].includes(manifest.pooling)) problems.push('pooling must be mean, cls or none');
  if (!Array.isArray(manifest.inputs) || !manifest.inputs.includes('input_ids'))
    problems.push('inputs must include input_ids');
  for (const name of BUNDLE_FILES) if (!manifest.files?.[name]) problems.push(`files lacks ${name}`);
  if (problems.length > 0) throw new BundleError(`invalid manifest ${file}: ${problems.join('; ')}`);
  return manifest;
}

/** Reads the manifest and checks every file against its hash. @throws {BundleError} */
export async function verifyBundle(dir: string): Promise<BundleManifest> {
  const manifest = readManifest(dir);
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    if (!existsSync(file)) throw new BundleError(`bundle ${dir} lacks ${name}`);
    const actual = await sha256File(file);
    if (actual !== expected.sha256)
      throw new BundleError(
        `bundle ${dir}: ${name} does not match its manifest (sha256 ${actual}, expected ${expected.sha256})`,
      );
  }
  if (bundleChecksum(manifest.files) !== manifest.checksum)
    throw new BundleError(`bundle ${dir}: manifest checksum does not match its files`);
  return manifest;
}

/** S3 key prefix of a bundle: `<modelPrefix><name>/`. */
export function bundleKeyPrefix(modelPrefix: string, name: string): string {
  return `${modelPrefix.replace(/\/?$/, '/')}${name}/`;
}

/** The EFS folder (relative to the root) of a model bundle: `models/<name>@<checksum prefix>`. */
export function modelDirFor(name: string, checksum: string): string {
  return path.join('models', `${name.replace(/[^A-Za-z0-9._-]+/g, '--')}@${checksum.slice(0, 16)}`);
}
