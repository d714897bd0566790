/**
 * Live progress inside a long stage (merge, clear), for the monitor: the stage reports its
 * counts and they reach the run-progress record in the table at most once a second, and once
 * more at the end. A stage that ends within its first second writes nothing: the record is read
 * only while a stage runs, and a merge of a thousand items (tens of milliseconds) would otherwise
 * spend two of its three table round trips on it. A failed progress write never fails the
 * stage: it is only a view.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { runProgressItem } from '../table/reserved-items.ts';
import type { IndexerContext, RunInfo } from './context.ts';

/** Reports one stage's progress. */
export interface StageProgressReporter {
  /** Sets the count done (of the total); written when the last write is a second old. */
  update(done: number): void;
  /** Writes the final count and waits for every write. */
  finish(done?: number): Promise<void>;
}

/** The least time between two writes of a stage's progress. */
const WRITE_INTERVAL_MS = 1_000;

/**
 * A reporter of `total` units of work for `stage` of `run`, starting at `start`: first written once
 * the stage has run for a second, then at most once a second, and at the end if it was written at
 * all. A stage that spans several invocations (merge, a window each) goes on from where the last left.
 * @example
 * ```ts
 * const progress = reportStageProgress(context, run, 'clear', entries.length, 'flags cleared');
 * for (const entry of entries) { await clearOne(entry); progress.update(++done); }
 * await progress.finish();
 * ```
 */
export function reportStageProgress(
  context: IndexerContext,
  run: RunInfo,
  stage: string,
  total: number,
  unit: string,
  start = 0,
): StageProgressReporter {
  const { config, clients } = context;
  let done = start;
  // As if written when the stage began: the first write comes a second in.
  let lastWrite = Date.now();
  let written = false;
  let writes: Promise<void> = Promise.resolve();
  const write = (): void => {
    lastWrite = Date.now();
    written = true;
    const record = { execution: run.execution, stage, done, total, unit, updatedAt: new Date(lastWrite).toISOString() };
    const put = new PutItemCommand({ TableName: config.tableName, Item: runProgressItem(config, record) });
    // Chained, so writes land in order; a failure is dropped (the next write repeats the count).
    writes = writes.then(() =>
      clients.dynamodb.send(put).then(
        () => undefined,
        () => undefined,
      ),
    );
  };
  return {
    update(count) {
      done = count;
      if (Date.now() - lastWrite >= WRITE_INTERVAL_MS) write();
    },
    async finish(count = done) {
      done = count;
      if (written) write();
      await writes;
    },
  };
}
