/**
 * The monitor page: the state machine with one run painted on it, and either the dashboard (index,
 * executions, charts, search) at `/` or a run's own page at `/executions/<name>` (a link of its
 * own: back and forward move between runs). Polls once a second; the charts every five.
 */
import type { DefinitionView, ExecutionView } from '../view.ts';
import { refreshCharts, resizeCharts } from './charts.ts';
import { byId, esc, getJson, postJson } from './dom.ts';
import { showExecutionPage, showSummary } from './execution.ts';
import { executionHref, refreshExecutions, wireExecutions } from './executions.ts';
import { drawGraph, fitGraph, type Layout, paintRun } from './graph.ts';
import { wireSearch } from './search.ts';

interface Capture {
  readonly where: 'local' | 'aws';
  readonly caughtUp: boolean;
  readonly lagSeconds?: number;
  readonly recordsPerMinute: number;
  readonly changesPerMinute: number;
  readonly failedBatches: number;
  readonly lost?: { readonly reason: string; readonly remedy: string };
}
interface Status {
  readonly index: {
    readonly generation: number;
    readonly items?: number;
    readonly vectors: number;
    readonly model: { readonly name: string; readonly dimensions: number };
    readonly publishedAt: string;
    readonly change?: { readonly added: number; readonly replaced: number; readonly removed: number };
  } | null;
  readonly pending: number;
  readonly pendingCapped: boolean;
  readonly pendingEstimate?: number;
  readonly poison: readonly { readonly group: string; readonly id: string; readonly reason: string }[];
  readonly poisonCapped: boolean;
  readonly capture?: Capture;
}

/** What the page shows: the run named by the URL, or (at `/`) the newest, followed as runs start. */
const view: { stages: readonly string[]; layout?: Layout; selected: string | null; following: boolean } = {
  stages: [],
  selected: null,
  following: true,
};

const executionInPath = (): string | null => {
  const match = /^\/executions\/([^/]+)$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]!) : null;
};

/** Shows what the URL names: a run's own page, or the dashboard following the newest run. */
function route(): void {
  const named = executionInPath();
  view.selected = named;
  view.following = named === null;
  byId('dashboard-view').hidden = named !== null;
  byId('execution-view').hidden = named === null;
  // A run's page leads with its summary (outcome, why it failed); the dashboard keeps it under the graph.
  const summary = byId('execution-section');
  if (named) document.querySelector('#execution-view a.back')!.after(summary);
  else byId('graph-section').after(summary);
  document.title = named ? `${named} · ddb-faiss monitor` : 'ddb-faiss monitor';
  void refresh();
}

/** Opens a run's page, as a link would (the URL names it; back returns). */
function open(name: string): void {
  history.pushState(null, '', executionHref(name));
  route();
}

// Stream mode: the capture's lag, its pace and what needs a hand (failed batches, lost changes).
// A deployed stack's lag and pace are on its CloudWatch dashboard; only its failure queue is read here.
function captureRows(capture: Capture): string {
  const lag = capture.caughtUp ? 'caught up' : `behind: last batch's oldest record ${capture.lagSeconds ?? 0} s old`;
  const pace =
    capture.where === 'aws'
      ? "lag and pace on the stack's CloudWatch dashboard"
      : `${lag}; ${capture.recordsPerMinute} records, ${capture.changesPerMinute} changes a minute`;
  const redrive = capture.failedBatches > 0 ? ' <span class="muted">(ddb-faiss capture redrive)</span>' : '';
  const lost = capture.lost
    ? `<span>lost</span><span class="status-FAILED">${esc(capture.lost.reason)}: ${esc(capture.lost.remedy)}</span>`
    : '';
  return (
    `<span>capture</span><span id="capture">${esc(pace)}</span>` +
    `<span>failed batches</span><span id="capture-failed">${capture.failedBatches}${redrive}</span>${lost}`
  );
}

function showStatus(status: Status): void {
  const index = status.index;
  const estimate =
    status.pendingCapped && status.pendingEstimate !== undefined
      ? `<span></span><span class="muted">about ${status.pendingEstimate} by DynamoDB's own count (refreshed about every six hours)</span>`
      : '';
  const change = index?.change
    ? `${index.change.added} added, ${index.change.replaced} replaced, ${index.change.removed} removed`
    : '—';
  byId('index').innerHTML =
    `<span>generation</span><b id="index-generation">${index ? index.generation : '—'}</b>` +
    `<span>items</span><span id="index-items">${index ? (index.items ?? index.vectors) : 0}</span>` +
    `<span>vectors</span><span id="index-vectors">${index ? index.vectors : 0}</span>` +
    `<span>model</span><span>${index ? `${esc(index.model.name)} (${index.model.dimensions} dims)` : '—'}</span>` +
    `<span>published</span><span>${index ? esc(new Date(index.publishedAt).toLocaleString()) : 'not yet'}</span>` +
    `<span>last change</span><span id="index-change">${change}</span>` +
    `<span>pending</span><span id="pending">${status.pending}${status.pendingCapped ? '+' : ''}</span>${estimate}` +
    (status.capture ? captureRows(status.capture) : '');
  byId('poison-count').textContent = `${status.poison.length}${status.poisonCapped ? '+' : ''}`;
  byId('poison').innerHTML = status.poison
    .map((item) => `<li>${esc(item.group)}/${esc(item.id)}: ${esc(item.reason)}</li>`)
    .join('');
}

