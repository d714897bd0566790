/** The monitor's execution page, read from a recorded-shape history: pure, no stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DescribeExecutionCommandOutput, HistoryEvent } from '@aws-sdk/client-sfn';
import { summarizeHistory } from '../../workflow/run-progress.ts';
import { causeInWords, eventViews, failureOf, outcomeView, timelineOf } from '../../workflow/monitor/execution-view.ts';

const START = new Date('2026-12-06T10:00:00Z');
let id = 0;
const at = (seconds: number, type: string, details: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id: ++id,
  type: type as HistoryEvent['type'],
  timestamp: new Date(START.getTime() + seconds * 1000),
  ...details,
});
const entered = (seconds: number, name: string, type = 'TaskStateEntered') =>
  at(seconds, type, { stateEnteredEventDetails: { name, input: `{"at":"${name}"}` } });
const exited = (seconds: number, name: string, output: unknown = {}, type = 'TaskStateExited') =>
  at(seconds, type, { stateExitedEventDetails: { name, output: JSON.stringify(output) } });

/** A run whose merge failed for good: caught, recorded, failed. */
const failedRun = (): HistoryEvent[] => [
  at(0, 'ExecutionStarted', { executionStartedEventDetails: { input: '{"mode":"incremental"}' } }),
  entered(0, 'Take writer lease'),
  exited(1, 'Take writer lease', { lease: { acquired: true, expiresAt: 1 } }),
  entered(1, 'Embed batches', 'MapStateEntered'),
  at(2, 'MapRunStarted', { mapRunStartedEventDetails: { mapRunArn: 'arn:map-run' } }),
  exited(5, 'Embed batches', {}, 'MapStateExited'),
  entered(5, 'Merge into index'),
  at(5, 'LambdaFunctionScheduled'),
  at(7, 'LambdaFunctionFailed', {
    lambdaFunctionFailedEventDetails: {
      error: 'PermanentError',
      cause: JSON.stringify({ errorType: 'PermanentError', errorMessage: 'the shard store is unreachable' }),
    },
  }),
  entered(7, 'Record failure'),
  exited(8, 'Record failure'),
  entered(8, 'Run failed', 'FailStateEntered'),
  at(8, 'ExecutionFailed', { executionFailedEventDetails: { error: 'PermanentError', cause: 'the shard store…' } }),
];

describe('execution view', () => {
  it('puts each top-level state on the time axis, a failed one ending where the failure path begins', () => {
    // Prepare
    const history = failedRun();
    // Act
    const spans = timelineOf(history, summarizeHistory(history), START);
    // Assess
    assert.deepEqual(
      spans.map((span) => [span.state, span.startMs, span.endMs, span.status]),
      [
        ['Take writer lease', 0, 1000, 'succeeded'],
        ['Embed batches', 1000, 5000, 'succeeded'],
        ['Merge into index', 5000, 7000, 'failed'],
        ['Record failure', 7000, 8000, 'succeeded'],
        ['Run failed', 8000, 8000, 'failed'],
      ],
    );
  });

  it('lists every event with its state, the time since the start, its data and its error', () => {
    // Act
    const events = eventViews(failedRun(), START);
    // Assess
    const failure = events.find((event) => event.type === 'LambdaFunctionFailed')!;
    assert.deepEqual([failure.state, failure.elapsedMs, failure.error], ['Merge into index', 7000, 'PermanentError']);
    const mergeEntered = events.find(
      (event) => event.type === 'TaskStateEntered' && event.state === 'Merge into index',
    );
    assert.equal(mergeEntered?.input, '{"at":"Merge into index"}');
    assert.equal(events.length, failedRun().length);
  });

  it('says why a run failed in words first: the stage and the message inside the Lambda error', () => {
    // Prepare
    const history = failedRun();
    const stages = summarizeHistory(history).stages.map(({ startedAt: _s, endedAt: _e, ...stage }) => stage);
    const execution = { status: 'FAILED', error: 'PermanentError', cause: 'x' } as DescribeExecutionCommandOutput;
    // Act
    const failure = failureOf(execution, stages);
    // Assess
    assert.equal(failure?.words, 'Merge into index failed: the shard store is unreachable');
    assert.equal(failure?.stage, 'Merge into index');
  });

  it('reads outcomes right: skipped, stopped, timed out, indexed', () => {
    const skipped = outcomeView({
      status: 'SUCCEEDED',
      output: JSON.stringify({
        lease: { acquired: false, holder: 'b', expiresAt: 1, skipped: 'the index is held by b' },
      }),
    });
    assert.deepEqual([skipped.display, skipped.words], ['SKIPPED', 'skipped: the index is held by b']);
    const stopped = outcomeView({ status: 'ABORTED', error: 'User.Stop', cause: 'stopped from the monitor' });
    assert.deepEqual([stopped.display, stopped.words], ['ABORTED', 'stopped: User.Stop: stopped from the monitor']);
    assert.equal(outcomeView({ status: 'TIMED_OUT' }).words, 'timed out: the run took longer than its time limit');
    const indexed = outcomeView({
      status: 'SUCCEEDED',
      output: JSON.stringify({ merge: { added: 2, replaced: 1, removed: 0 } }),
    });
    assert.deepEqual([indexed.display, indexed.indexed, indexed.words], ['SUCCEEDED', 3, '3 items indexed']);
    assert.equal(causeInWords('{"errorMessage":"no model"}'), 'no model');
    assert.equal(causeInWords('plain words'), 'plain words');
  });
});
