/**
 * The execution list: newest first, filtered by mode and status, paged with the monitor's own
 * tokens; each row links to the run's own page. A run that did no work reads SKIPPED.
 */
import type { ExecutionPageView, ExecutionRowView } from '../view.ts';
import { byId, esc, formatSeconds, getJson } from './dom.ts';

/** The page tokens seen so far, for "newer". */
const pages: { tokens: (string | null)[]; index: number } = { tokens: [null], index: 0 };

function listUrl(): string {
  const query = new URLSearchParams({ pageSize: '15' });
  const mode = byId<HTMLSelectElement>('filter-mode').value;
  const status = byId<HTMLSelectElement>('filter-status').value;
  if (mode) query.set('mode', mode);
  if (status) query.set('status', status);
  const token = pages.tokens[pages.index];
  if (token) query.set('nextToken', token);
  return `/api/executions?${query}`;
}

export const executionHref = (name: string): string => `/executions/${encodeURIComponent(name)}`;

function rowHtml(row: ExecutionRowView, selected: string | null): string {
  const shown = row.outcome?.display ?? row.status;
  const title = row.outcome?.words ?? '';
  return (
    `<tr class="execution${row.name === selected ? ' selected' : ''}" data-name="${esc(row.name)}" data-origin="${esc(row.origin)}" data-status="${esc(shown)}">` +
    `<td><a href="${executionHref(row.name)}">${esc(row.name)}</a></td><td>${esc(row.origin)}</td>` +
    `<td class="status-${esc(shown)}" title="${esc(title)}">${esc(shown)}</td>` +
    `<td>${row.startDate ? esc(new Date(row.startDate).toLocaleTimeString()) : ''}</td><td>${formatSeconds(row.seconds)}</td></tr>`
  );
}

/** Reads and shows the current page. @returns its rows (the newest first) */
export async function refreshExecutions(selected: string | null): Promise<readonly ExecutionRowView[]> {
  const page = await getJson<ExecutionPageView>(listUrl());
  pages.tokens[pages.index + 1] = page.nextToken ?? null;
  byId<HTMLButtonElement>('page-older').disabled = !page.nextToken;
  byId<HTMLButtonElement>('page-newer').disabled = pages.index === 0;
  byId('page-label').textContent = `page ${pages.index + 1}`;
  const filtered = byId<HTMLSelectElement>('filter-mode').value || byId<HTMLSelectElement>('filter-status').value;
  byId('executions').innerHTML =
    page.executions.map((row) => rowHtml(row, selected)).join('') ||
    `<tr><td colspan="5" class="muted">no executions${filtered ? ' match the filter' : ''}</td></tr>`;
  return pages.index === 0 ? page.executions : [];
}

/** Wires the filters and paging; `changed` reads the list again. */
export function wireExecutions(changed: () => void, open: (name: string) => void): void {
  for (const id of ['filter-mode', 'filter-status'])
    byId(id).addEventListener('change', () => {
      pages.tokens = [null];
      pages.index = 0;
      changed();
    });
  byId('page-older').addEventListener('click', () => {
    pages.index += 1;
    changed();
  });
  byId('page-newer').addEventListener('click', () => {
    pages.index = Math.max(0, pages.index - 1);
    changed();
  });
  byId('executions').addEventListener('click', (event) => {
    const row = (event.target as HTMLElement).closest<HTMLElement>('tr.execution');
    if (!row?.dataset['name']) return;
    event.preventDefault();
    open(row.dataset['name']);
  });
}
