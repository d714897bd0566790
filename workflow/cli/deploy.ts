/**
 * `ddb-faiss deploy`: deploys the CDK app with `cdk deploy` (AWS credentials from the standard
 * chain; Docker builds the functions' image), writes the stack's outputs to
 * `<data-dir>/aws-outputs.json` where `--target aws` picks them up, then publishes the model.
 * It checks first that credentials and a Docker engine are there (naming what is missing and
 * how to get it); `--dry-run` synthesizes offline and prints the resources and settings instead.
 */
import { advise } from '../../config/advice.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { deployOutputsFile, loadConfig } from '../../config/config.ts';
import { PROJECT_ROOT } from '../../config/project.ts';
import { DEPLOYED_SETTINGS, type DeployedSettings, defaultOf, parseDeployedSettings } from '../../config/settings.ts';
import { type Command, type CommandIo, executeCommand, println, UsageError } from './command.ts';
import { modelCommand } from './model.ts';
import { backfillCommand } from './run.ts';

/** The `cdk deploy` command line (kept apart so it can be checked without AWS). */
export function cdkDeployArgs(dataDir: string, context: readonly string[]): string[] {
  return [
    path.join(PROJECT_ROOT, 'node_modules/aws-cdk/bin/cdk'),
    'deploy',
    '--app',
    `node --import tsx ${path.join(PROJECT_ROOT, 'infra/app.ts')}`,
    '--outputs-file',
    deployOutputsFile(dataDir),
    '--require-approval',
    'broadening',
    ...context.flatMap((pair) => ['--context', pair]),
  ];
}

