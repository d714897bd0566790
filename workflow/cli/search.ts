/** `ddb-faiss search "<text>" [-k 10] [--group g] [--json]`: asks the search service. */
import { resolveEndpoints } from '../../local-stack/stack-info.ts';
import { type Command, println, UsageError } from './command.ts';

/** Thrown when the search service answers with an error (its message is shown as is). */
export class SearchFailedError extends Error {
  override readonly name = 'SearchFailedError';
}

export const searchCommand: Command = {
  name: 'search',
  summary: 'find the items most similar to a text',
  usage: 'ddb-faiss search "<text>" [-k 10] [--group G] [--attributes a,b] [--json]',
  positionals: true,
  options: {
    k: { type: 'string', short: 'k', default: '10' },
    group: { type: 'string' },
    attributes: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ config, values, positionals }, io) {
    const text = positionals.join(' ');
    if (text.trim() === '') throw new UsageError('search needs the text to search for');
    const base = (await resolveEndpoints(config)).http;
    if (!base)
      throw new UsageError(
        'no search endpoint for this target: deploy the stack (its API URL) or start `ddb-faiss up`',
      );
    const body = {
      q: text,
      k: Number(values['k']),
      ...(values['group'] ? { group: values['group'] } : {}),
      ...(values['attributes'] ? { attributes: String(values['attributes']).split(',') } : {}),
    };
    const response = await fetch(`${base}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text2 = await response.text();
    if (!response.ok) {
      let reason = text2;
      try {
        reason = (JSON.parse(text2) as { message?: string }).message ?? text2;
      } catch {
        // not JSON: show as is
      }
      throw new SearchFailedError(`search failed (HTTP ${response.status}): ${reason}`);
    }
    if (values['json']) {
      println(io.stdout, text2);
      return 0;
    }
    const result = JSON.parse(text2) as {
      generation: number;
      model: string;
      reason?: string;
      hits: { group: string; id: string; score: number; content: string }[];
    };
    const reason = result.reason ? `: ${result.reason}` : '';
    println(io.stdout, `${result.hits.length} hits (generation ${result.generation}, model ${result.model})${reason}`);
    for (const hit of result.hits) {
      const content = hit.content.length > 100 ? `${hit.content.slice(0, 97)}...` : hit.content;
      println(io.stdout, `${hit.score.toFixed(3)}  ${hit.group}/${hit.id}  ${content}`);
    }
    return 0;
  },
};
