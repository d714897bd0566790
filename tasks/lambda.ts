/**
 * Lambda entry points: one export per function, all in one bundle. Configuration comes from
 * the function's environment (set by the CDK stack); clients, the model session and the
 * loaded index are created on first use and reused by warm invocations.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createAwsClients } from '../aws/clients.ts';
import { loadConfig } from '../config/config.ts';
import type { IndexerContext } from '../indexer/context.ts';
import { createIndexerHandlers, functionName, type IndexerTask } from './indexer-handlers.ts';
import type { LocalTaskHandler } from '../workflow/engine/task-handlers.ts';
import { createSearchHandler, type SearchHandler } from './search-handler.ts';

let context: IndexerContext | undefined;
let indexerHandlers: Map<string, LocalTaskHandler> | undefined;
let searchHandler: SearchHandler | undefined;

function indexerContext(): IndexerContext {
  if (!context) {
    const config = loadConfig({ env: process.env, flags: { target: 'aws' } });
    context = { config, clients: createAwsClients(config, { dynamodb: undefined, s3: undefined, stepFunctions: undefined, http: undefined }) };
  }
  return context;
}

const task = (name: IndexerTask) => (event: unknown, lambdaContext: Context): Promise<unknown> => {
  indexerHandlers ??= createIndexerHandlers(indexerContext());
  return indexerHandlers.get(functionName(name))!(event, lambdaContext);
};

export const lease = task('lease');
export const bootstrap = task('bootstrap');
export const plan = task('plan');
export const embed = task('embed');
export const merge = task('merge');
export const clear = task('clear');
export const release = task('release');

export const search = (event: APIGatewayProxyEventV2, lambdaContext: Context) => {
  searchHandler ??= createSearchHandler(indexerContext());
  return searchHandler(event, lambdaContext);
};
