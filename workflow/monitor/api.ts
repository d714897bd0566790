/**
 * The monitor's JSON API and page. Everything is read through `@aws-sdk/client-sfn` and the
 * project's status reader, so the same monitor watches the local stack or a deployed one.
 *   GET  /                        the page
 *   GET  /api/definition          the state machine's ASL (as deployed)
 *   GET  /api/status              index, pending backlog (bounded), poison items
 *   GET  /api/executions          recent executions with origin, timing, outcome
 *   GET  /api/executions/<name>   one execution: input, output, error, stages with counts
 *   POST /api/runs                {"mode": "incremental" | "backfill"}: start a run
 *   POST /api/executions/<name>/stop
 * It answers only to its loopback host name, and takes POSTs only as JSON from its own page
 * (see `local-stack/http-guard.ts`): under `monitor --target aws` a POST acts with the user's
 * AWS credentials, so no other web page may send one.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ListExecutionsCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AwsClients } from '../../aws/clients.ts';
import type { DdbFaissConfig } from '../../config/config.ts';
import {
  crossSiteWrite,
  foreignHost,
  readRequestBody,
  RequestBodyTooLargeError,
  sendJson,
} from '../../local-stack/http-guard.ts';
import { type Backlog, readBacklog, readIndexRecord } from '../index-status.ts';
import { originOf, readHistory, startRun } from '../indexer-client.ts';
import { summarizeHistory } from '../run-progress.ts';
import { projectPath } from '../../config/project.ts';
import { INDEXER_STAGES, SIDE_STATES } from '../../asl/indexer.ts';

const PAGE = projectPath('workflow/monitor/index.html');
/** The largest POST body taken: `{"mode": "backfill"}` is 20 bytes. */
const MAX_BODY_BYTES = 64 * 1024;

export interface MonitorProps {
  readonly config: DdbFaissConfig;
  readonly clients: AwsClients;
  /** Resolved lazily: the local stack registers its state machine after the HTTP server exists. */
  readonly stateMachineArn: () => string | Promise<string>;
  /**
   * How the backlog is counted: at most `pendingCap` pending keys and `poisonLimit` poison
   * records per count, and at most one count per `refreshMs`, however many pages poll.
   * @default { pendingCap: 10_000, poisonLimit: 100, refreshMs: 5_000 }
   */
  readonly backlog?: { readonly pendingCap?: number; readonly poisonLimit?: number; readonly refreshMs?: number };
}

/** The monitor's default backlog bounds (README: "The monitor's reads"). */
export const MONITOR_BACKLOG = { pendingCap: 10_000, poisonLimit: 100, refreshMs: 5_000 } as const;

/** One backlog count shared by every poll within `refreshMs`; a count in flight is shared too. */
function cachedBacklog(read: () => Promise<Backlog>, refreshMs: number): () => Promise<Backlog> {
  let last: { at: number; value: Promise<Backlog> } | undefined;
  return () => {
    if (!last || Date.now() - last.at >= refreshMs) {
      const value = read();
      const entry = { at: Date.now(), value };
      last = entry;
      value.catch(() => {
        if (last === entry) last = undefined; // a failed count is not kept
      });
    }
    return last.value;
  };
}

export function monitorApi(props: MonitorProps): RequestListener {
  const { config, clients } = props;
  const sfn = clients.stepFunctions;
  const bounds = { ...MONITOR_BACKLOG, ...props.backlog };
  const backlog = cachedBacklog(() => readBacklog(config, clients, bounds), bounds.refreshMs);
  const executionArn = async (name: string): Promise<string> =>
    (await props.stateMachineArn()).replace(':stateMachine:', ':execution:') + `:${name}`;

  const readJsonBody = async (request: IncomingMessage): Promise<Record<string, unknown>> => {
    const text = await readRequestBody(request, MAX_BODY_BYTES);
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new SyntaxError('the request body must be a JSON object');
    return parsed as Record<string, unknown>;
  };

  const routes = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    const path = url.pathname;
    const send = (status: number, body: unknown): void => sendJson(request, response, status, body);
    if (method === 'POST') {
      const refused = crossSiteWrite(request);
      if (refused) {
        send(refused.status, { message: refused.message });
        return;
      }
    }
    if (method === 'GET' && (path === '/' || path === '/monitor')) {
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(readFileSync(PAGE));
      return;
    }
    if (method === 'GET' && path === '/api/definition') {
      const machine = await sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: await props.stateMachineArn() }),
      );
      // The stages and side states come from the one task definition: the page hard-codes no state name.
      send(200, {
        name: machine.name,
        definition: JSON.parse(machine.definition ?? '{}'),
        stages: INDEXER_STAGES,
        side: SIDE_STATES,
      });
      return;
    }
    if (method === 'GET' && path === '/api/status') {
      const [index, counted] = await Promise.all([readIndexRecord(config, clients), backlog()]);
      send(200, { index, ...counted });
      return;
    }
    if (method === 'GET' && path === '/api/executions') {
      const listed = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: await props.stateMachineArn(), maxResults: 25 }),
      );
      send(
        200,
        (listed.executions ?? []).map((execution) => ({
          name: execution.name,
          status: execution.status,
          origin: originOf(execution.name ?? ''),
          startDate: execution.startDate,
          stopDate: execution.stopDate,
          seconds: execution.startDate
            ? ((execution.stopDate ?? new Date()).getTime() - execution.startDate.getTime()) / 1000
            : null,
        })),
      );
      return;
    }
    const one = /^\/api\/executions\/([A-Za-z0-9_-]+)(\/stop)?$/.exec(path);
    if (one && method === 'GET' && !one[2]) {
      const arn = await executionArn(one[1]!);
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const progress = summarizeHistory(await readHistory(sfn, arn));
      send(200, {
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
      await readJsonBody(request);
      await sfn.send(
        new StopExecutionCommand({
          executionArn: await executionArn(one[1]!),
          error: 'User.Stop',
          cause: 'stopped from the monitor',
        }),
      );
      send(200, { stopped: one[1] });
      return;
    }
    if (method === 'POST' && path === '/api/runs') {
      const body = await readJsonBody(request);
      const mode = body['mode'] ?? 'incremental';
      if (mode !== 'incremental' && mode !== 'backfill') {
        send(400, { message: 'mode must be "incremental" or "backfill"' });
        return;
      }
      const arn = await startRun(sfn, await props.stateMachineArn(), mode === 'backfill' ? 'backfill' : 'manual');
      send(202, { name: arn.split(':').pop() });
      return;
    }
    send(404, { message: `no route ${method} ${path}` });
  };

  return (request, response) => {
    const refused = foreignHost(request);
    if (refused) {
      sendJson(request, response, 403, { message: refused });
      return;
    }
    routes(request, response).catch((error: unknown) => {
      const e = error as { name?: string; message?: string };
      const status =
        error instanceof RequestBodyTooLargeError
          ? 413
          : e.name === 'ExecutionDoesNotExist'
            ? 404
            : e.name === 'SyntaxError'
              ? 400
              : 502;
      if (!response.headersSent)
        sendJson(request, response, status, { message: `${e.name ?? 'Error'}: ${e.message ?? ''}` });
    });
  };
}
