import validator from 'asl-validator';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import {
  INDEXER_ASL_FILE,
  indexerDefinitionTemplate,
  indexerDefinitionText,
  localFunctionArns,
  placeholdersOf,
  renderIndexerDefinition,
} from '../../asl/indexer.ts';
import { INDEXER_TASK_NAMES, placeholderOf } from '../../asl/tasks.ts';
import { walkStates } from '../../local-stack/engine/task-handlers.ts';

type State = Record<string, unknown>;
const rendered = (): { definition: { States: Record<string, State> } & State; text: string } => {
  const text = renderIndexerDefinition({ functionArns: localFunctionArns('us-east-1'), maxConcurrency: 5 });
  return { definition: JSON.parse(text), text };
};

describe('asl/indexer.asl.json', () => {
  it('is a valid state machine for asl-validator once rendered', () => {
    const { text } = rendered();
    const result = validator(JSON.parse(text), { checkPaths: true, checkArn: true });
    assert.ok(result.isValid, result.errorsText('\n'));
  });

  it('is the file generated from the task definition (run `npm run generate` after changing asl/tasks.ts or asl/indexer.ts)', () => {
    assert.equal(readFileSync(INDEXER_ASL_FILE, 'utf8'), indexerDefinitionText());
  });

  it('uses one placeholder per task and renders all of them', () => {
    assert.deepEqual(placeholdersOf(indexerDefinitionTemplate()).sort(), INDEXER_TASK_NAMES.map(placeholderOf).sort());
    assert.deepEqual(placeholdersOf(rendered().text), []);
    assert.throws(
      () => renderIndexerDefinition({ functionArns: { ...localFunctionArns('us-east-1'), merge: '' } }),
      /no value for \$\{MergeFunctionArn\}/,
    );
  });

  it('chains the stages a user thinks in, with a Choice on the run mode', () => {
    const { definition } = rendered();
    const next = (name: string): unknown => definition.States[name]!['Next'];
    assert.equal(definition['StartAt'], 'Read input');
    assert.equal(next('Read input'), 'Apply input defaults');
    assert.equal(next('Apply input defaults'), 'Choose run mode');
    assert.equal(next('Incremental run'), 'Take writer lease');
    assert.equal(next('Backfill run'), 'Take writer lease');
    assert.equal(next('Take writer lease'), 'Writer lease taken?');
    const leaseChoice = definition.States['Writer lease taken?']!;
    assert.deepEqual(
      (leaseChoice['Choices'] as State[]).map((choice) => [
        choice['Variable'],
        choice['BooleanEquals'],
        choice['Next'],
      ]),
      [
        ['$.lease.acquired', true, 'Bootstrap model'],
        ['$.lease.waits', true, 'Wait for the writer lease'],
      ],
    );
    assert.equal(next('Wait for the writer lease'), 'Take writer lease', 'a run the lease stage says waits asks again');
    assert.equal(
      definition.States[String(leaseChoice['Default'])]!['Type'],
      'Succeed',
      'a run that finds the index held ends at once',
    );
    assert.equal(next('Bootstrap model'), 'Plan batches');
    assert.equal(next('Plan batches'), 'Anything to index?');
    assert.equal(next('Embed batches'), 'Merge into index');
    // A stage with more to do is called again through its Choice; otherwise the run goes on
    const loops = (stage: string, choice: string, after: string) => {
      assert.equal(next(stage), choice);
      const state = definition.States[choice]!;
      assert.equal((state['Choices'] as State[])[0]!['Next'], stage, `${stage} is called again`);
      assert.equal(state['Default'], after);
    };
    loops('Merge into index', 'More to merge?', 'Compact index');
    assert.equal(next('Compact index'), 'Clear pending flags');
    loops('Clear pending flags', 'More to clear?', 'Indexed');
    const choices = definition.States['Choose run mode']!['Choices'] as State[];
    assert.deepEqual(
      choices.map((choice) => choice['Next']),
      ['Wait for more changes', 'Incremental run', 'Backfill run'],
    );
    assert.equal(next('Wait for more changes'), 'Incremental run');
    assert.equal(definition.States['Wait for more changes']!['SecondsPath'], '$.debounceSeconds');
  });

  it('retries only transient errors, with backoff, and fails the run at the stage that failed for good', () => {
    const { definition } = rendered();
    for (const [name, state] of walkStates(definition)) {
      if (state['Type'] !== 'Task') continue;
      const retry = state['Retry'] as State[];
      assert.equal(retry.length, 1, name);
      const errors = retry[0]!['ErrorEquals'] as string[];
      assert.ok(errors.includes('TransientError') && errors.includes('Lambda.TooManyRequestsException'), name);
      assert.ok(
        !errors.includes('States.ALL') && !errors.includes('States.TaskFailed') && !errors.includes('PermanentError'),
        `${name} must not retry permanent errors`,
      );
      assert.ok(Number(retry[0]!['BackoffRate']) > 1, name);
      assert.ok(
        Number(state['TimeoutSeconds']) >= 120,
        `${name} needs a timeout above the local engine's 60 s default`,
      );
      // A batch's failure is caught in its iteration (its items stay pending); a failed compaction leaves the
      // index as it was, so the run goes on to clear its flags. Any other stage's failure ends the run there,
      // where a redrive goes on from (the writer lease stays with the run, as the only proof nobody indexed since).
      const catchers = (state['Catch'] ?? []) as State[];
      const onward = {
        'Embed batch': 'Batch failed',
        'Compact index': 'Clear pending flags',
        'Record failure': 'Run failed',
      };
      assert.deepEqual(
        catchers.filter((catcher) => (catcher['ErrorEquals'] as string[]).includes('States.ALL')).map((c) => c['Next']),
        name in onward ? [onward[name as keyof typeof onward]] : [],
        name,
      );
    }
    // ... unless it found a damaged segment: that fails the run, naming the file (a backfill heals it).
    const compactCatchers = definition.States['Compact index']!['Catch'] as State[];
    assert.deepEqual(
      compactCatchers.map((catcher) => [catcher['ErrorEquals'], catcher['Next'], catcher['ResultPath']]),
      [
        [['IndexDamagedError'], 'Record failure', '$.error'],
        [['States.ALL'], 'Clear pending flags', '$.compaction'],
      ],
    );
    // No other top-level state catches its failure: the run fails at the stage, and can be redriven from it.
    for (const [name, state] of Object.entries(definition.States)) {
      if (!['Task', 'Map', 'Parallel'].includes(String(state['Type']))) continue;
      if (name === 'Record failure' || name === 'Compact index') continue;
      assert.equal(state['Catch'], undefined, name);
    }
    assert.equal(definition.States['Record failure']!['Next'], 'Run failed');
    const failure = definition.States['Run failed']!;
    assert.deepEqual(
      [failure['Type'], failure['ErrorPath'], failure['CausePath']],
      ['Fail', '$.error.Error', '$.error.Cause'],
    );
  });

  it('renders the Map with the configured concurrency, a distributed processor and a descriptor-only item selector', () => {
    const map = rendered().definition.States['Embed batches']!;
    assert.equal(map['MaxConcurrency'], 5);
    assert.deepEqual((map['ItemProcessor'] as State)['ProcessorConfig'], {
      Mode: 'DISTRIBUTED',
      ExecutionType: 'STANDARD',
    });
    assert.deepEqual(Object.keys(map['ItemSelector'] as State).sort(), ['batch.$', 'model.$', 'run.$']);
  });
});
