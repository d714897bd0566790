/**
 * Search in the monitor, as the CLI searches: text, ranking, group, filter and the attributes to
 * show with each hit; "more like this" per hit; and what a score means in the ranking that answered.
 */
import { byId, esc, getJson } from './dom.ts';

interface Hit {
  readonly group: string;
  readonly id: string;
  readonly score: number;
  readonly content: string;
  readonly passage?: { readonly text: string; readonly index: number; readonly count: number };
  readonly attributes?: Readonly<Record<string, unknown>>;
}
interface SearchAnswer {
  readonly mode: 'vector' | 'lexical' | 'hybrid';
  readonly hits: readonly Hit[];
  readonly reason?: string;
}

/** What a score means in each ranking (the search API's own: `search/query.ts`). */
export const SCORE_MEANING: Readonly<Record<SearchAnswer['mode'], string>> = {
  vector: 'Scores are cosine similarity of the meanings: 1 is the same meaning, around 0 unrelated.',
  lexical: 'Scores are BM25 over the words: higher means more of the rarer query words; no upper bound.',
  hybrid:
    'Scores are reciprocal rank fusion of the vector and lexical rankings: each adds 1/(60 + rank), ' +
    'so the best possible is about 0.033; only the order matters.',
};

const value = (id: string): string => byId<HTMLInputElement>(id).value.trim();

/** The query string parts both routes share: filter, group and attributes, as the form has them. */
function common(query: URLSearchParams): URLSearchParams {
  if (value('search-filter')) query.set('filter', value('search-filter'));
  if (value('search-attributes')) query.set('attributes', value('search-attributes'));
  return query;
}

function hitHtml(hit: Hit): string {
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
    const result = await getJson<SearchAnswer>(url);
    byId('search-caption').textContent = `${caption}: ${result.hits.length} hits, ${result.mode} ranking`;
    byId('score-note').textContent = SCORE_MEANING[result.mode];
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