/** `name=value` context pairs as an object; a pair without `=` is a usage mistake. */
function contextOf(pairs: readonly string[]): {
  context: Record<string, string>;
  settings: Partial<DeployedSettings>;
} {
  const bad = pairs.filter((pair) => !/^[A-Za-z][\w-]*=/.test(pair));
  if (bad.length > 0)
    throw new UsageError(`--context takes name=value, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  const context = Object.fromEntries(
    pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  // Deployed settings are checked here, by the configuration schema, rather than minutes into a deploy.
  const given = Object.fromEntries(
    Object.entries(context).filter(([name]) => (DEPLOYED_SETTINGS as readonly string[]).includes(name)),
  );
  const { settings, problems } = parseDeployedSettings(given, '--context');
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return { context, settings };
}

/**
 * Over an existing table: its keys checked and its sparse index created where missing (the stack
 * needs it), and in stream mode its stream enabled where off and passed to the stack as
 * `existingTableStreamArn` context. @returns the context to add, or null when the table cannot serve
 */
async function prepareTable(
  given: ReturnType<typeof contextOf>,
  region: string,
  io: CommandIo,
): Promise<string[] | null> {
  const tableName = given.context['existingTableName'];
  if (!tableName) return [];
  const settings = (name: keyof DeployedSettings) => given.settings[name] ?? defaultOf(name);
  const stream = settings('changeCapture') === 'stream';
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const { sdkClient } = await import('../../aws/clients.ts');
  const { ensureTableStream, prepareExistingTable } = await import('../../table/existing-table.ts');
  const client = sdkClient(new DynamoDBClient({ region }));
  try {
    const table = {
      tableName,
      groupAttribute: settings('groupAttribute') as string,
      idAttribute: settings('idAttribute') as string,
      pendingAttribute: settings('pendingAttribute') as string,
      pendingIndexName: settings('pendingIndexName') as string,
    };
    for (const change of await prepareExistingTable(client, table, { stream }))
      println(io.stdout, `${tableName}: ${change}`);
    if (!stream || given.context['existingTableStreamArn']) return [];
    return [`existingTableStreamArn=${(await ensureTableStream(client, tableName)).streamArn}`];
  } catch (error) {
    println(io.stderr, `ddb-faiss deploy: ${(error as Error).message}`);
    return null;
  } finally {
    client.destroy();
  }
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'deploy the whole system to AWS with the CDK (needs credentials and Docker); --dry-run shows what',
  options: {
    'dry-run': {
      type: 'boolean',
      description: 'synthesize offline and print the settings, the stack options and the resources; deploy nothing',
    },
    context: {
      type: 'string',
      multiple: true,
      value: 'NAME=VALUE',
      description: 'a deployed setting or stack option, as CDK context (repeatable; see `ddb-faiss help settings`)',
    },
  },
  settings: ['region', 'data-dir'],
  examples: [
    { run: 'ddb-faiss deploy --dry-run', says: 'what would be deployed, with no credentials needed' },
    {
      run: 'ddb-faiss deploy --context scheduleMinutes=15 --context existingTableName=orders',
      says: 'deploy over your own table, indexing every 15 minutes',
    },
  ],
  async run({ config, values }, io) {
    const context = (values['context'] as string[] | undefined) ?? [];
    const given = contextOf(context);
    if (given.settings.apiAuthorization === 'none')
      println(
        io.stderr,
        'ddb-faiss deploy: warning: apiAuthorization=none makes the search API public: anyone who learns its URL ' +
          "searches the table and reads the hits' content (throttled only). `iam` (the default) or `jwt` restrict it.",
      );
    if (values['dry-run']) {
      const { describeDeployment } = await import('../deploy-plan.ts');
      for (const line of describeDeployment(given.context, given.settings)) println(io.stdout, line);
      return 0;
    }
    const { deployPreflight } = await import('../deploy-preflight.ts');
    const missing = await deployPreflight({ region: config.region });
    if (missing.length > 0) {
      println(
        io.stderr,
        `ddb-faiss deploy: cannot start, ${missing.length === 1 ? 'one thing is' : 'some things are'} missing:`,
      );
      for (const problem of missing) println(io.stderr, `  - ${problem}`);
      println(
        io.stderr,
        '  Once per account and region, the CDK also needs its bootstrap stack: ' +
          '`npx cdk bootstrap aws://<account>/<region>`. ' +
          `${advise('dryRunDeploy')} shows what would be deployed.`,
      );
      return 1;
    }
    mkdirSync(config.dataDir, { recursive: true });
    const streamContext = await prepareTable(given, config.region, io);
    if (streamContext === null) return 1;
    const adopting =
      given.context['existingTableName'] !== undefined &&
      (given.settings.changeCapture ?? defaultOf('changeCapture')) === 'stream' &&
      !existsSync(deployOutputsFile(config.dataDir));
    const args = cdkDeployArgs(config.dataDir, [...context, ...streamContext]);
    println(io.stdout, `$ cdk ${args.slice(1).join(' ')}`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, args, {
        cwd: PROJECT_ROOT,
        stdio: 'inherit',
        // The CDK CLI runs with the user's environment (AWS credentials, profile), plus its own home.
        // eslint-disable-next-line no-restricted-properties -- passed through to the child, not read
        env: { ...process.env, CDK_HOME: path.join(config.dataDir, 'cdk-home'), CDK_DISABLE_CLI_TELEMETRY: 'true' },
      });
      child.on('exit', (status) => resolve(status ?? 1));
    });
    if (code !== 0) return code;
    println(io.stdout, `outputs written to ${deployOutputsFile(config.dataDir)}`);
    const aws = loadConfig({ flags: { target: 'aws', 'data-dir': config.dataDir } });
    const published = await executeCommand(
      modelCommand,
      ['publish', aws.modelName, '--target', 'aws', '--data-dir', aws.dataDir],
      io,
    );
    if (published !== 0 || !adopting) return published;
    // The first deploy over a table in stream mode: its stream already holds every change from
    // here on, so a backfill now indexes what it held before, and nothing is missed between.
    println(io.stdout, 'stream mode over an existing table: indexing what it holds (a backfill)');
    return executeCommand(backfillCommand, ['--target', 'aws', '--data-dir', aws.dataDir], io);
  },
};
