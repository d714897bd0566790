/**
 * The monitor's JSON API and page. Everything is read through `@aws-sdk/client-sfn` and the
 * project's status reader, so the same monitor watches the local stack or a deployed one.
 *   GET  /                        the page
 *   GET  /api/definition          the state machine's ASL (as deployed)
 *   GET  /api/status              index, pending backlog (bounded), poison items
 *   GET  /api/executions          executions with origin, timing, outcome; `?status=` (RUNNING,
 *                                 SUCCEEDED, FAILED, ...), `?mode=` (manual, scheduled, backfill),
 *                                 `?pageSize=` (1-100, default 20) and `?nextToken=` for the next page
 *   GET  /api/executions/<name>   one execution: input, output, error, stages with counts and live
 *                                 progress, every state visited, the transitions taken
 *   GET  /api/charts              the last 50 runs (duration, items/s), the pending backlog and
 *                                 search latency p50/p99 over the last 24 hours
 *   GET  /assets/uplot.{js,css}   the charting library (uPlot), served from node_modules
 *   POST /api/runs                {"mode": "incremental" | "backfill"}: start a run
 *   POST /api/executions/<name>/stop
 * It answers only to its loopback host name, and takes POSTs only as JSON from its own page
 * (see `local-http/guard.ts`): under `monitor --target aws` a POST acts with the user's
 * AWS credentials, so no other web page may send one.
 */
import { type CaptureStatus, readCaptureStatus } from '../capture-status.ts';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  type ExecutionListItem,
  type ExecutionStatus,
  ListExecutionsCommand,
  type SFNClient,
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
} from '../../local-http/guard.ts';
import { type Backlog, readBacklog, readIndexRecord, readRunProgress } from '../index-status.ts';
import { originOf, readProgress, RUN_ORIGINS, startRun } from '../indexer-client.ts';
import type { RunProgress } from '../run-progress.ts';
import { projectPath } from '../../config/project.ts';
import { EMBED_MAP, INDEXER_STAGES, SIDE_STATES } from '../../asl/indexer.ts';
import { INDEXER_TASKS } from '../../asl/tasks.ts';
import type { RunProgressRecord } from '../../table/reserved-items.ts';
import type { MetricsSource } from './metrics-source.ts';

const PAGE = projectPath('workflow/monitor/index.html');
/** The charting library's files, served as they are published (no build step). */
const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/assets/uplot.js': { file: projectPath('node_modules/uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  '/assets/uplot.css': { file: projectPath('node_modules/uplot/dist/uPlot.min.css'), type: 'text/css' },
};
/** How far back the charts reach, and how many runs the run chart shows. */
const CHART_WINDOW_MS = 24 * 3600_000;
const CHART_RUNS = 50;
/** Execution statuses Step Functions filters by. */
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
/** How a run was started, as the list filters it: by ddb-faiss, or elsewhere (`other`). */
const MODES = [...RUN_ORIGINS, 'other'] as const;
/** The largest POST body taken: `{"mode": "backfill"}` is 20 bytes. */
const MAX_BODY_BYTES = 64 * 1024;

export interface MonitorProps {
  readonly config: DdbFaissConfig;
  readonly clients: AwsClients;
  /** Resolved lazily: the local stack registers its state machine after the HTTP server exists. */
  readonly stateMachineArn: () => string | Promise<string>;
  /** Where the charts' backlog and search latency series come from (the local EMF file, or CloudWatch). */
  readonly metrics: MetricsSource;
  /**
   * How the backlog is counted: at most `pendingCap` pending keys and `poisonLimit` poison
   * records per count, and at most one count per `refreshMs`, however many pages poll.
   * @default { pendingCap: 10_000, poisonLimit: 100, refreshMs: 5_000 }
   */
  readonly backlog?: { readonly pendingCap?: number; readonly poisonLimit?: number; readonly refreshMs?: number };
}

/** The monitor's default backlog bounds (docs/operations.md: "The monitor's reads"). */
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

/** One execution as the list and the run chart show it. */
interface ExecutionRow {
  readonly name: string;
  readonly status: string;
  readonly origin: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  readonly seconds: number | null;
}

