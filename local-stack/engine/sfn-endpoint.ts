/**
 * Serves a {@link LocalStepFunctions} over the Step Functions JSON 1.0 protocol
 * (`POST /`, `X-Amz-Target: AWSStepFunctions.<Operation>`), the protocol
 * `@aws-sdk/client-sfn` speaks.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { foreignHost, readRequestBody, RequestBodyTooLargeError } from '../../local-http/guard.ts';
import { StepFunctionsApiError } from './errors.ts';
import type { LocalStepFunctions } from './local-engine.ts';

const OPERATIONS = [
  'CreateStateMachine',
  'DescribeStateMachine',
  'ListStateMachines',
  'StartExecution',
  'DescribeExecution',
  'ListExecutions',
  'GetExecutionHistory',
  'StopExecution',
  'DescribeMapRun',
  'ListMapRuns',
] as const;
type Operation = (typeof OPERATIONS)[number];
const isOperation = (name: string): name is Operation => (OPERATIONS as readonly string[]).includes(name);

/** Step Functions takes definitions of up to 1 MB; a request is that plus its envelope. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: StepFunctionsApiError): void {
  response.setHeader('x-amzn-errortype', error.code);
  send(response, error.statusCode, { __type: `com.amazonaws.sfn#${error.code}`, message: error.message });
}

/** An HTTP server (not yet listening) that dispatches API calls to the engine. */
export function createStepFunctionsServer(engine: LocalStepFunctions): Server {
  return createServer((request, response) => {
    void (async () => {
      const refused = foreignHost(request);
      if (refused) {
        sendError(response, new StepFunctionsApiError('AccessDeniedException', refused, 403));
        return;
      }
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
      if (request.method !== 'POST' || !isOperation(operation)) {
        sendError(
          response,
          new StepFunctionsApiError('UnknownOperationException', `unsupported operation: ${target || request.method}`),
        );
        return;
      }
      let body: Record<string, unknown>;
      try {
        const text = await readRequestBody(request, MAX_BODY_BYTES);
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch (error) {
        if (error instanceof RequestBodyTooLargeError) {
          response.setHeader('connection', 'close');
          sendError(response, new StepFunctionsApiError('RequestEntityTooLargeException', error.message, 413));
        } else {
          sendError(response, new StepFunctionsApiError('SerializationException', 'request body is not valid JSON'));
        }
        return;
      }
      try {
        send(response, 200, engine[operation](body));
      } catch (error) {
        if (error instanceof StepFunctionsApiError) sendError(response, error);
        else sendError(response, new StepFunctionsApiError('InternalFailure', (error as Error).message, 500));
      }
    })();
  });
}
