/** `ddb-faiss capture redrive`: stream mode's failure destination, sent through the capture step again. */
import { advise } from '../../config/advice.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { type Command, JSON_OPTION, println, UsageError } from './command.ts';

export const captureCommand: Command = {
  name: 'capture',
  summary: 'stream mode: redrive the stream records the capture step could not take',
  arguments: 'redrive',
  options: { json: JSON_OPTION },
  settings: ['data-dir', 'target', 'capture-failure-queue-url'],
  examples: [
    {
      run: 'ddb-faiss capture redrive',
      says: 'read the failed records from the stream again and capture them (the local stack must be up)',
    },
    {
      run: 'ddb-faiss capture redrive --target aws',
      says: "the same for a deployed stack: its failure queue (in deploy's outputs) loses what went through",
    },
  ],
  async run({ config, values, positionals }, io) {
    const [action] = positionals;
    if (action !== 'redrive') throw new UsageError(`capture takes one action: redrive (got ${action ?? 'none'})`);
    const queueUrl = config.captureFailureQueueUrl;
    if (config.target === 'aws' && !queueUrl)
      throw new UsageError(
        "the deployed stack names no capture failure queue: deploy's outputs have no CaptureFailureQueueUrl " +
          '(a stack in flags mode has none); give it with --capture-failure-queue-url',
      );
    const { createAwsClients, createSqsClient, createStreamsClient, destroyAwsClients } =
      await import('../../aws/clients.ts');
    const { sqsFailureQueue } = await import('../../aws/capture-failures.ts');
    const { redriveFailures } = await import('../capture-redrive.ts');
    const { captureFilterPattern, createCaptureHandler } = await import('../../tasks/capture-handler.ts');
    const { localObservability } = await import('../../lambda-host/observability.ts');
    const { resolveStateMachineArn } = await import('../indexer-client.ts');
    const endpoints = await resolveEndpoints(config);
    const clients = createAwsClients(config, endpoints);
    const streams = createStreamsClient(config, endpoints.dynamodb);
    // A deployed stack's failed batches wait in its SQS queue; the local stack's in its failure file.
    const sqs = config.target === 'aws' ? createSqsClient(config) : undefined;
    const destination = sqs
      ? sqsFailureQueue(sqs, queueUrl!)
      : (await import('../../local-stack/stream-follower.ts')).failureFile(config.dataDir);
    try {
      const stateMachineArn = await resolveStateMachineArn(config, clients.stepFunctions);
      const handler = createCaptureHandler(
        { config, clients, stateMachineArn: () => stateMachineArn },
        localObservability({ dataDir: config.dataDir, logLevel: 'SILENT' }),
      );
      const result = await redriveFailures({
        destination,
        streams,
        handler,
        filter: captureFilterPattern(config),
      });
      if (values['json']) println(io.stdout, JSON.stringify(result));
      else {
        println(
          io.stdout,
          `${result.messages} failed batches: ${result.redriven} captured (${result.records} records), ` +
            `${result.stillFailing} failed again, ${result.expired} expired from the stream` +
            (result.unreadable > 0 ? `, ${result.unreadable} not a failed stream batch at all` : ''),
        );
        if (result.stillFailing > 0)
          println(io.stdout, `the batches that failed again stay in ${destination.where}; the capture's log says why`);
        if (result.unreadable > 0)
          println(io.stdout, `the messages that are not failed stream batches stay in ${destination.where}, untouched`);
        if (result.expired > 0)
          println(io.stdout, `expired records cannot be read again: ${advise('backfill')} indexes the table as it is`);
      }
      return result.stillFailing + result.unreadable > 0 ? 1 : 0;
    } finally {
      sqs?.destroy();
      streams.destroy();
      destroyAwsClients(clients);
    }
  },
};
