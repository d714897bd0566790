/**
 * The CDK app: `npm run synth` (offline, no credentials) or `ddb-faiss deploy`. Context, each
 * optional: the stack's own options ({@link STACK_OPTIONS}) and every deployed setting of the
 * configuration schema by its name (`-c batchSize=250 -c indexLayout=per-group`), checked by
 * that schema.
 *
 * @example
 * ```sh
 * npx cdk synth --app "node --import tsx infra/app.ts" -c scheduleMinutes=30 -c modelName=minilm
 * ```
 */
import { App, type AppProps } from 'aws-cdk-lib';
import { DEPLOYED_SETTINGS, parseDeployedSettings } from '../config/settings.ts';
import {
  DdbFaissStack,
  type DdbFaissStackProps,
  DEFAULT_SCHEDULE_MINUTES,
  LAMBDA_ARCHITECTURES,
  type LambdaArchitecture,
} from './stack.ts';

/** The stack's name unless `-c stackName=...` says otherwise. */
export const DEFAULT_STACK_NAME = 'DdbFaiss';

/**
 * The stack's own context options (not configuration settings): what applies when one is unset
 * (as `deploy --dry-run` shows it), and the stack property its text becomes.
 */
export const STACK_OPTIONS: Readonly<
  Record<string, { readonly unset: string; readonly prop?: (text: string) => Partial<DdbFaissStackProps> }>
> = {
  stackName: { unset: DEFAULT_STACK_NAME },
  scheduleMinutes: { unset: String(DEFAULT_SCHEDULE_MINUTES), prop: (text) => ({ scheduleMinutes: Number(text) }) },
  tracing: { unset: 'false', prop: (text) => ({ tracing: text === 'true' }) },
  searchProvisionedConcurrency: {
    unset: '0',
    prop: (text) => ({ searchProvisionedConcurrency: Number(text) }),
  },
  lambdaArchitecture: {
    unset: LAMBDA_ARCHITECTURES[0],
    prop: (text) => ({ lambdaArchitecture: text as LambdaArchitecture }),
  },
  existingTableName: { unset: '(a new table)', prop: (text) => (text ? { existingTableName: text } : {}) },
  existingTableStreamArn: {
    unset: "(the new table's; `deploy` enables an existing table's in stream mode)",
    prop: (text) => (text ? { existingTableStreamArn: text } : {}),
  },
};

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
  // The stack checks the options it is given (validateProps) and reports every problem.
  const options = Object.entries(STACK_OPTIONS).flatMap(([name, option]) => {
    const text = context(name);
    return text === undefined || !option.prop ? [] : [option.prop(text)];
  });
  new DdbFaissStack(app, context('stackName') ?? DEFAULT_STACK_NAME, {
    ...Object.assign({}, ...options),
    settings,
    description: 'ddb-faiss: semantic similarity search for a DynamoDB table',
  });
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  createApp().synth();
}
