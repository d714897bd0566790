/**
 * Benches' indexes written straight to EFS through the index writer (no table, no workflow):
 * for figures that do not involve DynamoDB, such as load times and memory.
 */
import { GenerationStore, type GenerationMeta, type IndexModel } from '../index-store/generations.ts';
import type { IndexEntry, ItemRows } from '../index-store/index-entry.ts';
import { onePassage, writeSegments } from '../index-store/index-writer.ts';

/**
 * Publishes a generation of these items (row i has vector i of `vectors`) as a backfill would;
 * `extras` gives item i its filterable attributes and its terms for the lexical index.
 */
export async function publishFixture(
  efsRoot: string,
  model: IndexModel,
  entries: readonly IndexEntry[],
  vectors: Float32Array,
  extras?: (i: number) => Pick<ItemRows, 'attributes' | 'terms'>,
): Promise<GenerationMeta> {
  const d = model.dimensions;
  const store = new GenerationStore(efsRoot);
  const items = entries.map((entry, i) => ({
    ...onePassage(entry, vectors.subarray(i * d, (i + 1) * d)),
    ...extras?.(i),
  }));
  return store.publish(await writeSegments(store, items, d), model, 'bench');
}
