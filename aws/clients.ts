/**
 * The AWS SDK v3 clients, configured for the target. Locally they point at the embedded
 * stand-ins with fixed dummy credentials; on AWS they use the standard credential chain.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { DdbFaissConfig } from '../config/config.ts';
import { type MeteredClient, requestMeter } from './request-meter.ts';

/**
 * The SDK's middleware that hands each request and response to the client's logger. ddb-faiss
 * gives no client a logger, and the SDK's default one discards what it is given, yet the
 * middleware first copies the input and the output through their schemas to mask sensitive
 * fields: work for nothing on every request, about 0.3 ms of a search's read-back of ten items
 * from DynamoDB Local here (p50 3.62, 4.04 and 4.51 ms without it against 3.93, 4.30 and 4.77
 * with, three rounds taking turns, each read after 6 ms of work; a /tmp script).
 */
const SDK_LOGGER_MIDDLEWARE = 'loggerMiddleware';

/**
 * `client` as ddb-faiss sends with it: its requests counted by the process's {@link requestMeter},
 * and without the SDK's logger middleware ({@link SDK_LOGGER_MIDDLEWARE}). Every SDK client the
 * code creates is made through this (a unit test holds the code to it), so what a run costs is
 * counted from every request it sends.
 *
 * @example
 * ```ts
 * const cloudWatch = sdkClient(new CloudWatchClient({ region }));
 * ```
 */
export const sdkClient = <C extends MeteredClient & { readonly middlewareStack: { remove(name: string): boolean } }>(
  client: C,
): C => {
  client.middlewareStack.remove(SDK_LOGGER_MIDDLEWARE);
  return requestMeter.attach(client);
};

/** Endpoints of the service APIs; `undefined` means the SDK's default (real AWS). */
export interface ServiceEndpoints {
  readonly dynamodb: string | undefined;
  readonly s3: string | undefined;
  readonly stepFunctions: string | undefined;
  /** The ddb-faiss HTTP API (search, monitor). */
  readonly http: string | undefined;
}

/** The clients one process uses; create once and share (connection reuse). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly stepFunctions: SFNClient;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A stalled connection fails with a TimeoutError (which the tasks report as transient, and the
 * state machine retries) instead of hanging until Lambda's own timeout: the SDK only logs a
 * warning unless told to throw. `requestTimeout` limits a socket's idleness, not a transfer's
 * length, so streaming a model bundle is not cut short.
 */
export const REQUEST_TIMEOUTS = {
  connectionTimeout: 5_000,
  requestTimeout: 30_000,
  throwOnRequestTimeout: true,
} as const;

/**
 * Attempts per request, with the SDK's standard retry strategy backing off between them. DynamoDB
 * throttles as a matter of course (an on-demand table a sudden burst, a provisioned one whenever
 * it runs hot), so its requests get ten: at 20% of requests throttled, one in ten million fails
 * them all. Other services throttle rarely, and locally a few attempts keep a stack that went
 * away from holding a command up.
 */
export const ATTEMPTS = { dynamodb: 10, aws: 8, local: 3 } as const;

/**
 * The wait before DynamoDB attempt `n + 1`: full jitter over 50 ms doubling, at most 5 s (the
 * base AWS's SDKs long used for DynamoDB; the SDK's default waits a second before a throttled
 * retry). A search's reads then ride out throttling within their deadline, and all ten attempts
 * of a task's request span about 10 s on average, 21 s at most.
 */
export const dynamodbRetryDelay = (attempt: number): number => Math.random() * Math.min(50 * 2 ** attempt, 5_000);

export function createAwsClients(
  config: Pick<DdbFaissConfig, 'region' | 'target'>,
  endpoints: ServiceEndpoints,
): AwsClients {
  const local = config.target === 'local';
  const common = {
    region: config.region,
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
    maxAttempts: local ? ATTEMPTS.local : ATTEMPTS.aws,
    requestHandler: REQUEST_TIMEOUTS,
  };
  return {
    dynamodb: sdkClient(
      new DynamoDBClient({
        ...common,
        maxAttempts: ATTEMPTS.dynamodb,
        retryStrategy: new ConfiguredRetryStrategy(ATTEMPTS.dynamodb, dynamodbRetryDelay),
        ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}),
      }),
    ),
    s3: sdkClient(
      new S3Client({
        ...common,
        ...(endpoints.s3 ? { endpoint: endpoints.s3 } : {}),
        forcePathStyle: local,
        // s3rver stores streamed bodies with their aws-chunked framing (silently corrupt)
        // unless checksums are only sent when an operation requires them.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    ),
    stepFunctions: sdkClient(
      new SFNClient({
        ...common,
        ...(endpoints.stepFunctions ? { endpoint: endpoints.stepFunctions } : {}),
      }),
    ),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.dynamodb.destroy();
  clients.s3.destroy();
  clients.stepFunctions.destroy();
}

/**
 * A DynamoDB Streams client (the local stack's stream follower, `capture redrive`): the
 * streams API answers on DynamoDB's endpoint locally, on its own on AWS.
 */
export function createStreamsClient(
  config: Pick<DdbFaissConfig, 'region' | 'target'>,
  dynamodbEndpoint: string | undefined,
): DynamoDBStreamsClient {
  const local = config.target === 'local';
  return sdkClient(
    new DynamoDBStreamsClient({
      region: config.region,
      ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
      maxAttempts: ATTEMPTS.dynamodb,
      retryStrategy: new ConfiguredRetryStrategy(ATTEMPTS.dynamodb, dynamodbRetryDelay),
      requestHandler: REQUEST_TIMEOUTS,
      ...(local && dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}),
    }),
  );
}

/**
 * An SQS client for a deployed stack's capture failure queue (`status`, `capture redrive`); the
 * queue URL names its region and endpoint.
 */
export function createSqsClient(config: Pick<DdbFaissConfig, 'region'>): SQSClient {
  return sdkClient(
    new SQSClient({ region: config.region, maxAttempts: ATTEMPTS.aws, requestHandler: REQUEST_TIMEOUTS }),
  );
}
