/**
 * What `ddb-faiss deploy --dry-run` prints: the stack the CDK app would deploy with the given
 * context, synthesized offline (no credentials, no Docker): the settings each function gets,
 * the stack's own options, and its resources by type.
 *
 * @example
 * ```ts
 * for (const line of describeDeployment({ batchSize: '250' }, { batchSize: 250 })) console.log(line);
 * ```
 */
import { DEPLOYED_SETTINGS, type DeployedSettings, defaultOf } from '../config/settings.ts';
import { createApp, DEFAULT_STACK_NAME, STACK_OPTIONS } from '../infra/app.ts';

/** How many logical ids to name per resource type. */
const NAMED_PER_TYPE = 4;

/**
 * @param context the `--context` pairs as given
 * @param settings the deployed settings among them, already checked by the configuration schema
 */
export function describeDeployment(
  context: Readonly<Record<string, string>>,
  settings: Partial<DeployedSettings>,
): string[] {
  // Over an existing table in stream mode, the deploy itself reads (or enables) the table's stream
  // first; offline, a stand-in ARN shows the stack it would deploy.
  const streamMode = (settings.changeCapture ?? defaultOf('changeCapture')) === 'stream';
  const table = context['existingTableName'];
  const streamFromDeploy = streamMode && table !== undefined && context['existingTableStreamArn'] === undefined;
  const app = createApp({
    context: {
      ...context,
      ...(streamFromDeploy
        ? { existingTableStreamArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/(read-at-deploy)` }
        : {}),
    },
  });
  const stackName = context['stackName'] ?? DEFAULT_STACK_NAME;
  const template = app.synth().getStackByName(stackName).template as {
    Resources?: Record<string, { Type: string }>;
  };
  const width = Math.max(...[...DEPLOYED_SETTINGS, ...Object.keys(STACK_OPTIONS)].map((name) => name.length)) + 2;
  const row = (name: string, value: unknown, from: string) => `  ${name.padEnd(width)}${String(value)}  (${from})`;

  const byType = new Map<string, string[]>();
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {}))
    byType.set(resource.Type, [...(byType.get(resource.Type) ?? []), logicalId]);
  const types = [...byType.entries()].sort(([a], [b]) => a.localeCompare(b));
  const typeWidth = Math.max(...types.map(([type]) => type.length)) + 2;
  return [
    `ddb-faiss deploy --dry-run: stack ${stackName}, synthesized offline; nothing was deployed`,
    ...(streamFromDeploy
      ? [
          `stream mode over ${table}: the deploy checks its keys, creates its sparse index and enables its ` +
            'stream (new and old images) where missing, passes the stream ARN to the stack, and on the first ' +
            'deploy starts a backfill',
        ]
      : []),
    '',
    "settings, in every function's environment:",
    ...DEPLOYED_SETTINGS.map((name) =>
      name in settings ? row(name, settings[name], '-c') : row(name, defaultOf(name), 'default'),
    ),
    'stack:',
    ...Object.entries(STACK_OPTIONS).map(([name, { unset }]) =>
      context[name] !== undefined ? row(name, context[name], '-c') : row(name, unset, 'default'),
    ),
    `resources (${Object.keys(template.Resources ?? {}).length}):`,
    ...types.map(([type, ids]) => {
      const named = ids.slice(0, NAMED_PER_TYPE).join(', ') + (ids.length > NAMED_PER_TYPE ? ', ...' : '');
      return `  ${type.padEnd(typeWidth)}${String(ids.length).padStart(3)}  ${named}`;
    }),
    '',
    'deploy with the same --context options and no --dry-run (needs AWS credentials, Docker and `cdk bootstrap`).',
  ];
}
