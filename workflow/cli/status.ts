/** `ddb-faiss status`: the index, the pending backlog, recent executions, poison items. */
import { createAwsClients, destroyAwsClients } from '../../aws/clients.ts';
import { resolveEndpoints } from '../../aws/endpoints.ts';
import { readIndexStatus } from '../index-status.ts';
import { resolveStateMachineArn } from '../indexer-client.ts';
import { describeChange } from '../run-progress.ts';
import { type Command, println } from './command.ts';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the index (generation, vectors, model), pending count, recent runs, poison items',
  usage: 'ddb-faiss status [--json]',
  options: { json: { type: 'boolean' } },
  async run({ config, values }, io) {
    const clients = createAwsClients(config, resolveEndpoints(config));
    try {
      const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions).catch(() => undefined);
      const status = await readIndexStatus(config, clients, stateMachineArn);
      if (values['json']) {
        println(io.stdout, JSON.stringify(status));
        return 0;
      }
      const { index } = status;
      const layout = index?.layout === 'per-group' ? ` in ${index.groups ?? 0} group indexes` : '';
      println(io.stdout, index ? `index      generation ${index.generation}, ${index.vectors} vectors${layout}, model ${index.model.name} (${index.model.checksum.slice(0, 12)}), published ${index.publishedAt}` : 'index      none published yet');
      if (index?.change) println(io.stdout, `last change ${describeChange(index.change)} by ${index.change.execution}`);
      println(io.stdout, `pending    ${status.pending} items`);
      println(io.stdout, `poison     ${status.poison.length} items`);
      for (const item of status.poison.slice(0, 20)) println(io.stdout, `  ${item.group}/${item.id}: ${item.reason}`);
      println(io.stdout, 'recent runs');
      for (const execution of status.executions) println(io.stdout, `  ${execution.status.padEnd(10)} ${execution.origin.padEnd(9)} ${execution.startDate ?? ''}  ${execution.name}`);
      if (status.executions.length === 0) println(io.stdout, '  none');
      return 0;
    } finally {
      destroyAwsClients(clients);
    }
  },
};