const executionRow = (execution: ExecutionListItem): ExecutionRow => ({
  name: execution.name ?? '',
  status: execution.status ?? '',
  origin: originOf(execution.name ?? ''),
  startDate: execution.startDate,
  stopDate: execution.stopDate,
  seconds: execution.startDate
    ? ((execution.stopDate ?? new Date()).getTime() - execution.startDate.getTime()) / 1000
    : null,
});

/** A page position: Step Functions' token for a page and how many of that page were already shown. */
interface PageToken {
  readonly token?: string;
  readonly skip: number;
}
const encodeToken = (token: PageToken): string => Buffer.from(JSON.stringify(token)).toString('base64url');
function decodeToken(text: string | null): PageToken {
  if (!text) return { skip: 0 };
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as PageToken;
    if (Number.isInteger(token.skip) && token.skip >= 0) return token;
  } catch {
    // answered below
  }
  throw new SyntaxError('nextToken is not one this monitor gave out');
}

/**
 * One page of executions with the status and mode asked for. Step Functions filters by status;
 * the mode (the name's prefix) is filtered here, reading at most 10 pages of 100 per request.
 */
async function listExecutionPage(
  sfn: SFNClient,
  stateMachineArn: string,
  filter: {
    readonly status?: ExecutionStatus;
    readonly mode?: string;
    readonly pageSize: number;
    readonly from: PageToken;
  },
): Promise<{ executions: ExecutionRow[]; nextToken?: string }> {
  const rows: ExecutionRow[] = [];
  let position = filter.from;
  for (let reads = 0; reads < 10; reads += 1) {
    const listed = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn,
        // Unfiltered by mode, one page of the size asked for is enough (the page polls every second).
        maxResults: filter.mode ? 100 : filter.pageSize,
        ...(filter.status ? { statusFilter: filter.status } : {}),
        ...(position.token ? { nextToken: position.token } : {}),
      }),
    );
    const page = listed.executions ?? [];
    for (let i = position.skip; i < page.length; i += 1) {
      const row = executionRow(page[i]!);
      if (filter.mode && row.origin !== filter.mode) continue;
      rows.push(row);
      if (rows.length === filter.pageSize) {
        const rest =
          i + 1 < page.length
            ? { token: position.token, skip: i + 1 }
            : listed.nextToken
              ? { token: listed.nextToken, skip: 0 }
              : undefined;
        return { executions: rows, ...(rest ? { nextToken: encodeToken(rest) } : {}) };
      }
    }
    if (!listed.nextToken) return { executions: rows };
    position = { token: listed.nextToken, skip: 0 };
  }
  return { executions: rows, nextToken: encodeToken(position) };
}

/** A run as the run chart plots it: its duration and the items it indexed per second. */
interface RunPoint {
  readonly name: string;
  readonly origin: string;
  readonly status: string;
  readonly startDate?: Date;
  readonly seconds: number | null;
  readonly items: number | null;
  readonly itemsPerSecond: number | null;
}

/** The items a finished run changed in the index, from its output (null when it merged nothing). */
function itemsIndexed(execution: DescribeExecutionCommandOutput): number | null {
  try {
    const merge = (
      JSON.parse(execution.output ?? '{}') as { merge?: { added: number; replaced: number; removed: number } }
    ).merge;
    return merge ? merge.added + merge.replaced + merge.removed : null;
  } catch {
    return null;
  }
}

/** The live counts of the stages that report them: batches from the Map Run, the others from their record. */
function stageProgress(progress: RunProgress, record: RunProgressRecord | null, execution: string) {
  const live = record?.execution === execution ? record : null;
  const byStage: Record<string, { done: number; total: number; unit: string }> = {
    [EMBED_MAP]: { done: progress.batches.done, total: progress.batches.total, unit: 'batches embedded' },
  };
  for (const task of ['merge', 'compact', 'clear'] as const) {
    if (live?.stage === task)
      byStage[INDEXER_TASKS[task].state] = { done: live.done, total: live.total, unit: live.unit };
  }
  return progress.stages.map((stage) => (byStage[stage.name] ? { ...stage, progress: byStage[stage.name] } : stage));
}

