// The benches' texts embedded row-major, 10,000 at a time (a text the model cannot embed stays zero).
import type { Embedder } from '../embedding/runtime.ts';

/**
 * @example
 * ```ts
 * const vectors = await embedTexts(embedder, ['a sentence', 'another']); // 2 x dimensions floats
 * ```
 */
export async function embedTexts(embedder: Embedder, texts: readonly string[]): Promise<Float32Array> {
  const d = embedder.dimensions;
  const out = new Float32Array(texts.length * d);
  for (let start = 0; start < texts.length; start += 10_000) {
    const results = await embedder.embed(texts.slice(start, start + 10_000));
    results.forEach((result, i) => result.ok && out.set(result.vector, (start + i) * d));
  }
  return out;
}
