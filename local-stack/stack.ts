/**
 * The embedded local AWS stack behind `ddb-faiss up`: DynamoDB (AWS's DynamoDB Local, a child `java`), S3 (s3rver), a
 * Step Functions-compatible endpoint and the EFS folder, all on 127.0.0.1 in this process,
 * persisted under the data directory. It creates what is missing (table, GSI, bucket).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import path from 'node:path';
import type { DdbFaissConfig } from '../config/config.ts';
import { type AwsClients, createAwsClients, createStreamsClient, destroyAwsClients } from '../aws/clients.ts';
import { captureFilterPattern, type CaptureStep } from '../tasks/capture-handler.ts';
import { StreamFollower } from './stream-follower.ts';
import { isStackAlive, type LocalStackInfo, readStackInfo, removeStackInfo, writeStackInfo } from './stack-info.ts';
import { LocalStepFunctions } from './engine/local-engine.ts';
import { createStepFunctionsServer } from './engine/sfn-endpoint.ts';
import type { TaskHandlerRegistry } from '../tasks/handler.ts';
import { ensureItemsTable, type RunningService } from './dynamodb.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { closeServer, listenLocal } from '../local-http/listen.ts';
import { ensureBucket, startS3 } from './s3.ts';
import { UserFacingError } from '../config/errors.ts';

/** Thrown when another `up` already serves the data directory. */
export class StackAlreadyRunningError extends UserFacingError {
  override readonly name = 'StackAlreadyRunningError';
  readonly code = 'stack-already-running';
}

/** Options of {@link startLocalStack}. */
export interface LocalStackProps {
  readonly config: DdbFaissConfig;
  /** Task handlers by Lambda function name. @default none */
  readonly handlers?: TaskHandlerRegistry;
  /** Task handlers that need the stack's clients, created once they exist. @default none */
  readonly createHandlers?: (context: Pick<LocalStackContext, 'config' | 'clients'>) => TaskHandlerRegistry;
  /**
   * The capture step, whose handler the stack's stream follower calls in stream mode
   * (`changeCapture: stream`). @default none: the stream is not followed
   */
  readonly createCapture?: (context: LocalStackContext) => CaptureStep;
  /** State machines to create or update at start, by name (ASL JSON text). @default {} */
  readonly stateMachines?: Readonly<Record<string, string>>;
  /**
   * Mounts extra routes (search, monitor) on the stack's HTTP server; called once clients exist.
   * @default a server that answers 404
   */
  readonly httpApp?: (context: LocalStackContext) => RequestListener;
  /** Progress lines. @default no output */
  readonly log?: (line: string) => void;
}

/** What the running stack offers to code hosted in it. */
export interface LocalStackContext {
  readonly config: DdbFaissConfig;
  readonly clients: AwsClients;
  readonly stepFunctions: LocalStepFunctions;
  readonly stateMachineArns: Readonly<Record<string, string>>;
}

export interface LocalStack extends LocalStackContext {
  readonly info: LocalStackInfo;
  /**
   * Stream mode: what a (re)started capture does once the model is published: a run for what is
   * pending (markers written before a crash may have lost theirs), or, when nothing is indexed yet,
   * a backfill of what the table holds (its stream already captures every change after). @returns
   * what it started, if anything; nothing outside stream mode
   */
  resumeCapture(): Promise<unknown>;
  /** Stops executions (recorded as aborted), servers and databases, in that order. */
  close(): Promise<void>;
}

