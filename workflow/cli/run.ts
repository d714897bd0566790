/** `ddb-faiss run [--wait]` and `ddb-faiss backfill [--wait]`. */
import { EMBED_MAP } from '../../asl/indexer.ts';
import { resolveEndpoints } from '../../local-stack/stack-info.ts';
import type { RunOrigin } from '../indexer-client.ts';
import { seconds, type StageProgress } from '../run-progress.ts';
import { type Command, type CommandIo, JSON_OPTION, type ParsedCommand, println } from './command.ts';
import { progressOutput } from './progress.ts';

const SYMBOL: Record<StageProgress['status'], string> = {
  waiting: ' ',
  running: '>',
  succeeded: '+',
  failed: 'x',
  retried: '~',
};

async function runIndexer(origin: RunOrigin, { config, values }: ParsedCommand, io: CommandIo): Promise<number> {
  const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
  const { resolveStateMachineArn, startRun, watchRun } = await import('../indexer-client.ts');
  const clients = createAwsClients(config, await resolveEndpoints(config));
  try {
    const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
    const executionArn = await startRun(clients.stepFunctions, stateMachineArn, origin);
    if (!values['wait']) {
      println(io.stdout, values['json'] ? JSON.stringify({ executionArn }) : `started ${executionArn}`);
      return 0;
    }
    if (!values['json']) println(io.stdout, `started ${executionArn}`);
    const printed = new Map<string, string>();
    const started = Date.now();
    const output = progressOutput(io.stdout);
    const final = await watchRun(clients.stepFunctions, executionArn, (progress) => {
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
      const running = progress.stages.find((stage) => stage.status === 'running');
      if (running?.name === EMBED_MAP)
        output.live(`${SYMBOL.running} ${EMBED_MAP.padEnd(20)}`, progress.batches.done, progress.batches.total);
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
      const why = ok ? '' : `: ${final.error ?? ''} ${final.cause ?? ''}`;
      println(io.stdout, `${final.status} in ${((Date.now() - started) / 1000).toFixed(1)} s${why}`);
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
  options,
  examples: [
    { run: 'ddb-faiss run --wait', says: 'index what is pending, stage by stage' },
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