function showExecution(execution: ExecutionView | null): void {
  byId('execution-title').textContent = execution ? `— ${execution.name} (${execution.origin})` : '';
  byId('stop-run').hidden = !execution || execution.status !== 'RUNNING';
  const redrive = byId<HTMLButtonElement>('redrive-run');
  redrive.hidden = !execution?.redrivable;
  if (execution?.redriveFrom) redrive.dataset['from'] = execution.redriveFrom;
  else delete redrive.dataset['from'];
  paintRun(execution, view.layout, view.stages);
  showSummary(execution);
  if (execution && !byId('execution-view').hidden) showExecutionPage(execution);
}

let refreshing = false;
async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    // The dashboard reads the index and the list (and follows the newest run); a run's page, that run only.
    if (byId('execution-view').hidden) {
      const [status, newest] = await Promise.all([getJson<Status>('/api/status'), refreshExecutions(view.selected)]);
      showStatus(status);
      if (view.following && newest[0]) view.selected = newest[0].name;
    }
    showExecution(
      view.selected ? await getJson<ExecutionView>(`/api/executions/${encodeURIComponent(view.selected)}`) : null,
    );
    byId('execution-error').textContent = '';
  } catch (error) {
    byId('execution-error').textContent = `monitor: ${(error as Error).message}`;
  } finally {
    refreshing = false;
  }
}

const chartsNow = (): void =>
  void refreshCharts().catch((error: Error) => {
    byId('execution-error').textContent = `monitor charts: ${error.message}`;
  });

let tick = 0;
function poll(): void {
  void refresh();
  if (tick++ % 5 === 0 && byId('execution-view').hidden) chartsNow();
}

async function start(body: { readonly mode?: 'incremental' | 'backfill'; readonly input?: unknown }): Promise<void> {
  const { name } = await postJson<{ name: string }>('/api/runs', body);
  // Following the newest run shows the one just started; its own page is a click away.
  history.pushState(null, '', '/');
  route();
  view.selected = name;
}

function wireActions(): void {
  // What an action could not do stays up (the poll clears only its own errors) until the next action.
  const failed = (error: Error): void => {
    const banner = byId('action-error');
    banner.textContent = error.message;
    banner.hidden = false;
  };
  for (const id of ['start-run', 'start-backfill', 'start-with-input', 'stop-run', 'redrive-run'])
    byId(id).addEventListener('click', () => (byId('action-error').hidden = true), { capture: true });
  byId('start-run').addEventListener('click', () => {
    if (confirm('Start a run? It indexes what is pending now.')) start({ mode: 'incremental' }).catch(failed);
  });
  byId('start-backfill').addEventListener('click', () => {
    const question =
      'Rebuild the whole index from the table? Searches keep using the current index until the new one is published.';
    if (confirm(question)) start({ mode: 'backfill' }).catch(failed);
  });
  byId('start-with-input').addEventListener('click', () => {
    const text = prompt(
      'Start a run with this input (mode: "incremental" or "backfill"; trigger and debounceSeconds as the workflow reads them):',
      '{"mode": "incremental"}',
    );
    if (text === null) return;
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch {
      failed(new Error(`the input is not JSON: ${text}`));
      return;
    }
    start({ input }).catch(failed);
  });
  byId('stop-run').addEventListener('click', () => {
    const name = view.selected;
    if (!name || !confirm(`Stop ${name}? Its stage ends at once; what it has not published is not used.`)) return;
    postJson(`/api/executions/${encodeURIComponent(name)}/stop`, {})
      .catch(failed)
      .finally(() => void refresh());
  });
  byId('redrive-run').addEventListener('click', () => {
    const name = view.selected;
    const from = byId('redrive-run').dataset['from'];
    const question = `Redrive ${name} from ${from ?? 'where it failed'}? The states that succeeded are not run again.`;
    if (!name || !confirm(question)) return;
    postJson(`/api/executions/${encodeURIComponent(name)}/redrive`, {})
      .catch(failed)
      .finally(() => void refresh());
  });
  byId('home').addEventListener('click', (event) => {
    event.preventDefault();
    history.pushState(null, '', '/');
    route();
  });
  document.querySelector('a.back')?.addEventListener('click', (event) => {
    event.preventDefault();
    history.pushState(null, '', '/');
    route();
  });
}

async function main(): Promise<void> {
  const { name, definition, stages, side } = await getJson<DefinitionView>('/api/definition');
  view.stages = stages;
  byId('machine').textContent = name ?? '';
  view.layout = drawGraph(definition, stages, new Set(side));
  wireExecutions(() => void refresh(), open);
  wireSearch(chartsNow);
  wireActions();
  window.addEventListener('popstate', route);
  window.addEventListener('resize', () => {
    fitGraph(view.layout);
    resizeCharts();
  });
  route();
  setInterval(poll, 1000);
  chartsNow();
}

void main();
