/**
 * The CDK app: `npm run synth` (offline, no credentials) or `ddb-faiss deploy`. Context, each
 * optional: the stack's own `stackName`, `existingTableName`, `scheduleMinutes`, `tracing`,
 * `searchProvisionedConcurrency` and `lambdaArchitecture`,
 * and every deployed setting of the configuration schema by its name
 * (`-c batchSize=250 -c indexLayout=per-group`), checked by that schema.
 *
 * @example
 * ```sh
 * npx cdk synth --app "node --import tsx infra/app.ts" -c scheduleMinutes=30 -c modelName=minilm
 * ```
 */
import { App, type AppProps } from 'aws-cdk-lib';
import { DEPLOYED_SETTINGS, parseDeployedSettings } from '../config/settings.ts';
import { DdbFaissStack, type LambdaArchitecture } from './stack.ts';

/** The stack's name unless `-c stackName=...` says otherwise. */
export const DEFAULT_STACK_NAME = 'DdbFaiss';

export function createApp(props: AppProps = {}): App {
  const app = new App(props);
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key) as string | number | boolean | undefined;
    return value === undefined ? undefined : String(value);
  };
  // Context arrives as text; each deployed setting is coerced and checked by its schema.
  const given = Object.fromEntries(
    DEPLOYED_SETTINGS.flatMap((name) => (context(name) === undefined ? [] : [[name, context(name)]])),
  );
  const { settings, problems } = parseDeployedSettings(given, 'CDK context');
  if (problems.length > 0) throw new Error(`invalid CDK context:\n  - ${problems.join('\n  - ')}`);
  const existingTableName = context('existingTableName');
  const scheduleMinutes = context('scheduleMinutes');
  const searchProvisionedConcurrency = context('searchProvisionedConcurrency');
  const lambdaArchitecture = context('lambdaArchitecture');
  new DdbFaissStack(app, context('stackName') ?? DEFAULT_STACK_NAME, {
    ...(existingTableName ? { existingTableName } : {}),
    ...(scheduleMinutes !== undefined ? { scheduleMinutes: Number(scheduleMinutes) } : {}),
    ...(searchProvisionedConcurrency !== undefined
      ? { searchProvisionedConcurrency: Number(searchProvisionedConcurrency) }
      : {}),
    ...(lambdaArchitecture !== undefined ? { lambdaArchitecture: lambdaArchitecture as LambdaArchitecture } : {}),
    settings,
    tracing: context('tracing') === 'true',
    description: 'ddb-faiss: semantic similarity search for a DynamoDB table',
  });
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  createApp().synth();
}
