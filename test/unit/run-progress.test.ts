/** Reading an execution's history as stages: pure, over a recorded-shape history. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { INDEXER_STAGES } from '../../asl/indexer.ts';
import { displayStatus, outcomeOf, summarizeHistory, withMapRunCounts } from '../../workflow/run-progress.ts';

let clock = Date.parse('2026-11-24T10:00:00Z');
let id = 0;
const event = (type: string, details: Partial<HistoryEvent> = {}): HistoryEvent => ({
  type: type as HistoryEvent['type'],
  id: ++id,
  timestamp: new Date((clock += 1000)),
  ...details,
});
const entered = (name: string) => event('TaskStateEntered', { stateEnteredEventDetails: { name } });
const exited = (name: string, output: unknown) =>
  event('TaskStateExited', { stateExitedEventDetails: { name, output: JSON.stringify(output) } });

describe('summarizeHistory', () => {
  it('turns a run into its stages with counts, a retried stage and failed batches', () => {
    // Prepare: lease, bootstrap, plan (3 batches), embed (one batch failed), merge retried once, clear
    const history = [
      entered('Take writer lease'),
      exited('Take writer lease', { lease: { acquired: true, expiresAt: 1 } }),
      entered('Bootstrap model'),
      exited('Bootstrap model', { model: { name: 'default', dimensions: 356, copied: true } }),
      entered('Plan batches'),
      exited('Plan batches', { plan: { itemCount: 120, batchCount: 3, capped: false } }),
      event('MapStateEntered', { stateEnteredEventDetails: { name: 'Embed batches' } }),
      event('MapIterationSucceeded'),
      event('MapIterationSucceeded'),
      event('MapIterationSucceeded'),
      event('MapStateExited', {
        stateExitedEventDetails: {
          name: 'Embed batches',
          output: JSON.stringify({ embedResults: { ResultWriterDetails: { Bucket: 'b', Key: 'k' } } }),
        },
      }),
      entered('Merge into index'),
      event('LambdaFunctionScheduled'),
      event('LambdaFunctionFailed', {
        lambdaFunctionFailedEventDetails: { error: 'TransientError', cause: 'throttled' },
      }),
      event('LambdaFunctionScheduled'),
      exited('Merge into index', {
        merge: {
          generation: 4,
          vectors: 80,
          added: 70,
          replaced: 10,
          removed: 0,
          poison: 2,
          failedBatchCount: 1,
          failedBatches: [{}],
        },
      }),
      entered('Clear pending flags'),
      exited('Clear pending flags', { clear: { cleared: 78, deleted: 0, keptPending: 2 } }),
    ];
    // Act
    const progress = summarizeHistory(history);
    // Assess
    assert.deepEqual(
      progress.stages.map((stage) => stage.name),
      [...INDEXER_STAGES],
    );
    const byName = new Map(progress.stages.map((stage) => [stage.name, stage]));
    assert.equal(byName.get('Take writer lease')!.detail, 'taken');
    assert.equal(byName.get('Bootstrap model')!.detail, 'default (356 dimensions), copied to EFS');
    assert.equal(byName.get('Plan batches')!.detail, '120 items in 3 batches');
    assert.equal(byName.get('Embed batches')!.detail, '2 of 3 batches embedded, 1 failed');
    assert.equal(byName.get('Embed batches')!.status, 'retried');
    assert.deepEqual([byName.get('Merge into index')!.status, byName.get('Merge into index')!.retries], ['retried', 1]);
    assert.equal(
      byName.get('Merge into index')!.detail,
      'generation 4: 80 vectors (70 added, 10 replaced, 0 removed, 2 poison, 1 batches failed)',
    );
    assert.equal(byName.get('Clear pending flags')!.status, 'succeeded');
    assert.deepEqual(progress.batches, { done: 3, failed: 1, total: 3 });
  });

  it('marks the running stage failed when the execution fails, and leaves later stages waiting', () => {
    const progress = summarizeHistory([
      entered('Take writer lease'),
      exited('Take writer lease', { lease: { acquired: true, expiresAt: 1 } }),
      entered('Bootstrap model'),
      event('LambdaFunctionFailed', {
        lambdaFunctionFailedEventDetails: { error: 'PermanentError', cause: 'no model' },
      }),
      event('ExecutionFailed'),
    ]);
    const byName = new Map(progress.stages.map((stage) => [stage.name, stage]));
    assert.equal(byName.get('Bootstrap model')!.status, 'failed');
    assert.equal(byName.get('Bootstrap model')!.error, 'PermanentError: no model');
    assert.equal(byName.get('Plan batches')!.status, 'waiting');
    assert.ok(byName.get('Bootstrap model')!.endedAt, 'it ended when the run failed, and its time stops there');
  });

  it('times a redriven stage from its redrive, and shows it retried once it succeeds', () => {
    // Prepare: bootstrap fails, the run is redriven from it an hour later, and it succeeds
    const history = [
      entered('Take writer lease'),
      exited('Take writer lease', { lease: { acquired: true, expiresAt: 1 } }),
      entered('Bootstrap model'),
      event('LambdaFunctionScheduled'),
      event('LambdaFunctionFailed', {
        lambdaFunctionFailedEventDetails: { error: 'PermanentError', cause: 'no model' },
      }),
      event('ExecutionFailed'),
    ];
    clock += 3600_000;
    const redrive = event('ExecutionRedriven', { executionRedrivenEventDetails: { redriveCount: 1 } });
    const again = entered('Bootstrap model');
    // Act
    const progress = summarizeHistory([
      ...history,
      redrive,
      again,
      event('LambdaFunctionScheduled'),
      exited('Bootstrap model', { model: { name: 'default', dimensions: 356 } }),
    ]);
    // Assess
    const bootstrap = progress.stages.find((stage) => stage.name === 'Bootstrap model')!;
    assert.equal(bootstrap.status, 'retried');
    assert.deepEqual(bootstrap.startedAt, again.timestamp);
    assert.ok(bootstrap.endedAt! > bootstrap.startedAt!);
  });

  it('says once that a run waits for the lease, however often its holder renews it', () => {
    // Prepare: the lease asked for twice while its holder renews it
    const waiting = (until: string) =>
      exited('Take writer lease', {
        lease: {
          acquired: false,
          waits: true,
          holder: 'b',
          expiresAt: 1,
          skipped: `another run (b) holds the index until ${until}`,
        },
      });
    // Act
    const first = summarizeHistory([entered('Take writer lease'), waiting('2026-12-06T10:00:05.000Z')]);
    const second = summarizeHistory([entered('Take writer lease'), waiting('2026-12-06T10:00:09.000Z')]);
    // Assess
    const detail = (progress: ReturnType<typeof summarizeHistory>) => progress.stages[0]!.detail;
    assert.equal(detail(first), 'waiting: another run (b) holds the index');
    assert.equal(detail(first), detail(second));
  });

  it('marks the stage a stopped run was in aborted, not failed, with the reason it was stopped', () => {
    // Act
    const progress = summarizeHistory([
      entered('Take writer lease'),
      exited('Take writer lease', { lease: { acquired: true, expiresAt: 1 } }),
      entered('Bootstrap model'),
      event('LambdaFunctionScheduled'),
      event('ExecutionAborted', {
        executionAbortedEventDetails: { error: 'User.Stop', cause: 'stopped from the monitor' },
      }),
    ]);
    // Assess
    const bootstrap = progress.stages.find((stage) => stage.name === 'Bootstrap model')!;
    assert.deepEqual(
      [bootstrap.status, bootstrap.detail],
      ['aborted', 'stopped (User.Stop: stopped from the monitor)'],
    );
    assert.equal(progress.states.find((visit) => visit.name === 'Bootstrap model')!.status, 'aborted');
  });

  it('records every state visited with counts, the Map iterations, and the transitions taken, a Catch path included', () => {
    // Prepare: two batches (one caught inside the Map), then merge fails and its Catch records the failure
    const inner = (type: string, name: string) =>
      event(
        type,
        type.endsWith('Entered') ? { stateEnteredEventDetails: { name } } : { stateExitedEventDetails: { name } },
      );
    const history = [
      entered('Plan batches'),
      exited('Plan batches', { plan: { itemCount: 40, batchCount: 2, capped: false } }),
      event('MapStateEntered', { stateEnteredEventDetails: { name: 'Embed batches' } }),
      event('MapIterationStarted'),
      event('MapIterationStarted'),
      inner('TaskStateEntered', 'Embed batch'),
      inner('TaskStateEntered', 'Embed batch'),
      inner('TaskStateExited', 'Embed batch'),
      event('MapIterationSucceeded'),
      event('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: 'PermanentError', cause: 'bad' } }),
      inner('PassStateEntered', 'Batch failed'),
      inner('PassStateExited', 'Batch failed'),
      event('MapIterationSucceeded'),
      event('MapStateExited', { stateExitedEventDetails: { name: 'Embed batches', output: '{"shards":[{},{}]}' } }),
      entered('Merge into index'),
      event('LambdaFunctionScheduled'),
      event('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: 'PermanentError', cause: 'disk' } }),
      entered('Record failure'),
      event('LambdaFunctionScheduled'),
      exited('Record failure', {}),
      event('FailStateEntered', { stateEnteredEventDetails: { name: 'Run failed' } }),
      event('ExecutionFailed'),
    ];
    // Act
    const progress = summarizeHistory(history);
    // Assess
    const visit = new Map(progress.states.map((state) => [state.name, state]));
    assert.deepEqual([visit.get('Embed batch')?.entered, visit.get('Embed batch')?.exited], [2, 1]);
    assert.deepEqual([visit.get('Batch failed')?.entered, visit.get('Batch failed')?.exited], [1, 1]);
    assert.equal(visit.get('Merge into index')?.status, 'failed');
    assert.equal(visit.get('Record failure')?.status, 'succeeded');
    assert.deepEqual(progress.iterations, { started: 2, succeeded: 2, failed: 0 });
    assert.deepEqual(
      progress.edges.map((edge) => `${edge.from} -> ${edge.to}`),
      [
        'Plan batches -> Embed batches',
        'Embed batches -> Merge into index',
        'Merge into index -> Record failure',
        'Record failure -> Run failed',
      ],
    );
  });
});

describe('withMapRunCounts', () => {
  it("counts a running Distributed Map's batches from its Map Run, as its iterations are not in the history", () => {
    // Prepare: the plan made 5 batches; the Map Run has ended 3 (one of them failed)
    const history = [
      entered('Plan batches'),
      exited('Plan batches', { plan: { itemCount: 250, batchCount: 5, capped: false } }),
      event('MapStateEntered', { stateEnteredEventDetails: { name: 'Embed batches' } }),
      event('MapRunStarted', { mapRunStartedEventDetails: { mapRunArn: 'arn:aws:states:r:1:mapRun:m/Embed:x' } }),
    ];
    // Act
    const progress = withMapRunCounts(summarizeHistory(history), {
      pending: 1,
      running: 1,
      succeeded: 2,
      failed: 1,
      total: 5,
    });
    // Assess
    assert.deepEqual(progress.iterations, { started: 4, succeeded: 2, failed: 1 });
    assert.deepEqual(progress.batches, { done: 3, failed: 0, total: 5 });
    assert.equal(progress.stages.find((stage) => stage.name === 'Embed batches')?.detail, '3 of 5 batches done');
  });
});

describe('displayStatus', () => {
  it('shows a run that succeeded without doing any work as SKIPPED, whichever the reason', () => {
    // Prepare: held by another run; nothing pending; a real run; a failed run
    const held = JSON.stringify({ lease: { acquired: false, holder: 'x', expiresAt: 1, skipped: 'held by x' } });
    const nothing = JSON.stringify({ lease: { acquired: true }, plan: { itemCount: 0, batchCount: 0 } });
    const indexed = JSON.stringify({ merge: { added: 3, replaced: 0, removed: 1 } });
    // Act and assess
    assert.equal(displayStatus('SUCCEEDED', outcomeOf(held)), 'SKIPPED');
    assert.equal(displayStatus('SUCCEEDED', outcomeOf(nothing)), 'SKIPPED');
    assert.equal(displayStatus('SUCCEEDED', outcomeOf(indexed)), 'SUCCEEDED');
    assert.equal(displayStatus('FAILED', {}), 'FAILED');
  });
});
