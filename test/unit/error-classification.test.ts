/**
 * Which task errors the state machine retries: real errors from the AWS SDK, produced by an
 * endpoint that answers the way DynamoDB does when it throttles, fails, stalls or drops the
 * connection, passed through the task handlers' middleware.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { REQUEST_TIMEOUTS } from '../../aws/clients.ts';
import { PermanentError } from '../../aws/errors.ts';
import { LeaseLostError } from '../../indexer/errors.ts';
import { stageHandler } from '../../tasks/indexer-handlers.ts';
import { localObservability } from '../../lambda-host/observability.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { localLambdaContext } from '../../lambda-host/lambda-context.ts';

type Behaviour = (response: ServerResponse) => void;

const awsError =
  (status: number, type: string): Behaviour =>
  (response) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type }).end(
      JSON.stringify({
        __type: `com.amazonaws.dynamodb.v20120810#${type}`,
        message: `${type} from the test endpoint`,
      }),
    );
  };

describe('transient-error classification', () => {
  const dir = tempDir();
  const silent = localObservability({ dataDir: dir.path, logLevel: 'SILENT' });
  after(() => dir.remove());
  let server: Server;
  let behaviour: Behaviour = awsError(500, 'InternalServerError');
  let client: DynamoDBClient;
  before(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => behaviour(response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1, // the SDK's own retries would hide the error the task reports
      // ddb-faiss's clients' settings, with a shorter wait
      requestHandler: { ...REQUEST_TIMEOUTS, requestTimeout: 300 },
    });
  });
  after(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** The error the SDK raises for one call under the current behaviour. */
  const sdkError = async (): Promise<Error> => {
    try {
      await client.send(new GetItemCommand({ TableName: 't', Key: { k: { S: 'v' } } }));
    } catch (error) {
      return error as Error;
    }
    throw new Error('the call succeeded');
  };

  /** What a task that failed with `error` reports to the state machine. */
  const reported = async (error: Error): Promise<Error> => {
    const handler = stageHandler(
      'plan',
      async () => {
        throw error;
      },
      silent,
    );
    try {
      await handler({} as Parameters<typeof handler>[0], localLambdaContext('test', 1000));
    } catch (failure) {
      return failure as Error;
    }
    throw new Error('the task succeeded');
  };

  const retried: [string, Behaviour][] = [
    ['throttling (400 ThrottlingException)', awsError(400, 'ThrottlingException')],
    [
      'throughput exceeded (400 ProvisionedThroughputExceededException)',
      awsError(400, 'ProvisionedThroughputExceededException'),
    ],
    ['too many requests (429)', awsError(429, 'TooManyRequestsException')],
    ['a 500', awsError(500, 'InternalServerError')],
    ['a 503', awsError(503, 'ServiceUnavailable')],
    ['a dropped connection', (response) => response.socket?.destroy()],
    ['a request that times out', () => undefined],
  ];
  for (const [name, answer] of retried) {
    it(`retries ${name}`, async () => {
      // Prepare
      behaviour = answer;
      const error = await sdkError();
      // Act
      const failure = await reported(error);
      // Assess
      assert.equal(failure.name, 'TransientError', `${error.name}: ${error.message}`);
      assert.equal(failure.cause, error, 'the original error is kept as the cause');
    });
  }

  const permanent: [string, Behaviour][] = [
    ['a validation error (400 ValidationException)', awsError(400, 'ValidationException')],
    ['a failed condition (400 ConditionalCheckFailedException)', awsError(400, 'ConditionalCheckFailedException')],
    ['access denied (400 AccessDeniedException)', awsError(400, 'AccessDeniedException')],
    ['a missing table (400 ResourceNotFoundException)', awsError(400, 'ResourceNotFoundException')],
  ];
  for (const [name, answer] of permanent) {
    it(`never retries ${name}`, async () => {
      behaviour = answer;
      const error = await sdkError();
      const failure = await reported(error);
      assert.equal(failure, error, `${error.name} must reach the state machine as it is`);
    });
  }

  it("never retries ddb-faiss's own permanent errors", async () => {
    const lost = new LeaseLostError('lost');
    assert.equal(await reported(lost), lost);
    const permanentError = new PermanentError('no');
    assert.equal(await reported(permanentError), permanentError);
  });
});
