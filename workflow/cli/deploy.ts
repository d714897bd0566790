/**
 * `ddb-faiss deploy`: deploys the CDK app with `cdk deploy` (AWS credentials from the standard
 * chain; Docker builds the functions' image), writes the stack's outputs to
 * `<data-dir>/aws-outputs.json` where `--target aws` picks them up, then publishes the model.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { deployOutputsFile, loadConfig } from '../../config/config.ts';
import { PROJECT_ROOT } from '../../config/project.ts';
import { type Command, executeCommand, println } from './command.ts';
import { modelCommand } from './model.ts';

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

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'deploy the whole system to AWS with the CDK (needs credentials and Docker)',
  usage: 'ddb-faiss deploy [--context scheduleMinutes=15] [--context existingTableName=T] [--data-dir DIR]',
  options: { context: { type: 'string', multiple: true } },
  async run({ config, values }, io) {
    mkdirSync(config.dataDir, { recursive: true });
    const context = (values['context'] as string[] | undefined) ?? [];
    const args = cdkDeployArgs(config.dataDir, context);
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
    return executeCommand(modelCommand, ['publish', aws.modelName, '--target', 'aws', '--data-dir', aws.dataDir], io);
  },
};
