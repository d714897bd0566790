/**
 * What `ddb-faiss up` hosts: the indexer's task handlers and its state machine rendered from
 * `asl/`, plus the active model published to the local bucket (as a deployment would), so
 * the bootstrap stage finds it exactly as it would in AWS.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { localFunctionArns, renderIndexerDefinition } from '../asl/indexer.ts';
import type { DdbFaissConfig } from '../config/config.ts';
import { isS3NotFound } from '../aws/errors.ts';
import { bundleKeyPrefix, readManifest } from '../embedding/bundle.ts';
import { publishBundle, resolveModel } from '../models/registry.ts';
import type { LocalStackProps } from '../local-stack/stack.ts';
import { apiGateway, withLocalJwtAuthorizer } from '../local-stack/api-gateway.ts';
import { localMetricsFile, localObservability } from '../lambda-host/observability.ts';
import { localMetricsSource } from './monitor/metrics-source.ts';
import { createIndexerHandlers } from '../tasks/indexer-handlers.ts';
import { createSearchHandler } from '../tasks/search-handler.ts';
import { createCaptureHandler } from '../tasks/capture-handler.ts';
import { requestRunForPending } from '../tasks/capture-run.ts';
import { readIndexRecord } from './index-status.ts';
import { startRun } from './indexer-client.ts';
import { searchRoutes } from '../tasks/search-routes.ts';
import { monitorApi } from './monitor/api.ts';

/** Options of {@link localStackProps}. */
export interface LocalStackOptions {
  /**
   * Print the task handlers' log lines (at the configured `log-level`): `up` does; a command
   * with output of its own (the demo, tests, the bench) keeps them silent.
   * @default false
   */
  readonly taskLogs?: boolean;
}

export function localStackProps(config: DdbFaissConfig, options: LocalStackOptions = {}): LocalStackProps {
  const observability = localObservability({
    dataDir: config.dataDir,
    logLevel: options.taskLogs ? config.logLevel : 'SILENT',
    logFormat: config.logFormat,
  });
  return {
    config,
    createHandlers: ({ clients }) => createIndexerHandlers({ config, clients }, observability),
    createCapture: ({ clients, stateMachineArns }) => {
      const context = { config, clients, stateMachineArn: () => stateMachineArns[config.stateMachineName] ?? '' };
      const resume = async (): Promise<string | undefined> =>
        (await readIndexRecord(config, clients))
          ? requestRunForPending(context)
          : startRun(clients.stepFunctions, context.stateMachineArn(), 'backfill');
      return { handler: createCaptureHandler(context, observability), resume };
    },
    httpApp: ({ clients, stateMachineArns }) =>
      apiGateway(searchRoutes(createSearchHandler({ config, clients }, observability)), {
        fallback: monitorApi({
          config,
          clients,
          stateMachineArn: () => stateMachineArns[config.stateMachineName] ?? '',
          metrics: localMetricsSource(localMetricsFile(config.dataDir)),
        }),
        ...withLocalJwtAuthorizer(config),
      }),
    stateMachines: {
      [config.stateMachineName]: renderIndexerDefinition({
        functionArns: localFunctionArns(config.region),
        maxConcurrency: config.maxConcurrency,
      }),
    },
  };
}

/**
 * Publishes the configured model to the local bucket unless the same bundle is there.
 * @returns whether it was uploaded
 */
export async function ensureModelPublished(
  s3: S3Client,
  config: DdbFaissConfig,
  log?: (line: string) => void,
): Promise<boolean> {
  const dir = await resolveModel(config.modelName, log);
  const checksum = readManifest(dir).checksum;
  try {
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: config.bucketName,
        Key: `${bundleKeyPrefix(config.modelPrefix, config.modelName)}manifest.json`,
      }),
    );
    if (head.Metadata?.['checksum'] === checksum) return false;
  } catch (error) {
    if (!isS3NotFound(error)) throw error; // only "not published yet" is expected
  }
  await publishBundle(s3, config.bucketName, config.modelPrefix, dir, config.modelName);
  log?.(
    `published model ${config.modelName} to s3://${config.bucketName}/${bundleKeyPrefix(config.modelPrefix, config.modelName)}`,
  );
  return true;
}
