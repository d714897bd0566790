/** Waiting for stream mode to catch up, and reading what it did, for integration tests. */
import { existsSync, readFileSync } from 'node:fs';
import { type AttributeValue, BatchWriteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { DdbFaissConfig } from '../../config/config.ts';
import { GenerationStore } from '../../index-store/generations.ts';
import { SegmentedIndex } from '../../index-store/segmented-index.ts';
import { localMetricsFile } from '../../lambda-host/observability.ts';
import { RESERVED_GROUP } from '../../table/reserved-items.ts';
import { METRICS } from '../../tasks/metrics.ts';
import type { AwsClients } from '../../aws/clients.ts';
import { readStackInfo } from '../../local-stack/stack-info.ts';
import { type IndexerHarness, useHarness } from './indexer.ts';

/** A stack to watch: the harness's or one `up` serves. */
export interface WatchedStack {
  readonly config: DdbFaissConfig;
  readonly dynamodb: DynamoDBClient;
  readonly stepFunctions: SFNClient;
  readonly stateMachineArn: string;
}

/** The harness's stack, to watch. */
export const watchedHarness = (h: IndexerHarness): WatchedStack => ({
  config: h.config,
  dynamodb: h.stack.clients.dynamodb,
  stepFunctions: h.stack.clients.stepFunctions,
  stateMachineArn: h.stack.stateMachineArns['indexer']!,
});

/** The stack `up` serves for a configuration (its stack.json), through these clients, to watch. */
export const watchedUp = (
  config: DdbFaissConfig,
  clients: Pick<AwsClients, 'dynamodb' | 'stepFunctions'>,
): WatchedStack => ({
  config,
  dynamodb: clients.dynamodb,
  stepFunctions: clients.stepFunctions,
  stateMachineArn: readStackInfo(config)!.stateMachineArn,
});

/**
 * A harness in stream mode (no debounce, runs not spaced) for one `describe` block: started before
 * its tests, closed and its folder removed after them.
 */
export const useStreamHarness = (): { readonly h: IndexerHarness; readonly dataDir: string } =>
  useHarness({ 'change-capture': 'stream', 'capture-debounce': '0s', 'capture-run-spacing': '0s' });

/** Each indexed item's `rev` attribute (as the index keeps it), by id, and how many entries the index holds. */
export function indexedRevisions(config: DdbFaissConfig): { revisions: Map<string, number>; entries: number } {
  const store = new GenerationStore(config.efsRoot);
  const current = store.current();
  if (!current) return { revisions: new Map(), entries: 0 };
  const items = SegmentedIndex.open(store, store.meta(current)).items();
  return {
    revisions: new Map(items.map((item) => [item.entry.id, Number(item.attributes?.['rev'] ?? 0)])),
    entries: items.length,
  };
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

/** Items with the pending attribute: ddb-faiss's change markers and writers' flags, counted apart. */
async function pendingCounts(stack: WatchedStack): Promise<{ markers: number; flags: number }> {
  const { config } = stack;
  let markers = 0;
  let flags = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await stack.dynamodb.send(
      new ScanCommand({ TableName: config.tableName, IndexName: config.pendingIndexName, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) {
      if (item[config.groupAttribute]?.S === RESERVED_GROUP) markers += 1;
      else flags += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { markers, flags };
}

/**
 * Waits until the index holds exactly `expected` (id to rev), once each, nothing is pending (no
 * change marker, no flag) and no run is running.
 * @returns the index's revisions once settled
 * @throws naming what is still unsettled after `timeoutMs`
 */
export async function settle(
  stack: WatchedStack,
  expected: ReadonlyMap<string, number>,
  timeoutMs = 90_000,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { revisions, entries } = indexedRevisions(stack.config);
    const same = entries === expected.size && [...expected].every(([id, rev]) => revisions.get(id) === rev);
    const pending = await pendingCounts(stack);
    const { executions = [] } = await stack.stepFunctions.send(
      new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn, statusFilter: 'RUNNING' }),
    );
    if (same && pending.markers === 0 && pending.flags === 0 && executions.length === 0) return revisions;
    if (Date.now() > deadline) {
      const wrong = [...expected].filter(([id, rev]) => revisions.get(id) !== rev).slice(0, 5);
      throw new Error(
        `not settled after ${timeoutMs / 1000} s: the index holds ${entries} entries for ${expected.size} expected ` +
          `(first differences: ${JSON.stringify(wrong.map(([id, rev]) => [id, rev, revisions.get(id)]))}); ` +
          `${pending.markers} markers and ${pending.flags} flags pending, ${executions.length} runs running`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Makes every capture call holding an item whose id starts with "flaky" fail (until the test
 * resets `captureFault`), then writes the items (id and text each, `rev` 1) in one BatchWriteItem:
 * one stream batch with the flaky records among good ones.
 */
export async function writeWithFlakyCapture(
  h: IndexerHarness,
  items: readonly (readonly [id: string, text: string])[],
): Promise<void> {
  h.captureFault = (event) => {
    const ids = event.Records.map((record) => record.dynamodb?.Keys?.[h.config.idAttribute]?.S ?? '');
    if (ids.some((id) => id.startsWith('flaky'))) throw new Error('the capture call failed');
  };
  await h.stack.clients.dynamodb.send(
    new BatchWriteItemCommand({
      RequestItems: {
        [h.config.tableName]: items.map(([id, text]) => ({
          PutRequest: {
            Item: {
              [h.config.groupAttribute]: { S: 'g' },
              [h.config.idAttribute]: { S: id },
              [h.config.contentAttribute]: { S: text },
              rev: { N: '1' },
            },
          },
        })),
      },
    }),
  );
}
