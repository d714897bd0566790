/** `ddb-faiss capture redrive`: stream mode's failure destination, sent through the capture step again. */
import { advise } from '../../config/advice.ts';
import { resolveEndpoints } from '../../local-stack/stack-info.ts';
import { type Command, JSON_OPTION, println, UsageError } from './command.ts';

export const captureCommand: Command = {
  name: 'capture',
  summary: 'stream mode: redrive the stream records the capture step could not take',
  arguments: 'redrive',
  options: { json: JSON_OPTION },
  settings: ['data-dir'],
  examples: [
    {
      run: 'ddb-faiss capture redrive',
      says: 'read the failed records from the stream again and capture them (the local stack must be up)',
    },
  ],
  async run({ config, values, positionals }, io) {
    const [action] = positionals;
    if (action !== 'redrive') throw new UsageError(`capture takes one action: redrive (got ${action ?? 'none'})`);
    if (config.target !== 'local')
      throw new UsageError(
        "capture redrive re-drives the local stack's failure file; on AWS the failed batches wait in the " +
          'CaptureFailureQueueUrl queue (re-driving them from there is not built yet)',
      );
    const { createAwsClients, createStreamsClient, destroyAwsClients } = await import('../../aws/clients.ts');
    const { redriveFailures } = await import('../capture-redrive.ts');
    const { captureFilterPattern, createCaptureHandler } = await import('../../tasks/capture-handler.ts');
    const { localObservability } = await import('../../local-stack/local-observability.ts');
    const { resolveStateMachineArn } = await import('../indexer-client.ts');
    const endpoints = await resolveEndpoints(config);
    const clients = createAwsClients(config, endpoints);
    const streams = createStreamsClient(config, endpoints.dynamodb);
    try {
      const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
      const handler = createCaptureHandler(
        { config, clients, stateMachineArn: () => stateMachineArn },
        localObservability({ dataDir: config.dataDir, logLevel: 'SILENT' }),
      );
      const result = await redriveFailures({
        dataDir: config.dataDir,
        streams,
        handler,
        filter: captureFilterPattern(config),
      });
      if (values['json']) println(io.stdout, JSON.stringify(result));
      else {
        println(
          io.stdout,
          `${result.messages} failed batches: ${result.redriven} captured (${result.records} records), ` +
            `${result.stillFailing} failed again, ${result.expired} expired from the stream`,
        );
        if (result.stillFailing > 0)
          println(io.stdout, `the batches that failed again stay in the failure file; the run's log says why`);
        if (result.expired > 0)
          println(io.stdout, `expired records cannot be read again: ${advise('backfill')} indexes the table as it is`);
      }
      return result.stillFailing > 0 ? 1 : 0;
    } finally {
      streams.destroy();
      destroyAwsClients(clients);
    }
  },
};
