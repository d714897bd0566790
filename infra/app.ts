/**
 * The CDK app: `npm run synth` (offline, no credentials) or `ddb-faiss deploy`. Context, each
 * optional: the stack's own `stackName`, `existingTableName`, `scheduleMinutes` and `tracing`,
 * and every deployed setting of the configuration schema by its name
 * (`-c batchSize=250 -c indexLayout=per-group`), checked by that schema.
 *
 * @example
 * ```sh
 * npx cdk synth --app "node --import tsx infra/app.ts" -c scheduleMinutes=30 -c modelName=minilm
 * ```
 */
import { App } from 'aws-cdk-lib';
import { DEPLOYED_SETTINGS, type DeployedSettings, parseSetting } from '../config/settings.ts';
import { DdbFaissStack } from './stack.ts';

export function createApp(outdir?: string): App {
  const app = new App(outdir ? { outdir } : {});
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key) as string | number | boolean | undefined;
    return value === undefined ? undefined : String(value);
  };
  // Context arrives as text; each deployed setting is coerced by its schema, and a bad one is
  // reported (with every other problem) by the stack's validation.
  const settings: Record<string, unknown> = {};
  for (const name of DEPLOYED_SETTINGS) {
    const raw = context(name);
    if (raw === undefined) continue;
    const parsed = parseSetting(name, raw);
    settings[name] = 'value' in parsed ? parsed.value : raw;
  }
  const existingTableName = context('existingTableName');
  const scheduleMinutes = context('scheduleMinutes');
  new DdbFaissStack(app, context('stackName') ?? 'DdbFaiss', {
    ...(existingTableName ? { existingTableName } : {}),
    ...(scheduleMinutes !== undefined ? { scheduleMinutes: Number(scheduleMinutes) } : {}),
    settings: settings as Partial<DeployedSettings>,
    tracing: context('tracing') === 'true',
    description: 'ddb-faiss: semantic similarity search for a DynamoDB table',
  });
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  createApp().synth();
}
