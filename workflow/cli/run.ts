/** `ddb-faiss run [--wait]` and `ddb-faiss backfill [--wait]`. */
import { EMBED_MAP } from '../../asl/indexer.ts';
import { INDEXER_TASKS } from '../../asl/tasks.ts';
import { resolveEndpoints } from '../endpoints.ts';
import type { RunOrigin } from '../indexer-client.ts';
import { describeOutcome, displayStatus, isSkipped, outcomeOf, seconds, type StageProgress } from '../run-progress.ts';
import { type Command, type CommandIo, JSON_OPTION, type ParsedCommand, println } from './command.ts';
import { progressOutput } from './progress.ts';

/** The stages that report their counts as they go (`indexer/stage-progress.ts`), by their task's name. */
const STAGE_OF_TASK: Readonly<Record<string, string>> = {
  merge: INDEXER_TASKS.merge.state,
  compact: INDEXER_TASKS.compact.state,
  clear: INDEXER_TASKS.clear.state,
};
const STAGES_REPORTING_PROGRESS = new Set(Object.values(STAGE_OF_TASK));

const SYMBOL: Record<StageProgress['status'], string> = {
  waiting: ' ',
  running: '>',
  succeeded: '+',
  failed: 'x',
  retried: '~',
  aborted: '-',
};

async function runIndexer(
  origin: Exclude<RunOrigin, 'captured'>,
  { config, values }: ParsedCommand,
  io: CommandIo,
): Promise<number> {
  const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
  const { redriveRun, resolveStateMachineArn, startRun, watchRun } = await import('../indexer-client.ts');
  const { readRunProgress } = await import('../index-status.ts');
  const { readCaptureStatus } = await import('../capture-status.ts');
  const { describeCapture } = await import('./status.ts');
  const clients = createAwsClients(config, await resolveEndpoints(config));
  try {
    const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
    const redrive = typeof values['redrive'] === 'string' ? values['redrive'] : undefined;
    const executionArn = redrive
      ? await redriveRun(clients.stepFunctions, stateMachineArn, redrive)
      : await startRun(clients.stepFunctions, stateMachineArn, origin);
    const did = redrive ? 'redriven' : 'started';
    if (!values['wait']) {
      println(io.stdout, values['json'] ? JSON.stringify({ executionArn }) : `${did} ${executionArn}`);
      return 0;
    }
    if (!values['json']) println(io.stdout, `${did} ${executionArn}`);
    const printed = new Map<string, string>();
    const started = Date.now();
    const output = progressOutput(io.stdout);
    const execution = executionArn.split(':').pop();
    const final = await watchRun(clients.stepFunctions, executionArn, async (progress) => {
      if (values['json']) return;
      for (const stage of progress.stages) {
        if (stage.status === 'waiting' || stage.status === 'running') continue;
        // A stage is printed once it ends (or its outcome changes).
        const key = `${stage.status}${stage.detail}`;
        if (printed.get(stage.name) === key) continue;
        printed.set(stage.name, key);
        const took = seconds(stage.startedAt, stage.endedAt);
        const status = `${SYMBOL[stage.status]} ${stage.name.padEnd(20)} ${stage.status.padEnd(9)}`;
        const line = `${status} ${stage.detail ?? ''} ${took}`;
        output.line(line.trimEnd());
      }
      // The running stage's progress: the Map's batches, or the counts merge, compact and clear
      // report as they go (the same record the monitor shows).
      const running = progress.stages.find((stage) => stage.status === 'running');
      const label = `${SYMBOL.running} ${running?.name.padEnd(20)}`;
      if (running?.name === EMBED_MAP) {
        output.live(label, progress.batches.done, progress.batches.total, 'batches');
      } else if (running && STAGES_REPORTING_PROGRESS.has(running.name)) {
        const counts = await readRunProgress(config, clients);
        if (counts && counts.execution === execution && STAGE_OF_TASK[counts.stage] === running.name)
          output.live(label, counts.done, counts.total, counts.unit);
      }
    });
    output.done();
    const ok = final.status === 'SUCCEEDED';
    if (values['json']) {
      println(
        io.stdout,
        JSON.stringify({
          executionArn,
          status: final.status,
          output: final.output ? JSON.parse(final.output) : null,
          error: final.error,
          cause: final.cause,
        }),
      );
    } else {
      // A run that did no work says so (SKIPPED, and why), rather than reading like a real one.
      const outcome = ok ? outcomeOf(final.output) : undefined;
      const why = ok
        ? isSkipped(outcome!)
          ? `: ${describeOutcome(outcome!)}`
          : ''
        : `: ${final.error ?? ''} ${final.cause ?? ''}`;
      const took = ((Date.now() - started) / 1000).toFixed(1);
      println(io.stdout, `${displayStatus(final.status, outcome)} in ${took} s${why}`);
      // A stack in stream mode: how the capture is doing, as status shows it.
      const capture = await readCaptureStatus(config).catch((error: Error) => {
        println(io.stdout, `capture    could not be read: ${error.name}: ${error.message}`);
        return undefined;
      });
      if (capture) for (const line of describeCapture(capture)) println(io.stdout, line);
    }
    return ok ? 0 : 1;
  } finally {
    destroyAwsClients(clients);
  }
}

const options = {
  wait: {
    type: 'boolean',
    description: 'wait for the run to end, showing each stage and its progress; exit 1 if it fails',
  },
  json: JSON_OPTION,
} as const satisfies Command['options'];

export const runCommand: Command = {
  name: 'run',
  summary: 'start an incremental indexer run (pending items); --wait shows each stage',
  options: {
    ...options,
    redrive: {
      type: 'string',
      description:
        'redrive this failed (or stopped) run instead: it goes on from the stage that failed, the stages that ' +
        'succeeded are not run again',
    },
  },
  examples: [
    { run: 'ddb-faiss run --wait', says: 'index what is pending, stage by stage' },
    { run: 'ddb-faiss run --redrive manual-2026-12-06T10-00-00-000Z-ab12 --wait', says: 'go on from where it failed' },
    { run: 'ddb-faiss run --target aws', says: 'start a run of the deployed stack and return at once' },
  ],
  run: (parsed, io) => runIndexer('manual', parsed, io),
};

export const backfillCommand: Command = {
  name: 'backfill',
  summary: 'rebuild the index from the whole table (after a model change, or to heal a damaged index)',
  options,
  examples: [{ run: 'ddb-faiss backfill --wait', says: 'rebuild the index from every item of the table' }],
  run: (parsed, io) => runIndexer('backfill', parsed, io),
};
