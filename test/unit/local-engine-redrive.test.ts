/**
 * RedriveExecution in the local engine, as Step Functions does it for Standard workflows: a failed
 * execution goes on from the state that failed, with that state's input, under the same ARN; the
 * states that succeeded are not run again; the history goes on after an `ExecutionRedriven` event;
 * an execution that succeeded, or runs, is refused.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { TaskHandler } from '../../tasks/handler.ts';
import { LocalStepFunctions } from '../../local-stack/engine/local-engine.ts';
import { tempDir } from '../helpers/scratch.ts';

const fn = (name: string): string => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

describe('local engine redrive', () => {
  const dir = tempDir('ddb-faiss-redrive-');
  after(() => dir.remove());
  const calls: string[] = [];
  let failLoad = true;
  const handlers = new Map<string, TaskHandler>([
    [
      'prepare',
      async (event) => {
        calls.push('prepare');
        return { ...(event as object), prepared: true };
      },
    ],
    [
      'load',
      async (event) => {
        calls.push('load');
        if (failLoad) throw Object.assign(new Error('the store is down'), { name: 'StoreDown' });
        return { ...(event as object), loaded: true };
      },
    ],
  ]);
  const engine = new LocalStepFunctions({ directory: dir.path, region: 'us-east-1', handlers });
  const { stateMachineArn } = engine.CreateStateMachine({
    name: 'redrive',
    definition: JSON.stringify({
      StartAt: 'Prepare',
      States: {
        Prepare: { Type: 'Task', Resource: fn('prepare'), Next: 'Load' },
        Load: { Type: 'Task', Resource: fn('load'), Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    }),
    roleArn: 'arn:aws:iam::000000000000:role/test',
  });

  it('goes on from the state that failed, with its input, and does not run the states before it again', async () => {
    // Prepare: a run that fails in Load
    const { executionArn } = engine.StartExecution({ stateMachineArn, name: 'first', input: '{"n": 1}' });
    await engine.settled(executionArn!);
    assert.equal(engine.DescribeExecution({ executionArn }).status, 'FAILED');
    assert.equal(engine.DescribeExecution({ executionArn }).redriveStatus, 'REDRIVABLE');
    failLoad = false;
    calls.length = 0;
    // Act
    const { redriveDate } = engine.RedriveExecution({ executionArn });
    await engine.settled(executionArn!);
    // Assess
    const described = engine.DescribeExecution({ executionArn });
    assert.equal(described.status, 'SUCCEEDED', described.cause);
    assert.deepEqual(JSON.parse(described.output!), { n: 1, prepared: true, loaded: true });
    assert.deepEqual(calls, ['load'], 'Prepare succeeded the first time and is not run again');
    assert.equal(described.redriveCount, 1);
    assert.equal(described.redriveDate, redriveDate);
    assert.equal(described.redriveStatus, 'NOT_REDRIVABLE');
    const events = engine.GetExecutionHistory({ executionArn }).events!;
    const types = events.map((event) => event.type);
    const redriven = types.indexOf('ExecutionRedriven');
    assert.deepEqual(types.slice(redriven - 1, redriven + 2), [
      'ExecutionFailed',
      'ExecutionRedriven',
      'TaskStateEntered',
    ]);
    assert.deepEqual(events[redriven]!.executionRedrivenEventDetails, { redriveCount: 1 });
    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, i) => i + 1),
      'the history goes on, numbered without a gap',
    );
  });

  it('refuses an execution that succeeded, naming why', async () => {
    // Act and assess
    const { executionArn } = engine.StartExecution({ stateMachineArn, name: 'second', input: '{}' });
    await engine.settled(executionArn!);
    assert.throws(
      () => engine.RedriveExecution({ executionArn }),
      (error: Error) =>
        error.name === 'ExecutionNotRedrivable' && /SUCCEEDED and cannot be redriven/.test(error.message),
    );
  });
});
