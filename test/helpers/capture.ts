/** Waiting for stream mode to catch up, and reading what it did, for integration tests. */
import { existsSync, readFileSync } from 'node:fs';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { GenerationStore } from '../../index-store/generations.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { localMetricsFile } from '../../local-stack/local-observability.ts';
import { METRICS } from '../../tasks/metrics.ts';
import type { IndexerHarness } from './indexer.ts';

/** Each indexed item's `rev` attribute (as the index keeps it), by id; duplicates would show as a short map. */
export async function indexedRevisions(h: IndexerHarness): Promise<Map<string, number>> {
  const store = new GenerationStore(h.config.efsRoot);
  const current = store.current();
  if (!current) return new Map();
  const items = SegmentedIndex.open(store, store.meta(current)).items();
  return new Map(items.map((item) => [item.entry.id, Number(item.attributes?.['rev'] ?? 0)]));
}

/** The sum of the ChangesCaptured metric the capture handler published (the local EMF file). */
export function capturedChanges(dataDir: string): number {
  const file = localMetricsFile(dataDir);
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.includes(METRICS.changesCaptured.name))
    .reduce((sum, line) => sum + Number((JSON.parse(line) as Record<string, number>)[METRICS.changesCaptured.name]), 0);
}

/**
 * Waits until the index holds exactly `expected` (id to rev), nothing is pending (no change marker,
 * and with `pendingFlags: 0` no flag either) and no run is running.
 * @returns the index's revisions once settled
 * @throws naming what is still unsettled after 90 s
 */
export async function settle(
  h: IndexerHarness,
  expected: ReadonlyMap<string, number>,
  options: { readonly pendingFlags?: 0 } = {},
): Promise<Map<string, number>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const indexed = await indexedRevisions(h);
    const same = indexed.size === expected.size && [...expected].every(([id, rev]) => indexed.get(id) === rev);
    const reserved = await h.reservedItems();
    const markersPending = reserved.filter((item) => item[h.config.pendingAttribute] !== undefined).length;
    const flagsPending = options.pendingFlags === 0 ? (await h.pendingIds()).length : 0;
    const { executions = [] } = await h.stack.clients.stepFunctions.send(
      new ListExecutionsCommand({ stateMachineArn: h.stack.stateMachineArns['indexer'], statusFilter: 'RUNNING' }),
    );
    if (same && markersPending === 0 && flagsPending === 0 && executions.length === 0) return indexed;
    if (Date.now() > deadline)
      throw new Error(
        `not settled after 90 s: index ${JSON.stringify([...indexed])}, expected ${JSON.stringify([...expected])}; ` +
          `${markersPending} markers and ${flagsPending} flags pending, ${executions.length} runs running`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
