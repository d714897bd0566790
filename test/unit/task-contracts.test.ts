/**
 * One contract per task: each task's input is declared once (`input` in `asl/tasks.ts`); the
 * Task state's `Parameters` (the embed Map's `ItemSelector`) are rendered from it, and the
 * handler's event type is derived from it. The type assertions below fail the typecheck (a part
 * of `npm test`) when a declaration and the handler's event disagree; the runtime checks hold the
 * committed ASL to the declarations.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EMBED_MAP, INDEXER_ASL_FILE } from '../../asl/indexer.ts';
import { INDEXER_TASK_NAMES, INDEXER_TASKS, type IndexerTask, parametersOf } from '../../asl/tasks.ts';
import type { RunInfo } from '../../indexer/context.ts';
import type { MergeResult } from '../../indexer/merge.ts';
import type { StageEvent } from '../../tasks/indexer-handlers.ts';
import { walkStates } from '../../local-stack/engine/task-handlers.ts';

/** True when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// The handler's events, as the declarations give them: a changed `input` breaks one of these.
const eventFields: { [T in IndexerTask]: true } = {
  lease: true satisfies Equal<keyof StageEvent<'lease'>, 'run'>,
  bootstrap: true satisfies Equal<keyof StageEvent<'bootstrap'>, 'run'>,
  plan: true satisfies Equal<keyof StageEvent<'plan'>, 'run' | 'model'>,
  embed: true satisfies Equal<keyof StageEvent<'embed'>, 'batch' | 'run' | 'model'>,
  merge: true satisfies Equal<keyof StageEvent<'merge'>, 'run' | 'model' | 'plan' | 'embedResults'>,
  compact: true satisfies Equal<keyof StageEvent<'compact'>, 'run' | 'model' | 'merge'>,
  clear: true satisfies Equal<keyof StageEvent<'clear'>, 'run' | 'merge'>,
  release: true satisfies Equal<keyof StageEvent<'release'>, 'run'>,
};
// ... each field of the type the state data carries under that name.
const fieldTypes: true = true satisfies Equal<
  StageEvent<'clear'>,
  { readonly run: RunInfo; readonly merge: MergeResult }
>;

type State = Record<string, unknown> & { Type?: string; Resource?: string };

describe('task contracts', () => {
  it('every task has its event derived from its declaration', () => {
    assert.deepEqual(Object.keys(eventFields).sort(), [...INDEXER_TASK_NAMES].sort());
    assert.equal(fieldTypes, true);
  });

  it("renders each Task state's Parameters, and the embed Map's ItemSelector, from the declarations", () => {
    // Prepare
    const definition = JSON.parse(readFileSync(INDEXER_ASL_FILE, 'utf8')) as Parameters<typeof walkStates>[0];
    const states = new Map<string, State>([...walkStates(definition)] as [string, State][]);
    // Act
    const rendered = INDEXER_TASK_NAMES.map((task) => {
      const state = states.get(INDEXER_TASKS[task].state)!;
      return [task, 'mapItem' in INDEXER_TASKS[task] ? states.get(EMBED_MAP)!['ItemSelector'] : state['Parameters']];
    });
    // Assess
    assert.deepEqual(
      rendered,
      INDEXER_TASK_NAMES.map((task) => [task, parametersOf(INDEXER_TASKS[task])]),
    );
    assert.equal(states.get(INDEXER_TASKS.embed.state)!['Parameters'], undefined, 'the Map shapes its input');
  });

  it("names the module doing each task's work, one the handlers import (one hop from a state to its code)", () => {
    // Prepare
    const handlers = readFileSync(new URL('../../tasks/indexer-handlers.ts', import.meta.url), 'utf8');

    // Act
    const imported = new Set([...handlers.matchAll(/from '\.\.\/(indexer\/[\w-]+\.ts)'/g)].map((match) => match[1]));

    // Assess
    for (const task of INDEXER_TASK_NAMES)
      assert.ok(imported.has(INDEXER_TASKS[task].stage), `${task}: ${INDEXER_TASKS[task].stage}`);
  });
});