export function monitorApi(props: MonitorProps): RequestListener {
  const { config, clients } = props;
  const sfn = clients.stepFunctions;
  const bounds = { ...MONITOR_BACKLOG, ...props.backlog };
  const backlog = cachedBacklog(() => readBacklog(config, clients, bounds), bounds.refreshMs);
  // Stream mode: the capture's status reads the metrics file (or the failure queue), so it is read
  // at most every few seconds; a failed read is shown as none, and tried again next time.
  let capture: { at: number; status: Promise<CaptureStatus | undefined> } | undefined;
  const captureStatus = (): Promise<CaptureStatus | undefined> => {
    if (!capture || Date.now() - capture.at >= (bounds.refreshMs ?? 5_000)) {
      const status = readCaptureStatus(config).catch(() => {
        capture = undefined;
        return undefined;
      });
      capture = { at: Date.now(), status };
    }
    return capture.status;
  };
  const executionArn = async (name: string): Promise<string> =>
    (await props.stateMachineArn()).replace(':stateMachine:', ':execution:') + `:${name}`;
  // A finished execution never changes: its run point is read once.
  const finishedRuns = new Map<string, RunPoint>();
  const runPoint = async (row: ExecutionRow): Promise<RunPoint> => {
    const known = finishedRuns.get(row.name);
    if (known) return known;
    const base = {
      name: row.name,
      origin: row.origin,
      status: row.status,
      startDate: row.startDate,
      seconds: row.seconds,
    };
    if (row.status === 'RUNNING') return { ...base, items: null, itemsPerSecond: null };
    const items = itemsIndexed(
      await sfn.send(new DescribeExecutionCommand({ executionArn: await executionArn(row.name) })),
    );
    const point = {
      ...base,
      items,
      itemsPerSecond: items !== null && row.seconds ? items / row.seconds : null,
    };
    finishedRuns.set(row.name, point);
    return point;
  };

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
      const [index, counted, capture] = await Promise.all([
        readIndexRecord(config, clients),
        backlog(),
        captureStatus(),
      ]);
      send(200, { index, ...counted, ...(capture ? { capture } : {}) });
      return;
    }
    if (method === 'GET' && path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    const asset = ASSETS[path];
    if (method === 'GET' && asset) {
      response
        .writeHead(200, { 'content-type': `${asset.type}; charset=utf-8`, 'cache-control': 'max-age=3600' })
        .end(readFileSync(asset.file));
      return;
    }
    if (method === 'GET' && path === '/api/executions') {
      const status = url.searchParams.get('status') || undefined;
      const mode = url.searchParams.get('mode') || undefined;
      const pageSize = Number(url.searchParams.get('pageSize') ?? 20);
      const problems = [
        status && !(STATUSES as readonly string[]).includes(status)
          ? `status must be one of ${STATUSES.join(', ')}`
          : '',
        mode && !(MODES as readonly string[]).includes(mode) ? `mode must be one of ${MODES.join(', ')}` : '',
        !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100
          ? 'pageSize must be an integer from 1 to 100'
          : '',
      ].filter(Boolean);
      if (problems.length) {
        send(400, { message: problems.join('; ') });
        return;
      }
      send(
        200,
        await listExecutionPage(sfn, await props.stateMachineArn(), {
          ...(status ? { status: status as ExecutionStatus } : {}),
          ...(mode ? { mode } : {}),
          pageSize,
          from: decodeToken(url.searchParams.get('nextToken')),
        }),
      );
      return;
    }
    if (method === 'GET' && path === '/api/charts') {
      const [listed, series, counted] = await Promise.all([
        sfn.send(new ListExecutionsCommand({ stateMachineArn: await props.stateMachineArn(), maxResults: CHART_RUNS })),
        props.metrics.read(CHART_WINDOW_MS),
        backlog(),
      ]);
      const runs = await Promise.all((listed.executions ?? []).map((execution) => runPoint(executionRow(execution))));
      // The backlog's newest point is the count the monitor reads itself, so the chart ends now.
      const now: [number, number] = [Date.now(), counted.pending];
      send(200, { runs: runs.reverse(), backlog: [...series.backlog, now], searchLatency: series.searchLatency });
      return;
    }
    const one = /^\/api\/executions\/([A-Za-z0-9_-]+)(\/stop)?$/.exec(path);
    if (one && method === 'GET' && !one[2]) {
      const arn = await executionArn(one[1]!);
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const [progress, record] = await Promise.all([
        readProgress(sfn, arn),
        execution.status === 'RUNNING' ? readRunProgress(config, clients) : Promise.resolve(null),
      ]);
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
        stages: stageProgress(progress, record, execution.name ?? ''),
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
