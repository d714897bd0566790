/**
 * The monitor's JSON API and page. Everything is read through `@aws-sdk/client-sfn` and the
 * project's status reader, so the same monitor watches the local stack or a deployed one.
 * The routes are one table ({@link monitorRoutes}), each query string and body checked by a
 * valibot schema that names every problem in one 400:
 *   GET  /, /executions/<name>       the page (a run's own page has a link of its own)
 *   GET  /assets/monitor.js          the page's code (`page/`, TypeScript bundled by esbuild)
 *   GET  /assets/uplot.css           the charting library's style sheet
 *   GET  /api/definition             the state machine's ASL (as deployed), its stages and side states
 *   GET  /api/status                 index, pending backlog (bounded), poison items
 *   GET  /api/executions             executions with origin, timing and outcome; `?status=` (RUNNING,
 *                                    SUCCEEDED, FAILED, ...), `?mode=` (manual, scheduled, backfill),
 *                                    `?pageSize=` (1-100, default 20) and `?nextToken=` for the next page
 *   GET  /api/executions/<name>      one execution in full (`execution-view.ts`)
 *   GET  /api/charts                 the last 50 runs (duration, items/s), the pending backlog and
 *                                    search latency p50/p99 over the last 24 hours
 *   POST /api/runs                   {"mode": "incremental" | "backfill", "input"?: {...}}: start a run, with
 *                                    the input given (the workflow's own input: mode, trigger, debounceSeconds)
 *   POST /api/executions/<name>/stop
 *   POST /api/executions/<name>/redrive   go on from the state that failed (RedriveExecution)
 * It answers only to its loopback host name, and takes POSTs only as JSON from its own page
 * (see `local-http/guard.ts`): under `monitor --target aws` a POST acts with the user's
 * AWS credentials, so no other web page may send one.
 */
import { type CaptureStatus, readCaptureStatus } from '../capture-status.ts';
import {
  DescribeStateMachineCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import * as v from 'valibot';
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
import { RUN_ORIGINS, startRun } from '../indexer-client.ts';
import type { RunProgress } from '../run-progress.ts';
import { projectPath } from '../../config/project.ts';
import { EMBED_MAP, INDEXER_STAGES, SIDE_STATES } from '../../asl/indexer.ts';
import { INDEXER_TASKS } from '../../asl/tasks.ts';
import type { RunProgressRecord } from '../../table/reserved-items.ts';
import type { MetricsSource } from './metrics-source.ts';
import { decodeToken, listExecutionPage } from './execution-list.ts';
import { EndedExecutions, executionRowView, outcomeView, readExecutionView } from './execution-view.ts';
import { pageScript } from './page-bundle.ts';
import type { ChartsView, DefinitionView, ExecutionRowView, RunPointView, StageView } from './view.ts';

const PAGE = projectPath('workflow/monitor/index.html');
/** How far back the charts reach, and how many runs the run chart shows. */
const CHART_WINDOW_MS = 24 * 3600_000;
const CHART_RUNS = 50;
/** Execution statuses Step Functions filters by. */
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
/** How a run was started, as the list filters it: by ddb-faiss, or elsewhere (`other`). */
const MODES = [...RUN_ORIGINS, 'other'] as const;
/** The largest POST body taken: `{"mode": "backfill"}` is 20 bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** An execution's name as Step Functions allows it in an ARN (and the page's links carry it). */
const EXECUTION_NAME = '[A-Za-z0-9_-]{1,80}';

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

/** One read shared by every poll within `refreshMs`; a read in flight is shared too, a failed one not kept. */
function cachedRead<T>(read: () => Promise<T>, refreshMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at >= refreshMs) {
      const value = read();
      const entry = { at: Date.now(), value };
      last = entry;
      value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}

/** The live counts of the stages that report them: batches from the Map Run, the others from their record. */
function withLiveCounts(progress: RunProgress, record: RunProgressRecord | null, execution: string): StageView[] {
  const live = record?.execution === execution ? record : null;
  const byStage: Record<string, { done: number; total: number; unit: string }> = {
    [EMBED_MAP]: { done: progress.batches.done, total: progress.batches.total, unit: 'batches embedded' },
  };
  for (const task of ['merge', 'compact', 'clear'] as const) {
    if (live?.stage === task)
      byStage[INDEXER_TASKS[task].state] = { done: live.done, total: live.total, unit: live.unit };
  }
  return progress.stages.map(({ startedAt, endedAt, ...stage }) => ({
    ...stage,
    ...(startedAt ? { startedAt: startedAt.toISOString() } : {}),
    ...(endedAt ? { endedAt: endedAt.toISOString() } : {}),
    ...(byStage[stage.name] ? { progress: byStage[stage.name] } : {}),
  }));
}

// ---- requests, checked ---------------------------------------------------------------------

/** A query string parameter that may be absent or empty (an empty `<select>` sends `?mode=`). */
const optionalPicked = <T extends readonly string[]>(options: T, name: string) =>
  v.optional(
    v.union(
      [v.literal(''), v.picklist(options)],
      (issue) => `${name} must be one of ${options.join(', ')}, got ${JSON.stringify(issue.input)}`,
    ),
  );

const ExecutionsQuery = v.object({
  status: optionalPicked(STATUSES, 'status'),
  mode: optionalPicked(MODES, 'mode'),
  pageSize: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,3}$/, 'pageSize must be an integer from 1 to 100'),
      v.transform(Number),
      v.minValue(1, 'pageSize must be an integer from 1 to 100'),
      v.maxValue(100, 'pageSize must be an integer from 1 to 100'),
    ),
    '20',
  ),
  nextToken: v.optional(v.string()),
});