export async function startLocalStack(props: LocalStackProps): Promise<LocalStack> {
  const { config } = props;
  const log = props.log ?? (() => {});
  const running = readStackInfo(config);
  // A stack.json whose stack does not answer is left by a stack that was killed: start over it.
  if (running && (await isStackAlive(running))) {
    throw new StackAlreadyRunningError(
      `a local stack (pid ${running.pid}) already serves ${config.dataDir}; stop it first, or use another --data-dir`,
    );
  }
  mkdirSync(config.efsRoot, { recursive: true });

  const started: (RunningService | { close(): Promise<void> })[] = [];
  const closeAll = async (): Promise<void> => {
    for (const service of started.reverse()) await service.close();
  };
  try {
    const dynamodb = await startDynamoDbLocal({
      dataDir: path.join(config.dataDir, 'dynamodb'),
      port: config.dynamodbPort,
      cacheDir: config.cacheDir,
    });
    started.push(dynamodb);
    const s3 = await startS3(path.join(config.dataDir, 's3'), config.s3Port);
    started.push(s3);

    const handlers = new Map(props.handlers);
    let clients: AwsClients | undefined;
    const stepFunctions = new LocalStepFunctions({
      directory: path.join(config.dataDir, 'stepfunctions'),
      region: config.region,
      handlers,
      // A Distributed Map's ItemReader and ResultWriter use the local S3, through the stack's client.
      s3: () => {
        if (!clients) throw new Error('the local stack has no S3 client yet');
        return clients.s3;
      },
    });
    const sfnServer = createStepFunctionsServer(stepFunctions);
    const sfnPort = await listenLocal(sfnServer, config.stepFunctionsPort, 'Step Functions', 'sfn-port');
    started.push({ close: () => closeServer(sfnServer) });
    const sfnEndpoint = `http://127.0.0.1:${sfnPort}`;

    // Every part of the stack (its tasks, search, the engine's S3 reads) goes where the endpoint
    // settings say, when they say: a proxy in front of a stand-in (e.g. one that throttles) then
    // sees every request, as every other command's do (stack.json names the same endpoints).
    const endpoints = {
      dynamodb: config.dynamodbEndpoint ?? dynamodb.endpoint,
      s3: config.s3Endpoint ?? s3.endpoint,
      stepFunctions: config.stepFunctionsEndpoint ?? sfnEndpoint,
    };
    clients = createAwsClients(config, { ...endpoints, http: undefined });
    started.push({ close: async () => destroyAwsClients(clients) });
    // Runs before the clients are destroyed: aborted executions may still be using them.
    started.push({ close: () => stepFunctions.shutdown() });
    const table = await ensureItemsTable(clients.dynamodb, config);
    if (table.created) log(`created table ${config.tableName} with sparse index ${config.pendingIndexName}`);
    for (const change of table.changes) log(`table ${config.tableName}: ${change}`);
    if (await ensureBucket(clients.s3, config.bucketName)) log(`created bucket ${config.bucketName}`);

    for (const [name, handler] of props.createHandlers?.({ config, clients }) ?? []) handlers.set(name, handler);
    const stateMachineArns: Record<string, string> = {};
    for (const [name, definition] of Object.entries(props.stateMachines ?? {})) {
      stateMachineArns[name] = stepFunctions.createOrUpdateStateMachine(name, definition).stateMachineArn;
    }
    const context: LocalStackContext = { config, clients, stepFunctions, stateMachineArns };
    let resumeCapture: () => Promise<unknown> = async () => undefined;
    if (config.changeCapture === 'stream' && props.createCapture) {
      const capture = props.createCapture(context);
      resumeCapture = capture.resume;
      const streams = createStreamsClient(config, endpoints.dynamodb);
      const follower = new StreamFollower({
        dynamodb: clients.dynamodb,
        streams,
        tableName: config.tableName,
        handler: capture.handler,
        filter: captureFilterPattern(config),
        dataDir: config.dataDir,
        log,
      });
      follower.start();
      // Stops before the engine: a batch in flight may still start a run.
      started.push({
        close: async () => {
          await follower.stop();
          streams.destroy();
        },
      });
    }

    const httpServer: Server = createServer(
      props.httpApp?.(context) ??
        ((_req, res) => {
          res.writeHead(404).end();
        }),
    );
    const httpPort = await listenLocal(httpServer, config.httpPort, 'the HTTP API', 'http-port');
    started.push({ close: () => closeServer(httpServer) });

    const info: LocalStackInfo = {
      pid: process.pid,
      endpoints: { ...endpoints, http: `http://127.0.0.1:${httpPort}` },
      stateMachineArn: stateMachineArns[config.stateMachineName] ?? '',
      startedAt: new Date().toISOString(),
    };
    writeStackInfo(config, info);
    started.push({ close: async () => removeStackInfo(config) });
    return { ...context, info, resumeCapture: () => resumeCapture(), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
