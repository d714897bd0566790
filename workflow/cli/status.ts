/** `ddb-faiss status`: the index, the pending backlog, recent executions, poison items. */
import { advise } from '../../config/advice.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { describeChange, describeOutcome, displayStatus, seconds } from '../run-progress.ts';
import { type Command, JSON_OPTION, println } from './command.ts';
import type { IndexStatusRecord } from '../../table/reserved-items.ts';
import type { ModelIdentity } from '../index-status.ts';
import type { CaptureStatus } from '../capture-status.ts';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the index (generation, vectors, model), pending count, recent runs, poison items',
  options: { json: JSON_OPTION },
  settings: ['target'],
  examples: [
    { run: 'ddb-faiss status', says: "the local stack's index, backlog and recent runs" },
    { run: 'ddb-faiss status --target aws --json', says: "the deployed stack's, for a script" },
  ],
  async run({ config, values }, io) {
    const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
    const { readIndexStatus } = await import('../index-status.ts');
    const { resolveStateMachineArn, StateMachineNotFoundError } = await import('../indexer-client.ts');
    const clients = createAwsClients(config, await resolveEndpoints(config));
    try {
      // No state machine yet (nothing deployed or started) leaves the index and backlog worth
      // showing; any other failure to reach Step Functions is reported and fails the command.
      let stateMachineArn: string | undefined;
      let noStateMachine: string | undefined;
      try {
        stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
      } catch (error) {
        if (!(error instanceof StateMachineNotFoundError)) throw error;
        noStateMachine = error.message;
      }
      const status = await readIndexStatus(config, clients, stateMachineArn, 10, { outcomes: true });
      const failed = status.executionsError !== undefined;
      if (values['json']) {
        println(io.stdout, JSON.stringify(status));
        return failed ? 1 : 0;
      }
      const { index } = status;
      const layout = index?.layout === 'per-group' ? ` in ${index.groups ?? 0} group indexes` : '';
      println(
        io.stdout,
        index
          ? `index      generation ${index.generation}, ${describeSize(index)}${layout}, ` +
              describeSegments(index) +
              `model ${index.model.name} (${index.model.checksum.slice(0, 12)}), published ${index.publishedAt}`
          : 'index      none published yet',
      );
      if (index?.change) println(io.stdout, `last change ${describeChange(index.change)} by ${index.change.execution}`);
      const modelNote = describeActiveModel(status.activeModel, index?.model, config.modelName);
      if (modelNote) println(io.stdout, `model      ${modelNote}`);
      println(io.stdout, `pending    ${status.pending} items`);
      if (status.capture) for (const line of describeCapture(status.capture)) println(io.stdout, line);
      if (status.captureError) println(io.stdout, `capture    could not be read: ${status.captureError}`);
      println(io.stdout, `poison     ${status.poison.length} items`);
      for (const item of status.poison.slice(0, 20)) println(io.stdout, `  ${item.group}/${item.id}: ${item.reason}`);
      println(io.stdout, 'recent runs');
      for (const execution of status.executions) {
        const started = execution.startDate ?? '';
        const status = displayStatus(execution.status, execution.outcome);
        const took = execution.startDate
          ? seconds(new Date(execution.startDate), execution.stopDate ? new Date(execution.stopDate) : undefined)
          : '';
        const did = execution.outcome ? describeOutcome(execution.outcome) : '';
        println(
          io.stdout,
          `  ${status.padEnd(10)} ${execution.origin.padEnd(9)} ${started}  ${took.padStart(8)}  ${execution.name}` +
            (did ? `  ${did}` : ''),
        );
      }
      if (noStateMachine) println(io.stdout, `  none: ${noStateMachine}`);
      else if (failed) println(io.stderr, `ddb-faiss status: recent runs cannot be read: ${status.executionsError}`);
      else if (status.executions.length === 0) println(io.stdout, '  none');
      return failed ? 1 : 0;
    } finally {
      destroyAwsClients(clients);
    }
  },
};

/**
 * Says when the active model (published in S3) is not the one that built the index: runs are
 * refused until a backfill rebuilds the index, and search answers with the index's model.
 */
export function describeActiveModel(
  active: ModelIdentity | null,
  built: ModelIdentity | undefined,
  modelName: string,
): string | undefined {
  const name = (model: ModelIdentity) => `${model.name} (${model.checksum.slice(0, 12)})`;
  if (!active)
    return `none published: run ${advise('publishModel', modelName)} (or ${advise('startStack')}) before the next run`;
  if (!built || built.checksum === active.checksum) return undefined;
  return (
    `${name(active)} is active, but ${name(built)} built the index: run ${advise('backfill')} ` +
    'to rebuild it with the active model (until then runs are refused, and search still answers with the old model)'
  );
}

/**
 * Stream mode's capture, in a line or three: progress, then what needs a hand (failures, lost
 * changes). A deployed stack's progress is its dashboard's; status reads only its failure queue.
 */
export function describeCapture(capture: CaptureStatus): string[] {
  const lines =
    capture.where === 'aws'
      ? ["capture    stream: its lag and records a minute are graphed on the stack's dashboard (Capture)"]
      : [
          `capture    stream, ${
            capture.caughtUp
              ? 'caught up'
              : `behind (the last batch's oldest record was ${capture.lagSeconds ?? 0} s old)`
          }: ${capture.recordsRead} records read (${capture.recordsFiltered} of ddb-faiss's own filtered out), ` +
            `${capture.recordsPerMinute} records and ${capture.changesPerMinute} changes a minute lately` +
            (capture.lastCaptureAt ? `; last batch ${capture.lastCaptureAt}` : ''),
        ];
  if (capture.failedBatches > 0)
    lines.push(
      `           ${capture.failedBatches} failed batch${capture.failedBatches === 1 ? '' : 'es'} in ` +
        `${capture.failureDestination}: ${advise('redriveCapture')} captures them again`,
    );
  if (capture.where === 'local' && capture.lost)
    lines.push(`           LOST ${capture.lost.at}: ${capture.lost.reason}: ${capture.lost.remedy}`);
  return lines;
}

/** "240 items (260 vectors: long content is a vector per passage)", or the vectors of an older record. */
function describeSize({ items, vectors }: { items?: number; vectors: number }): string {
  if (items === undefined || items === vectors)
    return `${items ?? vectors} ${items === undefined ? 'vectors' : 'items'}`;
  return `${items} items (${vectors} vectors: long content is a vector per passage)`;
}

/** "3 segments (120 dead vectors until compaction), ", or nothing for a record ddb-faiss 0.1 wrote. */
function describeSegments({ segments, deadVectors }: IndexStatusRecord): string {
  if (segments === undefined) return '';
  return `${segments} segment${segments === 1 ? '' : 's'} (${deadVectors ?? 0} dead vectors until compaction), `;
}
