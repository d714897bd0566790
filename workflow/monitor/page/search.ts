/**
 * Search in the monitor, as the CLI searches: text, ranking, group, filter and the attributes to
 * show with each hit; "more like this" per hit; and what a score means in the ranking that answered.
 */
import type { SearchHit, SearchResult } from '../../../search/results.ts';
import { SCORE_MEANING } from '../../../search/score-meaning.ts';
import { byId, esc, getJson } from './dom.ts';

/** The meaning, as a sentence of its own. */
const scoreNote = (mode: SearchResult['mode']): string =>
  `${SCORE_MEANING[mode][0]!.toUpperCase()}${SCORE_MEANING[mode].slice(1)}.`;

const value = (id: string): string => byId<HTMLInputElement>(id).value.trim();

/** The query string parts both routes share: filter, group and attributes, as the form has them. */
function common(query: URLSearchParams): URLSearchParams {
  if (value('search-filter')) query.set('filter', value('search-filter'));
  if (value('search-attributes')) query.set('attributes', value('search-attributes'));
  return query;
}

function hitHtml(hit: SearchHit): string {
  const text = hit.passage
    ? `<span class="passage">${esc(hit.passage.text)}</span> <span class="muted">(passage ${hit.passage.index + 1} of ${hit.passage.count})</span>`
    : esc(hit.content);
  const attributes = Object.entries(hit.attributes ?? {})
    .map(([name, attribute]) => `${esc(name)}: ${esc(JSON.stringify(attribute))}`)
    .join(' · ');
  return (
    `<li data-id="${esc(hit.id)}"><span class="score">${hit.score.toFixed(3)}</span>${text} <span class="muted">${esc(hit.group)}/${esc(hit.id)}</span>` +
    `<button type="button" class="similar" data-group="${esc(hit.group)}" data-id="${esc(hit.id)}">more like this</button>` +
    (attributes ? `<span class="hit-attributes">${attributes}</span>` : '') +
    '</li>'
  );
}

/** Shows a search's hits, then `after` (the charts, which now hold this search's latency). */
async function showHits(url: string, caption: string, after: () => void): Promise<void> {
  byId('search-caption').textContent = caption;
  try {
    const result = await getJson<SearchResult>(url);
    byId('search-caption').textContent = `${caption}: ${result.hits.length} hits, ${result.mode} ranking`;
    byId('score-note').textContent = scoreNote(result.mode);
    byId('search-results').innerHTML =
      result.hits.map(hitHtml).join('') ||
      `<li class="muted">no hits${result.reason ? `: ${esc(result.reason)}` : ''}</li>`;
  } catch (error) {
    byId('search-results').innerHTML = `<li class="error">${esc((error as Error).message)}</li>`;
  }
  after();
}

export function wireSearch(after: () => void): void {
  byId('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const query = common(new URLSearchParams({ q: value('search-q'), k: '10', mode: value('search-mode') }));
    if (value('search-group')) query.set('group', value('search-group'));
    void showHits(`/search?${query}`, `"${value('search-q')}"`, after);
  });
  byId('search-results').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button.similar');
    if (!button) return;
    const { group = '', id = '' } = button.dataset;
    const query = common(new URLSearchParams({ group, id, k: '10' }));
    void showHits(`/similar?${query}`, `items like ${group}/${id}`, after);
  });
}
