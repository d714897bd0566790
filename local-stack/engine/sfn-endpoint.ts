/**
 * Serves a {@link LocalStepFunctions} over the Step Functions JSON 1.0 protocol
 * (`POST /`, `X-Amz-Target: AWSStepFunctions.<Operation>`), the protocol
 * `@aws-sdk/client-sfn` speaks.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { foreignHost, readRequestBody, RequestBodyTooLargeError } from '../../local-http/guard.ts';
import { StepFunctionsApiError } from './errors.ts';
import { isOperation, type Operation, type StepFunctionsApi } from './api.ts';

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
export function createStepFunctionsServer(engine: StepFunctionsApi): Server {
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
      let body: object;
      try {
        const text = await readRequestBody(request, MAX_BODY_BYTES);
        body = text ? (JSON.parse(text) as object) : {};
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
        send(response, 200, call(engine, operation, body));
      } catch (error) {
        if (error instanceof StepFunctionsApiError) sendError(response, error);
        else sendError(response, new StepFunctionsApiError('InternalFailure', (error as Error).message, 500));
      }
    })();
  });
}

/**
 * Calls one operation with the request the SDK sent: its JSON is the operation's input shape (the
 * engine checks what it relies on, as the service does, and names what is wrong).
 */
function call(engine: StepFunctionsApi, operation: Operation, request: object): unknown {
  const method = engine[operation] as (this: StepFunctionsApi, input: object) => unknown;
  return method.call(engine, request);
}
