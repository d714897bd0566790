/** `ddb-faiss embed`: text lines on stdin, one JSON vector per line on stdout, in order. */
import { createInterface } from 'node:readline';
import { type Command, println } from './command.ts';

const LINES_PER_BATCH = 256;

export const embedCommand: Command = {
  name: 'embed',
  summary: 'embed text lines from stdin; prints one JSON array per line',
  settings: ['model'],
  examples: [
    { run: 'ddb-faiss embed < lines.txt', says: 'one JSON vector per line of lines.txt, by the active model' },
    { run: "echo 'a red bus' | ddb-faiss embed --model ./my-bundle", says: 'by a bundle of your own' },
  ],
  async run({ config }, io) {
    const { resolveModel } = await import('../../models/registry.ts');
    const { loadEmbedder } = await import('../../embedding/runtime.ts');
    const dir = await resolveModel(config.modelName, (line) => println(io.stderr, line));
    const embedder = await loadEmbedder(dir, { threads: config.embedThreads });
    let failures = 0;
    const flush = async (lines: string[]): Promise<void> => {
      for (const result of await embedder.embed(lines)) {
        if (result.ok) {
          println(io.stdout, JSON.stringify(Array.from(result.vector, (value) => Math.round(value * 1e7) / 1e7)));
        } else {
          failures += 1;
          println(io.stdout, JSON.stringify({ error: result.error }));
        }
      }
    };
    let pending: string[] = [];
    for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
      pending.push(line);
      if (pending.length >= LINES_PER_BATCH) {
        await flush(pending);
        pending = [];
      }
    }
    await flush(pending);
    return failures > 0 ? 1 : 0;
  },
};
