/**
 * What `ddb-faiss up` prints of the task handlers' logs: one readable line per event (time,
 * level, stage, run, message, duration, counts), none of Lambda's context; a fault's error in
 * one line; JSON only when asked for (`--log-format json`, as Lambda writes it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { localObservability } from '../../lambda-host/observability.ts';
import { localLambdaContext } from '../../lambda-host/lambda-context.ts';
import { stageHandler } from '../../tasks/indexer-handlers.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { captureOutput } from '../helpers/logs.ts';

describe("up's log lines", () => {
  const dir = tempDir();
  after(() => dir.remove());
  const run = { mode: 'incremental', execution: 'manual-20261206-0123', executionArn: 'arn:x' } as const;

  it('are one readable line per event by default, with the stage, the run and the counts', async () => {
    // Prepare
    const observability = localObservability({ dataDir: dir.path, logLevel: 'INFO', logFormat: 'text' });
    const plan = stageHandler('plan', async () => ({ batchCount: 3, itemCount: 1200, capped: false }), observability);
    // Act
    const { out } = await captureOutput(() => plan({ run } as never, localLambdaContext('ddb-faiss-plan', 60_000)));
    // Assess
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 2, out);
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} +INFO +plan +manual-20261206-0123 +plan started$/);
    assert.match(
      lines[1]!,
      /^\d\d:\d\d:\d\d\.\d{3} +INFO +plan +manual-20261206-0123 +plan succeeded +\d+\.\d s +batchCount=3 +itemCount=1200 +capped=false$/,
    );
    assert.doesNotMatch(out, /function_arn|cold_start|\{"level"/);
  });

  it('say a failure in one line on stderr, and are JSON when asked for', async () => {
    const failing = async () => {
      throw Object.assign(new Error('the table is gone'), { name: 'ResourceNotFoundException' });
    };
    const text = localObservability({ dataDir: dir.path, logLevel: 'INFO', logFormat: 'text' });
    // The stage's failure is what is logged; the call's rejection is not what this test is about.
    const fail = (observability: typeof text) => () =>
      stageHandler(
        'clear',
        failing,
        observability,
      )({ run } as never, localLambdaContext('ddb-faiss-clear', 60_000)).catch(() => undefined);
    const failed = await captureOutput(fail(text));
    assert.match(
      failed.err,
      /^\d\d:\d\d:\d\d\.\d{3} +ERROR +clear +manual-20261206-0123 +clear failed +ResourceNotFoundException: the table is gone( \(at .+\))?\n$/,
    );
    const json = localObservability({ dataDir: dir.path, logLevel: 'INFO', logFormat: 'json' });
    const machine = await captureOutput(fail(json));
    assert.equal(JSON.parse(machine.err).message, 'clear failed');
  });
});
