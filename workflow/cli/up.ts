/** `ddb-faiss up`: the embedded local AWS stack, until SIGINT/SIGTERM. */
import { type Command, println, waitForShutdownSignal } from './command.ts';

export const upCommand: Command = {
  name: 'up',
  summary: 'start the local stack (DynamoDB, S3, Step Functions, EFS folder) on 127.0.0.1',
  settings: ['data-dir', 'dynamodb-port', 's3-port', 'sfn-port', 'http-port', 'schedule-every'],
  examples: [
    { run: 'ddb-faiss up', says: 'the stack on its default ports, data in ./.ddb-faiss; Ctrl-C stops it' },
    { run: 'ddb-faiss up --schedule-every 5m --http-port 0', says: 'with scheduled runs, the monitor on a free port' },
  ],
  async run({ config }, io) {
    const { startLocalStack } = await import('../../local-stack/stack.ts');
    const { ensureModelPublished, localStackProps } = await import('../local-stack-props.ts');
    const { parseInterval, Scheduler } = await import('../scheduler.ts');
    const log = (line: string): void => println(io.stdout, line);
    const stack = await startLocalStack({ ...localStackProps(config, { taskLogs: true }), log });
    try {
      await ensureModelPublished(stack.clients.s3, config, log);
      const resumed = await stack.resumeCapture();
      if (typeof resumed === 'string') {
        const name = resumed.split(':').pop() ?? '';
        log(
          name.startsWith('backfill-')
            ? `capture: nothing is indexed yet: ${name} indexes what the table holds (changes are captured meanwhile)`
            : `capture: changes were pending from before: ${name} indexes them`,
        );
      }
    } catch (error) {
      await stack.close();
      throw error;
    }
    const { endpoints } = stack.info;
    println(io.stdout, `data directory  ${config.dataDir}`);
    println(io.stdout, `dynamodb        ${endpoints.dynamodb}`);
    println(io.stdout, `s3              ${endpoints.s3}`);
    println(io.stdout, `stepfunctions   ${endpoints.stepFunctions}`);
    println(io.stdout, `http            ${endpoints.http}`);
    if (config.localJwtSecret !== undefined || config.localJwksFile !== undefined) {
      const tenants = config.tenantClaim
        ? `; each caller searches the groups its "${config.tenantClaim}" claim lists`
        : '';
      println(
        io.stdout,
        `search API      takes JWTs from ${config.jwtIssuer} for ${config.jwtAudience.join(', ')}${tenants}`,
      );
    }
    println(io.stdout, `efs             ${config.efsRoot}`);
    if (stack.info.stateMachineArn) println(io.stdout, `state machine   ${stack.info.stateMachineArn}`);

    const scheduler = config.scheduleEvery
      ? new Scheduler({
          stepFunctions: stack.clients.stepFunctions,
          stateMachineArn: stack.info.stateMachineArn,
          everyMs: parseInterval(config.scheduleEvery),
          log,
        })
      : undefined;
    scheduler?.start();
    println(io.stdout, `monitor         ${endpoints.http}/`);
    println(io.stdout, 'ready');
    const signal = await waitForShutdownSignal();
    println(io.stdout, `${signal}: stopping`);
    await scheduler?.stop();
    await stack.close();
    println(io.stdout, 'stopped');
    return 0;
  },
};
