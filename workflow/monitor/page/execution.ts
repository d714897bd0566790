/**
 * One run, in full: start, end, duration and outcome; why it failed, in words first; what it
 * changed; a timeline of its states (bars on a time axis, durations on them); the embed Map Run's
 * batches by status, each failed one with its error and the items it left pending; and the table of
 * history events with each state's input and output.
 */
import type { EventView, ExecutionView, MapRunView, TimelineSpan } from '../view.ts';
import { byId, esc, formatDate, formatSeconds } from './dom.ts';

const pretty = (text: string | undefined): string => {
  if (text === undefined) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

function summaryHtml(execution: ExecutionView): string {
  const outcome = execution.outcome;
  const shown = outcome?.display ?? execution.status;
  const cell = (label: string, value: string, id = ''): string =>
    `<div${id ? ` id="${id}"` : ''}><span>${label}</span>${value}</div>`;
  const change = execution.change;
  return (
    '<div class="summary">' +
    cell('outcome', `<b class="status-${esc(shown)}" id="execution-status">${esc(shown)}</b>`) +
    cell('mode', esc(execution.origin)) +
    cell('started', esc(formatDate(execution.startDate))) +
    cell('ended', esc(formatDate(execution.stopDate)) || 'still running', 'execution-ended') +
    cell('duration', formatSeconds(execution.seconds), 'execution-duration') +
    (execution.redriveCount ? cell('redriven', `${execution.redriveCount} times`) : '') +
    '</div>' +
    // A failure is told below, in words first: the outcome's line would say it twice.
    `<p id="execution-outcome"${execution.failure ? ' hidden' : ''}>${esc(outcome?.words ?? '')}</p>` +
    (execution.failure
      ? `<div class="failure" id="execution-failure"><b>${esc(execution.failure.words)}</b>` +
        (execution.failure.error ? `<div class="muted">${esc(execution.failure.error)}</div>` : '') +
        '</div>'
      : '') +
    (change
      ? `<p id="execution-change">Generation ${change.generation}: ${change.added} added, ${change.replaced} replaced, ` +
        `${change.removed} removed, ${change.poison} poison.</p>`
      : '') +
    `<details><summary>input</summary><pre>${esc(JSON.stringify(execution.input, null, 2))}</pre></details>` +
    `<details><summary>output</summary><pre>${esc(JSON.stringify(execution.output, null, 2))}</pre></details>`
  );
}

function timelineHtml(spans: readonly TimelineSpan[], execution: ExecutionView): string {
  if (spans.length === 0) return 'No states yet.';
  const total = Math.max(
    1,
    ...spans.map((span) => span.endMs ?? span.startMs),
    execution.seconds !== null ? execution.seconds * 1000 : 0,
  );
  return spans
    .map((span) => {
      const end = span.endMs ?? (execution.seconds ?? 0) * 1000;
      const left = (100 * span.startMs) / total;
      const width = Math.max(0.4, (100 * (end - span.startMs)) / total);
      const took = formatSeconds((end - span.startMs) / 1000);
      return (
        `<div class="span-row" data-span="${esc(span.state)}"><span class="label" title="${esc(span.state)}">${esc(span.state)}</span>` +
        `<div class="span-track"><div class="span-bar" data-status="${esc(span.status)}" ` +
        `style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%" title="${esc(span.state)}: ${took}"></div></div>` +
        `<span class="took">${took}</span></div>`
      );
    })
    .join('');
}

function mapRunHtml(run: MapRunView | undefined): string {
  if (!run) return 'No Map Run: this run embedded nothing.';
  const counts = Object.entries(run.counts)
    .filter(([name, count]) => count > 0 || name === 'failed')
    .map(([name, count]) => `<span data-count-of="${esc(name)}">${esc(name)}: ${count}</span>`)
    .join('');
  const failed = run.batches.filter((batch) => batch.status === 'failed').length;
  const rows = run.batches
    .map(
      (batch) =>
        `<tr class="batch" data-batch="${batch.batch ?? ''}" data-status="${esc(batch.status)}"><td>${batch.batch ?? ''}</td><td>${batch.items ?? ''}</td>` +
        `<td class="status-${batch.status === 'embedded' ? 'SUCCEEDED' : batch.status === 'failed' ? 'FAILED' : 'RUNNING'}">${esc(batch.status)}</td>` +
        `<td>${formatSeconds(batch.seconds)}</td><td>${batch.error ? `<b>${esc(batch.error)}</b>: ${esc(batch.cause ?? '')}` : ''}</td></tr>`,
    )
    .join('');
  return (
    `<div class="counts">${run.status ? `<span>${esc(run.status)}</span>` : ''}${counts}</div>` +
    (failed
      ? `<p class="error" id="left-pending">${failed} batch${failed === 1 ? '' : 'es'} failed: ${run.itemsLeftPending} items left pending for the next run.</p>`
      : '') +
    '<div class="table-wrap"><table><thead><tr><th>batch</th><th>items</th><th>status</th><th>took</th><th>error</th></tr></thead>' +
    `<tbody id="batches">${rows}</tbody></table></div>` +
    (run.more ? '<p class="muted">The first 100 batches are listed; the counts cover all of them.</p>' : '')
  );
}

function eventRow(event: EventView): string {
  const data = [
    event.input !== undefined
      ? `<details><summary>input</summary><pre>${esc(pretty(event.input))}</pre></details>`
      : '',
    event.output !== undefined
      ? `<details><summary>output</summary><pre>${esc(pretty(event.output))}</pre></details>`
      : '',
    event.error !== undefined || event.cause !== undefined
      ? `<div class="error">${esc(event.error ?? '')}${event.cause ? `: ${esc(event.cause)}` : ''}</div>`
      : '',
  ].join('');
  return (
    `<tr data-event="${event.id}" data-type="${esc(event.type)}"><td>${event.id}</td><td>${esc(event.type)}${data}</td>` +
    `<td>${esc(event.state ?? '')}</td><td>${formatSeconds(event.elapsedMs / 1000)}</td>` +
    `<td>${esc(new Date(event.at).toLocaleTimeString())}</td></tr>`
  );
}

/**
 * Redraws keeping open what the reader opened (by position: a redraw keeps the order, and new
 * events come last); a table redrawn every second would otherwise fold them back.
 */
function keepingOpen(container: HTMLElement, draw: () => void): void {
  const open = new Set([...container.querySelectorAll('details')].flatMap((details, i) => (details.open ? [i] : [])));
  draw();
  container.querySelectorAll('details').forEach((details, i) => {
    if (open.has(i)) details.open = true;
  });
}

/** The summary of a run, under the graph (on every view). */
export function showSummary(execution: ExecutionView | null): void {
  byId('execution-heading').textContent = execution ? `${execution.name}` : '';
  const detail = byId('execution-detail');
  if (!execution) {
    detail.textContent = 'No execution yet.';
    return;
  }
  keepingOpen(detail, () => (detail.innerHTML = summaryHtml(execution)));
}

/** What the run's page last drew: an ended run (same stop date) is not drawn again every second. */
let drawn = '';

/** The run's own page: timeline, Map Run, events. */
export function showExecutionPage(execution: ExecutionView): void {
  const ended = execution.status === 'RUNNING' ? '' : `${execution.name}@${execution.stopDate ?? ''}`;
  if (ended && ended === drawn) return;
  drawn = ended;
  byId('timeline').innerHTML = timelineHtml(execution.timeline, execution);
  byId('map-run').innerHTML = mapRunHtml(execution.mapRun);
  const events = byId('events');
  keepingOpen(events, () => (events.innerHTML = execution.events.map(eventRow).join('')));
}
