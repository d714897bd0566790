/**
 * The CDK app: `npm run synth` (offline, no credentials) or `ddb-faiss deploy`. Settings come
 * from CDK context (`-c scheduleMinutes=30`, `-c existingTableName=...`), each optional.
 */
import { App } from 'aws-cdk-lib';
import { DdbFaissStack } from './stack.ts';

export function createApp(outdir?: string): App {
  const app = new App(outdir ? { outdir } : {});
  const number = (key: string): number | undefined => {
    const value = app.node.tryGetContext(key) as string | number | undefined;
    return value === undefined ? undefined : Number(value);
  };
  const existingTableName = app.node.tryGetContext('existingTableName') as string | undefined;
  const scheduleMinutes = number('scheduleMinutes');
  const maxConcurrency = number('maxConcurrency');
  new DdbFaissStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'DdbFaiss', {
    ...(existingTableName ? { existingTableName } : {}),
    ...(scheduleMinutes !== undefined ? { scheduleMinutes } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    tracing: app.node.tryGetContext('tracing') === 'true',
    description: 'ddb-faiss: semantic similarity search for a DynamoDB table',
  });
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  createApp().synth();
}
