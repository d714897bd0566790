/**
 * The local Step Functions endpoint enforces the AWS limits a workflow could otherwise break
 * only in production, answered through @aws-sdk/client-sfn: 256 KiB of state data (a terminal
 * States.DataLimitExceeded, which no Catch handles) and AWS's rule for execution names.
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskHandler } from '../../tasks/handler.ts';
import { useTestStack } from '../helpers/local-stack.ts';

/** A machine whose first state returns `bytes` of data, then a second state; a Catch on all errors. */
const machineReturning = (bytes: number) =>
  JSON.stringify({
    StartAt: 'Produce',
    States: {
      Produce: {
        Type: 'Pass',
        Result: { blob: 'x'.repeat(bytes) },
        ResultPath: '$.produced',
        Next: 'After',
      },
      After: { Type: 'Pass', Result: 'reached', ResultPath: '$.after', End: true },
    },
  });

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function';

describe('local Step Functions: AWS limits', () => {
  const calls: string[] = [];
  const test = useTestStack({
    handlers: new Map<string, TaskHandler>([
      ['big', async () => ({ blob: 'x'.repeat(300_000) })],
      ['next', async () => calls.push('next')],
    ]),
    stateMachines: {
      bigTask: JSON.stringify({
        StartAt: 'Big',
        States: {
          Big: {
            Type: 'Task',
            Resource: `${LAMBDA}:big`,
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Then' }],
            Next: 'Then',
          },
          Then: { Type: 'Task', Resource: `${LAMBDA}:next`, End: true },
        },
      }),
      big: machineReturning(300_000),
      small: machineReturning(200_000),
      caught: JSON.stringify({
        StartAt: 'Try',
        States: {
          Try: {
            Type: 'Parallel',
            Branches: [
              {
                StartAt: 'Produce',
                States: { Produce: { Type: 'Pass', Result: { blob: 'x'.repeat(300_000) }, End: true } },
              },
            ],
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Handled' }],
            End: true,
          },
          Handled: { Type: 'Pass', End: true },
        },
      }),
    },
  });
  const run = async (machine: string, name?: string, input = '{}') => {
    const { stack } = test;
    const sfn = stack.clients.stepFunctions;
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: stack.stateMachineArns[machine], name, input }),
    );
    await stack.stepFunctions.settled(executionArn!);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    return { described, events: history.events ?? [] };
  };

  it('fails an execution whose state returns over 256 KiB with States.DataLimitExceeded, before the next state', async () => {
    // Act
    const { described, events } = await run('big');
    // Assess
    assert.equal(described.status, 'FAILED');
    assert.equal(described.error, 'States.DataLimitExceeded');
    assert.match(described.cause ?? '', /The state\/task 'Produce' returned a result with a size exceeding/);
    assert.equal(events.at(-1)?.type, 'ExecutionFailed');
    assert.equal(events.at(-1)?.executionFailedEventDetails?.error, 'States.DataLimitExceeded');
    assert.ok(!events.some((event) => event.stateEnteredEventDetails?.name === 'After'), 'the next state never ran');
  });

  it('fails at once when a Task returns over 256 KiB: neither its Catch nor the next Task runs', async () => {
    // Act
    const { described, events } = await run('bigTask');
    // Assess
    assert.equal(described.status, 'FAILED');
    assert.equal(described.error, 'States.DataLimitExceeded');
    assert.match(described.cause ?? '', /'Big' returned a result/);
    assert.deepEqual(calls, []);
    assert.equal(events.at(-1)?.type, 'ExecutionFailed');
  });

  it('runs the same machine when the state returns under the limit', async () => {
    const { described } = await run('small');
    assert.equal(described.status, 'SUCCEEDED');
  });

  it('does not let a Catch on States.ALL handle it: the limit is terminal, as on AWS', async () => {
    const { described } = await run('caught');
    assert.equal(described.status, 'FAILED');
    assert.equal(described.error, 'States.DataLimitExceeded');
  });

  it('refuses an execution input over 256 KiB', async () => {
    await assert.rejects(run('small', undefined, JSON.stringify({ blob: 'x'.repeat(262_144) })), {
      name: 'ValidationException',
    });
  });

  it('accepts and refuses execution names as AWS does', async () => {
    // Act and assess: dots and unicode letters are allowed; spaces, slashes, colons and 81 characters are not
    assert.equal((await run('small', 'backfill.2026-11-25_über')).described.status, 'SUCCEEDED');
    for (const name of ['has space', 'a/b', 'a:b', 'x'.repeat(81), ''])
      await assert.rejects(run('small', name), { name: 'InvalidName' }, name);
  });
});
