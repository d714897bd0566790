/**
 * Runs a model bundle with onnxruntime-node. One session per bundle per process, created
 * once and reused (warm Lambda invocations skip loading). Texts are tokenised with
 * @huggingface/tokenizers from the bundle's tokenizer.json, sorted by length and batched
 * with padding per batch, truncated at the bundle's max tokens, pooled (masked mean) and
 * L2-normalised. One bad item gets its own error; it never fails the batch.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { type BundleManifest, MANIFEST_FILE, readManifest } from './bundle.ts';
import { type Passage, splitPassages } from './passages.ts';

/** One item's embedding, or why it has none. */
export type EmbedResult =
  | { readonly ok: true; readonly vector: Float32Array; readonly tokens: number; readonly truncated: boolean }
  | { readonly ok: false; readonly error: string };

/** Options of {@link loadEmbedder}. */
export interface EmbedderOptions {
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. @default 0 */
  readonly threads?: number;
  /** Texts per inference call. @default 64 */
  readonly batchSize?: number;
  /**
   * Whether onnxruntime's worker threads spin, waiting for more work, after each call: faster
   * back-to-back batches (the embed stage), but cores taken from what follows a lone query's
   * embedding (the index search, the read-back) for as long as they spin.
   * @default true
   */
  readonly spinning?: boolean;
}

/** Characters kept per text before tokenising: far more than maxTokens ever needs. */
const CHARS_PER_TOKEN_CAP = 16;

export class Embedder {
  private constructor(
    readonly manifest: BundleManifest,
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly batchSize: number,
  ) {}

  /** @internal use {@link loadEmbedder}, which caches. */
  static async create(dir: string, options: EmbedderOptions): Promise<Embedder> {
    const manifest = readManifest(dir);
    const tokenizerJson = JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const model = (tokenizerJson['model'] ?? {}) as Record<string, unknown>;
    const tokenizer = new Tokenizer(tokenizerJson, { unk_token: model['unk_token'] ?? '[UNK]', pad_token: '[PAD]' });
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // onnxruntime's session config key session.intra_op.allow_spinning.
      ...(options.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    });
    return new Embedder(manifest, session, tokenizer, options.batchSize ?? 64);
  }

  get dimensions(): number {
    return this.manifest.dimensions;
  }

  /**
   * The passages a text is embedded as: the whole text when it fits the model's token limit,
   * otherwise overlapping passages cut on sentence boundaries (see `passages.ts`).
   */
  passages(text: string): Passage[] {
    const specialTokens = (this.specialTokens ??= this.tokenizer.encode('').ids.length);
    // No tokenizer makes more tokens than a text has bytes (a SentencePiece model one more):
    // short texts, most of them, need no counting.
    if (Buffer.byteLength(text) < this.manifest.maxTokens - specialTokens)
      return [{ start: 0, end: text.length, text }];
    return splitPassages(text, {
      maxTokens: this.manifest.maxTokens - specialTokens,
      countTokens: (piece) => this.tokenizer.encode(piece, { add_special_tokens: false }).ids.length,
    });
  }
  private specialTokens?: number;

  /** Embeds texts; results are in input order. */
  async embed(texts: readonly unknown[]): Promise<EmbedResult[]> {
    const results: EmbedResult[] = new Array(texts.length);
    const encoded: { index: number; ids: number[]; truncated: boolean }[] = [];
    texts.forEach((text, index) => {
      if (typeof text !== 'string') {
        results[index] = { ok: false, error: `expected a string, got ${text === null ? 'null' : typeof text}` };
        return;
      }
      try {
        encoded.push({ index, ...this.tokenize(text) });
      } catch (error) {
        results[index] = { ok: false, error: `tokenizer failed: ${(error as Error).message}` };
      }
    });
    encoded.sort((a, b) => a.ids.length - b.ids.length);
    for (let start = 0; start < encoded.length; start += this.batchSize) {
      const batch = encoded.slice(start, start + this.batchSize);
      const vectors = await this.runBatch(batch.map((item) => item.ids));
      batch.forEach((item, i) => {
        results[item.index] = { ok: true, vector: vectors[i]!, tokens: item.ids.length, truncated: item.truncated };
      });
    }
    return results;
  }

  private tokenize(text: string): { ids: number[]; truncated: boolean } {
    const max = this.manifest.maxTokens;
    const capped = text.length > max * CHARS_PER_TOKEN_CAP ? text.slice(0, max * CHARS_PER_TOKEN_CAP) : text;
    const ids = this.tokenizer.encode(capped).ids;
    if (ids.length <= max && capped === text) return { ids, truncated: false };
    if (ids.length <= max) return { ids, truncated: true };
    // Keep a closing special token (e.g. BERT's [SEP]) where the tokenizer adds one.
    const last = ids[ids.length - 1]!;
    const closing = this.isSpecial(last);
    return { ids: closing ? [...ids.slice(0, max - 1), last] : ids.slice(0, max), truncated: true };
  }

  private specialIds?: Set<number>;
  private isSpecial(id: number): boolean {
    this.specialIds ??= new Set(
      ['[SEP]', '</s>', '[CLS]', '<s>']
        .map((token) => this.tokenizer.token_to_id(token))
        .filter((value): value is number => typeof value === 'number'),
    );
    return this.specialIds.has(id);
  }

  private async runBatch(batch: readonly number[][]): Promise<Float32Array[]> {
    const rows = batch.length;
    // At least one column: an all-empty batch still runs (and yields zero vectors).
    const columns = Math.max(1, ...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(rows * columns);
    const mask = new BigInt64Array(rows * columns);
    batch.forEach((tokens, row) => {
      tokens.forEach((id, column) => {
        ids[row * columns + column] = BigInt(id);
        mask[row * columns + column] = 1n;
      });
    });
    const feeds: Record<string, ort.Tensor> = {};
    const dims = [rows, columns];
    for (const input of this.manifest.inputs) {
      if (input === 'input_ids') feeds[input] = new ort.Tensor('int64', ids, dims);
      else if (input === 'attention_mask') feeds[input] = new ort.Tensor('int64', mask, dims);
      else if (input === 'token_type_ids')
        feeds[input] = new ort.Tensor('int64', new BigInt64Array(rows * columns), dims);
    }
    const output = (await this.session.run(feeds))[this.manifest.output];
    if (!output) throw new Error(`model has no output "${this.manifest.output}"`);
    return pool(output.data as Float32Array, output.dims as number[], mask, columns, this.manifest);
  }
}

