/**
 * The monitor's JSON API and page. Everything is read through `@aws-sdk/client-sfn` and the
 * project's status reader, so the same monitor watches the local stack or a deployed one.
 *   GET  /                        the page
 *   GET  /api/definition          the state machine's ASL (as deployed)
 *   GET  /api/status              index, pending backlog, poison items, recent executions
 *   GET  /api/executions          recent executions with origin, timing, outcome
 *   GET  /api/executions/<name>   one execution: input, output, error, stages with counts
 *   POST /api/runs                {"mode": "incremental" | "backfill"}: start a run
 *   POST /api/executions/<name>/stop
 */
import { DescribeExecutionCommand, DescribeStateMachineCommand, ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AwsClients } from '../../aws/clients.ts';
import type { DdbFaissConfig } from '../../config/config.ts';
import { readIndexStatus } from '../index-status.ts';
import { readHistory, startRun } from '../indexer-client.ts';
import { summarizeHistory } from '../run-progress.ts';

const PAGE = new URL('./index.html', import.meta.url);

export interface MonitorProps {
  readonly config: DdbFaissConfig;
  readonly clients: AwsClients;
  /** Resolved lazily: the local stack registers its state machine after the HTTP server exists. */
  readonly stateMachineArn: () => string | Promise<string>;
}

const originOf = (name: string): string => /^(manual|backfill|scheduled)-/.exec(name)?.[1] ?? 'other';

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export function monitorApi(props: MonitorProps): RequestListener {
  const { config, clients } = props;
  const sfn = clients.stepFunctions;
  const executionArn = async (name: string): Promise<string> => (await props.stateMachineArn()).replace(':stateMachine:', ':execution:') + `:${name}`;

  const routes = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    const path = url.pathname;
    if (method === 'GET' && (path === '/' || path === '/monitor')) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(readFileSync(PAGE));
      return;
    }
    if (method === 'GET' && path === '/api/definition') {
      const machine = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: await props.stateMachineArn() }));
      send(response, 200, { name: machine.name, definition: JSON.parse(machine.definition ?? '{}') });
      return;
    }
    if (method === 'GET' && path === '/api/status') {
      send(response, 200, await readIndexStatus(config, clients, await props.stateMachineArn(), 0));
      return;
    }
    if (method === 'GET' && path === '/api/executions') {
      const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: await props.stateMachineArn(), maxResults: 25 }));
      send(response, 200, (listed.executions ?? []).map((execution) => ({
        name: execution.name,
        status: execution.status,
        origin: originOf(execution.name ?? ''),
        startDate: execution.startDate,
        stopDate: execution.stopDate,
        seconds: execution.startDate ? ((execution.stopDate ?? new Date()).getTime() - execution.startDate.getTime()) / 1000 : null,
      })));
      return;
    }
    const one = /^\/api\/executions\/([A-Za-z0-9_-]+)(\/stop)?$/.exec(path);
    if (one && method === 'GET' && !one[2]) {
      const arn = await executionArn(one[1]!);
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const progress = summarizeHistory(await readHistory(sfn, arn));
      send(response, 200, {
        name: execution.name,
        status: execution.status,
        origin: originOf(execution.name ?? ''),
        startDate: execution.startDate,
        stopDate: execution.stopDate,
        input: execution.input ? JSON.parse(execution.input) : null,
        output: execution.output ? JSON.parse(execution.output) : null,
        error: execution.error,
        cause: execution.cause,
        ...progress,
      });
      return;
    }
    if (one && method === 'POST' && one[2]) {
      await sfn.send(new StopExecutionCommand({ executionArn: await executionArn(one[1]!), error: 'User.Stop', cause: 'stopped from the monitor' }));
      send(response, 200, { stopped: one[1] });
      return;
    }
    if (method === 'POST' && path === '/api/runs') {
      const body = await readJson(request);
      const mode = body['mode'] ?? 'incremental';
      if (mode !== 'incremental' && mode !== 'backfill') {
        send(response, 400, { message: 'mode must be "incremental" or "backfill"' });
        return;
      }
      const arn = await startRun(sfn, await props.stateMachineArn(), mode === 'backfill' ? 'backfill' : 'manual');
      send(response, 202, { name: arn.split(':').pop() });
      return;
    }
    send(response, 404, { message: `no route ${method} ${path}` });
  };

  return (request, response) => {
    routes(request, response).catch((error: unknown) => {
      const e = error as { name?: string; message?: string };
      const status = e.name === 'ExecutionDoesNotExist' ? 404 : e.name === 'SyntaxError' ? 400 : 502;
      if (!response.headersSent) send(response, status, { message: `${e.name ?? 'Error'}: ${e.message ?? ''}` });
    });
  };
}
