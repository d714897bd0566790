/**
 * Lambda entry points: one export per task of `asl/tasks.ts` plus `search`, all in one bundle.
 * Configuration comes from the function's environment (set by the CDK stack); clients, the
 * model session and the loaded index are created on first use and reused by warm invocations.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { INDEXER_TASK_NAMES, type IndexerTask } from '../asl/tasks.ts';
import { createAwsClients } from '../aws/clients.ts';
import { loadConfig } from '../config/config.ts';
import type { IndexerContext } from '../indexer/context.ts';
import type { TaskHandler } from './handler.ts';
import { type IndexerHandlers, indexerHandlers, indexerStages } from './indexer-handlers.ts';
import { lambdaObservability, type Observability } from './observability.ts';
import { createSearchHandler, isProvisionedSearchInit, type SearchHandler } from './search-handler.ts';
import { IndexReader } from '../search/index-reader.ts';
import { type CaptureHandler, createCaptureHandler } from './capture-handler.ts';
import type { StreamEvent } from '../indexer/capture.ts';
import { preloadSearch } from '../search/query.ts';

let context: IndexerContext | undefined;
let handlers: IndexerHandlers | undefined;
let searchHandler: SearchHandler | undefined;
let observability: Promise<Observability> | undefined;

function indexerContext(): IndexerContext {
  if (!context) {
    const config = loadConfig({ flags: { target: 'aws' } }); // the function's environment, set by the stack
    const endpoints = { dynamodb: undefined, s3: undefined, stepFunctions: undefined, http: undefined };
    context = { config, clients: createAwsClients(config, endpoints) };
  }
  return context;
}

function lambdaReporting(): Promise<Observability> {
  const { config } = indexerContext();
  observability ??= lambdaObservability(config.logLevel, config.tracing);
  return observability;
}

/** Each task's entry point, created on first call. */
const taskExports = Object.fromEntries(
  INDEXER_TASK_NAMES.map((task): [IndexerTask, TaskHandler] => [
    task,
    async (event, lambdaContext) => {
      handlers ??= indexerHandlers(indexerContext(), await lambdaReporting(), indexerStages(indexerContext()));
      return (handlers[task] as TaskHandler)(event, lambdaContext);
    },
  ]),
) as Record<IndexerTask, TaskHandler>;

// The container image's CMD names these exports (`lambda.<task>`); a test checks the bundle has one per task.
export const { lease, bootstrap, plan, embed, merge, compact, clear, release } = taskExports;

let captureHandler: CaptureHandler | undefined;

/** The capture step (stream mode): behind the event source mapping on the table's stream. */
export const capture = async (event: StreamEvent, lambdaContext: Context) => {
  const context = indexerContext();
  captureHandler ??= createCaptureHandler(
    { ...context, stateMachineArn: () => context.config.stateMachineArn ?? '' },
    await lambdaReporting(),
  );
  return captureHandler(event, lambdaContext);
};

let searchReader: IndexReader | undefined;
const indexReader = (): IndexReader => {
  const { config } = indexerContext();
  searchReader ??= new IndexReader(config.efsRoot, config.indexLayout);
  return searchReader;
};

export const search = async (event: APIGatewayProxyEventV2, lambdaContext: Context) => {
  searchHandler ??= createSearchHandler(indexerContext(), await lambdaReporting(), indexReader());
  return searchHandler(event, lambdaContext);
};

// A provisioned search instance loads the index and the model before its first request.
// eslint-disable-next-line no-restricted-properties -- the Lambda runtime's own variables, not settings
if (isProvisionedSearchInit(process.env)) await preloadSearch(indexerContext(), indexReader());
