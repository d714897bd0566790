/** `ddb-faiss schedule --every 5m`: scheduled incremental runs until SIGINT/SIGTERM. */
import { resolveEndpoints } from '../endpoints.ts';
import { type Command, println, UsageError, waitForShutdownSignal } from './command.ts';

export const scheduleCommand: Command = {
  name: 'schedule',
  summary: 'start an incremental run every interval (never two at once) until Ctrl-C',
  options: {
    every: { type: 'string', value: 'DURATION', description: 'how often to start a run: 30s, 5m, 1h (required)' },
  },
  examples: [{ run: 'ddb-faiss schedule --every 5m', says: 'an incremental run every five minutes until Ctrl-C' }],
  async run({ config, values }, io) {
    const { createAwsClients, destroyAwsClients } = await import('../../aws/clients.ts');
    const { resolveStateMachineArn } = await import('../indexer-client.ts');
    const { parseInterval, Scheduler } = await import('../scheduler.ts');
    if (!values['every']) throw new UsageError('schedule needs --every <duration>');
    let everyMs: number;
    try {
      everyMs = parseInterval(String(values['every']));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const clients = createAwsClients(config, await resolveEndpoints(config));
    const scheduler = new Scheduler({
      stepFunctions: clients.stepFunctions,
      stateMachineArn: await resolveStateMachineArn(config, clients.stepFunctions),
      everyMs,
      log: (line) => println(io.stdout, `${new Date().toISOString()} ${line}`),
    });
    scheduler.start();
    const signal = await waitForShutdownSignal();
    println(io.stdout, `${signal}: stopping the scheduler`);
    await scheduler.stop();
    destroyAwsClients(clients);
    println(io.stdout, 'stopped');
    return 0;
  },
};
