/**
 * The local engine's histories hold only events Step Functions records: every event type is one
 * of `@aws-sdk/client-sfn`'s `HistoryEventType`s (the engine's API is typed with the SDK's shapes),
 * a Fail state is entered and the execution fails (a Fail state never exits), and a Pass state's
 * failure is the execution's (only Map and Parallel states have a failed event of their own).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistoryEventType } from '@aws-sdk/client-sfn';
import { LocalStepFunctions } from '../../local-stack/engine/local-engine.ts';
import { tempDir } from '../helpers/scratch.ts';

/** Runs a definition to its end in an engine of its own; returns the history's event types. */
async function historyOf(definition: object): Promise<string[]> {
  const dir = tempDir('ddb-faiss-engine-');
  try {
    const engine = new LocalStepFunctions({ directory: dir.path, region: 'us-east-1', handlers: new Map() });
    const { stateMachineArn } = engine.CreateStateMachine({
      name: 'history',
      definition: JSON.stringify(definition),
      roleArn: 'arn:aws:iam::000000000000:role/test',
    });
    const { executionArn } = engine.StartExecution({ stateMachineArn, input: '{"go": true}' });
    await engine.settled(executionArn!);
    return engine.GetExecutionHistory({ executionArn }).events!.map((event) => String(event.type));
  } finally {
    dir.remove();
  }
}

const KNOWN = new Set<string>(Object.values(HistoryEventType));

describe('local engine histories', () => {
  it('records a Fail state as entered, then the execution failed', async () => {
    // Act
    const types = await historyOf({
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Next: 'Give up' },
        'Give up': { Type: 'Fail', Error: 'Nope', Cause: 'on purpose' },
      },
    });

    // Assess
    assert.deepEqual(
      types.filter((type) => !KNOWN.has(type)),
      [],
    );
    assert.deepEqual(types.slice(-2), ['FailStateEntered', 'ExecutionFailed']);
  });

  it("records a Pass state's failure as the execution's", async () => {
    // Act: a path the input does not have fails the state
    const types = await historyOf({
      StartAt: 'Pick',
      States: { Pick: { Type: 'Pass', InputPath: '$.missing.deeper', End: true } },
    });

    // Assess
    assert.deepEqual(
      types.filter((type) => !KNOWN.has(type)),
      [],
    );
    assert.equal(types.at(-1), 'ExecutionFailed');
  });
});