const RUN_MODES = ['incremental', 'backfill'] as const;
const INPUT_MESSAGE = 'input must be a JSON object (the workflow\'s input, e.g. {"mode": "backfill"})';
const RunBody = v.object({
  mode: v.optional(v.picklist(RUN_MODES, 'mode must be "incremental" or "backfill"'), 'incremental'),
  /** The execution's input as the workflow reads it; its `mode` wins over the body's. */
  input: v.optional(
    v.pipe(
      // valibot takes an array for an object: the workflow's input is never one.
      v.custom<Record<string, unknown>>(
        (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
        INPUT_MESSAGE,
      ),
      v.looseObject(
        { mode: v.optional(v.picklist(RUN_MODES, 'input.mode must be "incremental" or "backfill"')) },
        INPUT_MESSAGE,
      ),
    ),
  ),
});
const EmptyBody = v.object({});

/** A request the monitor refuses: 400 with every problem named. */
class MonitorRequestError extends Error {
  override readonly name = 'MonitorRequestError';
}

function parseWith<T extends v.GenericSchema>(schema: T, input: unknown): v.InferOutput<T> {
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return parsed.output;
  throw new MonitorRequestError(parsed.issues.map((issue) => issue.message).join('; '));
}

/** What a route's handler is given: its path's parts, its query, and a way to read its JSON body. */
interface RouteContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly params: readonly string[];
  readonly query: Readonly<Record<string, string>>;
  readonly body: () => Promise<unknown>;
  readonly send: (status: number, body: unknown) => void;
}

export interface MonitorRoute {
  readonly method: 'GET' | 'POST';
  /** The path, anchored; each group is a parameter. */
  readonly path: RegExp;
  readonly handle: (context: RouteContext) => Promise<void> | void;
}