/** Pools token vectors (or passes sentence vectors through) and L2-normalises. */
export function pool(
  data: Float32Array,
  dims: readonly number[],
  mask: BigInt64Array,
  columns: number,
  manifest: Pick<BundleManifest, 'pooling' | 'normalize'>,
): Float32Array[] {
  const rows = dims[0]!;
  const width = dims[dims.length - 1]!;
  const vectors: Float32Array[] = [];
  for (let row = 0; row < rows; row++) {
    let vector: Float32Array;
    if (dims.length === 2 || manifest.pooling === 'none') {
      vector = data.slice(row * width, (row + 1) * width);
    } else if (manifest.pooling === 'cls') {
      vector = data.slice(row * columns * width, row * columns * width + width);
    } else {
      vector = new Float32Array(width);
      let count = 0;
      for (let column = 0; column < columns; column++) {
        if (mask[row * columns + column] === 0n) continue;
        count += 1;
        const offset = (row * columns + column) * width;
        for (let d = 0; d < width; d++) vector[d]! += data[offset + d]!;
      }
      if (count > 0) for (let d = 0; d < width; d++) vector[d]! /= count;
    }
    if (manifest.normalize) normalizeInPlace(vector);
    vectors.push(vector);
  }
  return vectors;
}

/**
 * Whether an embedding carries nothing: every token was unknown to the model (the default
 * model gives unknown words no vector). Such a text matches everything equally (score 0).
 */
export function isEmptyEmbedding(vector: Float32Array): boolean {
  return vector.every((value) => value === 0);
}

export function normalizeInPlace(vector: Float32Array): void {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm > 1e-12) for (let d = 0; d < vector.length; d++) vector[d]! /= norm;
}

const cache = new Map<string, { readonly manifestMtimeMs: number; readonly embedder: Promise<Embedder> }>();

/**
 * The process-wide embedder for a bundle folder, created on first use. A query calls this
 * every time, so the check is one `stat` of the manifest: a bundle replaced on disk (its
 * manifest is written last) gets a new session.
 */
export function loadEmbedder(dir: string, options: EmbedderOptions = {}): Promise<Embedder> {
  const key = `${path.resolve(dir)}#${options.threads ?? 0}#${options.batchSize ?? 0}#${options.spinning ?? true}`;
  const manifestMtimeMs = statSync(path.join(dir, MANIFEST_FILE)).mtimeMs;
  const cached = cache.get(key);
  if (cached?.manifestMtimeMs === manifestMtimeMs) return cached.embedder;
  const embedder = Embedder.create(dir, options);
  embedder.catch(() => cache.delete(key));
  cache.set(key, { manifestMtimeMs, embedder });
  return embedder;
}
