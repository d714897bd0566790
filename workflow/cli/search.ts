/**
 * `ddb-faiss search "<text>"` and `ddb-faiss similar GROUP ID`: ask the search service (the
 * local stack's, or the deployed API) and print its hits, or its JSON with `--json`.
 */
import { advise } from '../../config/advice.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { filterFromExpressions } from '../../search/filter.ts';
import type { SearchResult } from '../../search/results.ts';
import { SCORE_MEANING } from '../../search/score-meaning.ts';
import type { DdbFaissConfig } from '../../config/config.ts';
import { type Command, type CommandIo, JSON_OPTION, println, UsageError } from './command.ts';
import { UserFacingError } from '../../config/errors.ts';

/** Thrown when the search service answers with an error (its message is shown as is). */
export class SearchFailedError extends UserFacingError {
  override readonly name = 'SearchFailedError';
  readonly code = 'search-failed';
}

/** The options `search` and `similar` share: how many hits, which items, what to show. */
const SHARED_OPTIONS = {
  k: { type: 'string', short: 'k', default: '10', value: 'N', description: 'how many hits, 1 to 100' },
  filter: {
    type: 'string',
    multiple: true,
    value: 'EXPR',
    description:
      "only items whose attribute meets it: name=value, 'name>=number' (also >, <=, <); " +
      'repeat it for more conditions, or the same name with = for either value',
  },
  attributes: {
    type: 'string',
    value: 'A,B',
    description: "the items' attributes to show with each hit (comma-separated)",
  },
  json: JSON_OPTION,
} as const satisfies Command['options'];

/** The request fields the shared options give. */
function sharedFields(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const expressions = (values['filter'] as string[] | undefined) ?? [];
  const filter = expressions.length > 0 ? filterFromExpressions(expressions) : undefined;
  if (filter && 'problems' in filter) throw new UsageError(filter.problems.join('\n'));
  return {
    k: Number(values['k']),
    ...(filter ? { filter: filter.filter } : {}),
    ...(values['attributes'] ? { attributes: String(values['attributes']).split(',') } : {}),
  };
}

/** Posts a request to a search route and prints the answer. */
async function ask(
  config: DdbFaissConfig,
  route: '/search' | '/similar',
  body: Record<string, unknown>,
  json: boolean,
  io: CommandIo,
): Promise<number> {
  const base = (await resolveEndpoints(config)).http;
  if (!base)
    throw new UsageError(
      'no search endpoint for this target: deploy the stack (its API URL) or start ' +
        advise('startStack', config.dataDir),
    );
  const { callSearchApi } = await import('../search-api-client.ts');
  const response = await callSearchApi(config, `${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.text();
  if (!response.ok) {
    let reason = answer;
    try {
      reason = (JSON.parse(answer) as { message?: string }).message ?? answer;
    } catch {
      // not JSON: show as is
    }
    throw new SearchFailedError(`${route.slice(1)} failed (HTTP ${response.status}): ${reason}`);
  }
  if (json) {
    println(io.stdout, answer);
    return 0;
  }
  const result = JSON.parse(answer) as SearchResult;
  const reason = result.reason ? `: ${result.reason}` : '';
  const asked = (body['attributes'] as string[] | undefined) ?? [];
  println(
    io.stdout,
    `${result.hits.length} hits (generation ${result.generation}, model ${result.model}; ` +
      `${SCORE_MEANING[result.mode]})${reason}`,
  );
  for (const hit of result.hits) {
    // A long item is shown by the passage that matched, and which of its passages that is.
    const shown = (hit.passage?.text ?? hit.content).replace(/\s+/g, ' ');
    const text = shown.length > 100 ? `${shown.slice(0, 97)}...` : shown;
    const where = hit.passage ? ` (passage ${hit.passage.index + 1} of ${hit.passage.count})` : '';
    const score = hit.score < 0.1 ? hit.score.toFixed(4) : hit.score.toFixed(3);
    println(io.stdout, `${score}  ${hit.group}/${hit.id}${where}  ${text}`);
    // The attributes asked for, under their hit: `year=1862  party="Republican"`.
    const attributes = Object.entries(hit.attributes ?? {});
    if (asked.length > 0)
      println(
        io.stdout,
        `${' '.repeat(score.length + 2)}${
          attributes.length > 0
            ? attributes.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join('  ')
            : `(no ${asked.join(', ')})`
        }`,
      );
  }
  return 0;
}

export const searchCommand: Command = {
  name: 'search',
  summary: 'find the items most similar to a text',
  arguments: '"<text>"',
  options: {
    ...SHARED_OPTIONS,
    mode: {
      type: 'string',
      value: 'MODE',
      description:
        "how hits are ranked: vector (the model's cosine similarity, -1 to 1), lexical (BM25 over words), " +
        'or hybrid (both fused by reciprocal rank: scores near 0.03 are ranks, not similarities)',
      default: 'vector',
    },
    group: { type: 'string', value: 'G', description: 'only items of this content group' },
  },
  settings: ['target'],
  examples: [
    { run: 'ddb-faiss search "a man playing music" -k 5', says: 'the five items most similar to the text' },
    {
      run: 'ddb-faiss search "tax cuts" --mode hybrid --filter \'year>=1945\' --attributes year,party',
      says: 'both rankings, items from 1945 on, with two of their attributes',
    },
    { run: 'ddb-faiss search "a red bus" --target aws --json', says: 'ask the deployed API, for a script' },
  ],
  async run({ config, values, positionals }, io) {
    const text = positionals.join(' ');
    if (text.trim() === '') throw new UsageError('search needs the text to search for');
    const body = {
      q: text,
      ...(values['mode'] ? { mode: values['mode'] } : {}),
      ...(values['group'] ? { group: values['group'] } : {}),
      ...sharedFields(values),
    };
    return ask(config, '/search', body, values['json'] === true, io);
  },
};

export const similarCommand: Command = {
  name: 'similar',
  summary: "find the items nearest to a stored item's own vector (more like this)",
  arguments: 'GROUP ID',
  options: SHARED_OPTIONS,
  settings: ['target'],
  examples: [{ run: 'ddb-faiss similar Lincoln 1862 -k 3', says: 'the three passages nearest to an indexed item' }],
  async run({ config, values, positionals }, io) {
    if (positionals.length !== 2) throw new UsageError('similar needs the group and the id of an indexed item');
    const [group, id] = positionals as [string, string];
    return ask(config, '/similar', { group, id, ...sharedFields(values) }, values['json'] === true, io);
  },
};