/** The monitor's routes, in the order they are matched. */
export function monitorRoutes(props: MonitorProps): readonly MonitorRoute[] {
  const { config, clients } = props;
  const sfn: SFNClient = clients.stepFunctions;
  const bounds = { ...MONITOR_BACKLOG, ...props.backlog };
  const backlog = cachedRead<Backlog>(() => readBacklog(config, clients, bounds), bounds.refreshMs);
  // Stream mode: the capture's status reads the metrics file (or the failure queue); a failed read is shown as none.
  const captureStatus = cachedRead<CaptureStatus | undefined>(
    () => readCaptureStatus(config).catch(() => undefined),
    bounds.refreshMs,
  );
  const executionArn = async (name: string): Promise<string> =>
    (await props.stateMachineArn()).replace(':stateMachine:', ':execution:') + `:${name}`;
  const ended = new EndedExecutions(sfn);
  /** A row with its outcome; an ended run's is read once (a redrive changes its stop date, and so the key). */
  const rowOf = async (item: ExecutionListItem): Promise<ExecutionRowView> =>
    item.status === 'RUNNING' || !item.executionArn
      ? executionRowView(item)
      : executionRowView(item, outcomeView(await ended.describe(item.executionArn, item.stopDate)));
  const runPoint = async (item: ExecutionListItem): Promise<RunPointView> => {
    const row = await rowOf(item);
    const items = row.outcome?.indexed ?? null;
    return {
      name: row.name,
      origin: row.origin,
      status: row.outcome?.display ?? row.status,
      ...(row.startDate ? { startDate: row.startDate } : {}),
      seconds: row.seconds,
      items,
      itemsPerSecond: items !== null && row.seconds ? items / row.seconds : null,
    };
  };
  const servePage = ({ response }: RouteContext): void => {
    response
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(readFileSync(PAGE));
  };

  return [
    { method: 'GET', path: /^\/(?:monitor)?$/, handle: servePage },
    { method: 'GET', path: new RegExp(`^/executions/${EXECUTION_NAME}$`), handle: servePage },
    {
      method: 'GET',
      path: /^\/assets\/monitor\.js$/,
      handle: async ({ response }) => {
        response
          .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
          .end(await pageScript());
      },
    },
    {
      method: 'GET',
      path: /^\/assets\/uplot\.css$/,
      handle: ({ response }) => {
        response
          .writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=3600' })
          .end(readFileSync(projectPath('node_modules/uplot/dist/uPlot.min.css')));
      },
    },
    { method: 'GET', path: /^\/favicon\.ico$/, handle: ({ response }) => void response.writeHead(204).end() },
    {
      method: 'GET',
      path: /^\/api\/definition$/,
      handle: async ({ send }) => {
        const machine = await sfn.send(
          new DescribeStateMachineCommand({ stateMachineArn: await props.stateMachineArn() }),
        );
        // The stages and side states come from the one task definition: the page hard-codes no state name.
        const view: DefinitionView = {
          ...(machine.name ? { name: machine.name } : {}),
          definition: JSON.parse(machine.definition ?? '{}') as DefinitionView['definition'],
          stages: INDEXER_STAGES,
          side: SIDE_STATES,
        };
        send(200, view);
      },
    },
    {
      method: 'GET',
      path: /^\/api\/status$/,
      handle: async ({ send }) => {
        const [index, counted, capture] = await Promise.all([
          readIndexRecord(config, clients),
          backlog(),
          captureStatus(),
        ]);
        send(200, { index, ...counted, ...(capture ? { capture } : {}) });
      },
    },
    {
      method: 'GET',
      path: /^\/api\/executions$/,
      handle: async ({ query, send }) => {
        const { status, mode, pageSize, nextToken } = parseWith(ExecutionsQuery, query);
        const page = await listExecutionPage(sfn, await props.stateMachineArn(), {
          ...(status ? { status } : {}),
          ...(mode ? { mode } : {}),
          pageSize,
          from: decodeToken(nextToken ?? null),
        });
        send(200, {
          executions: await Promise.all(page.executions.map(rowOf)),
          ...(page.nextToken ? { nextToken: page.nextToken } : {}),
        });
      },
    },
    {
      method: 'GET',
      path: /^\/api\/charts$/,
      handle: async ({ send }) => {
        const [listed, series, counted] = await Promise.all([
          sfn.send(
            new ListExecutionsCommand({ stateMachineArn: await props.stateMachineArn(), maxResults: CHART_RUNS }),
          ),
          props.metrics.read(CHART_WINDOW_MS),
          backlog(),
        ]);
        const runs = await Promise.all((listed.executions ?? []).map(runPoint));
        // The backlog's newest point is the count the monitor reads itself, so the chart ends now.
        const view: ChartsView = {
          runs: runs.reverse(),
          backlog: [...series.backlog, [Date.now(), counted.pending]],
          searchLatency: series.searchLatency,
        };
        send(200, view);
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^/api/executions/(${EXECUTION_NAME})$`),
      handle: async ({ params, send }) => {
        const arn = await executionArn(params[0]!);
        send(
          200,
          await readExecutionView(sfn, arn, ended, async (progress, execution) => {
            const record = execution.status === 'RUNNING' ? await readRunProgress(config, clients) : null;
            return withLiveCounts(progress, record, execution.name ?? '');
          }),
        );
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/executions/(${EXECUTION_NAME})/stop$`),
      handle: async ({ params, body, send }) => {
        parseWith(EmptyBody, await body());
        await sfn.send(
          new StopExecutionCommand({
            executionArn: await executionArn(params[0]!),
            error: 'User.Stop',
            cause: 'stopped from the monitor',
          }),
        );
        send(200, { stopped: params[0] });
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/executions/(${EXECUTION_NAME})/redrive$`),
      handle: async ({ params, body, send }) => {
        parseWith(EmptyBody, await body());
        const { redriveDate } = await sfn.send(
          new RedriveExecutionCommand({ executionArn: await executionArn(params[0]!) }),
        );
        send(200, { redriven: params[0], redriveDate });
      },
    },
    {
      method: 'POST',
      path: /^\/api\/runs$/,
      handle: async ({ body, send }) => {
        const request = parseWith(RunBody, await body());
        const input = { ...request.input, mode: request.input?.mode ?? request.mode };
        const arn = await startRun(
          sfn,
          await props.stateMachineArn(),
          input.mode === 'backfill' ? 'backfill' : 'manual',
          input,
        );
        send(202, { name: arn.split(':').pop() });
      },
    },
  ];
}

/** The HTTP status of a failed request: its own refusal, a missing execution, or a failure upstream. */
function statusOf(error: unknown): number {
  if (error instanceof RequestBodyTooLargeError) return 413;
  const name = (error as { name?: string }).name;
  if (name === 'ExecutionDoesNotExist') return 404;
  if (name === 'ExecutionNotRedrivable' || name === 'ExecutionAlreadyExists') return 409;
  if (name === 'SyntaxError' || name === 'MonitorRequestError') return 400;
  return 502;
}

export function monitorApi(props: MonitorProps): RequestListener {
  const routes = monitorRoutes(props);
  return (request, response) => {
    const refused = foreignHost(request);
    if (refused) {
      sendJson(request, response, 403, { message: refused });
      return;
    }
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    const send = (status: number, body: unknown): void => sendJson(request, response, status, body);
    const handled = (async () => {
      if (method === 'POST') {
        const crossSite = crossSiteWrite(request);
        if (crossSite) return send(crossSite.status, { message: crossSite.message });
      }
      for (const route of routes) {
        const match = route.method === method ? route.path.exec(url.pathname) : null;
        if (!match) continue;
        return route.handle({
          request,
          response,
          params: match.slice(1),
          query: Object.fromEntries(url.searchParams),
          body: async () => {
            const text = await readRequestBody(request, MAX_BODY_BYTES);
            const parsed: unknown = text ? JSON.parse(text) : {};
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
              throw new SyntaxError('the request body must be a JSON object');
            return parsed;
          },
          send,
        });
      }
      send(404, { message: `no route ${method} ${url.pathname}` });
    })();
    handled.catch((error: unknown) => {
      const e = error as { name?: string; message?: string };
      const message = e.name === 'MonitorRequestError' ? (e.message ?? '') : `${e.name ?? 'Error'}: ${e.message ?? ''}`;
      if (!response.headersSent) sendJson(request, response, statusOf(error), { message });
    });
  };
}
