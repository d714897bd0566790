/**
 * `ddb-faiss demo` (what `npm start` runs): the main job end to end on the embedded stack.
 * Starts the local stack on free ports, imports sentences (the STS Benchmark's when present,
 * otherwise generated ones), runs the indexer with its stages shown, searches the index for
 * a few queries, prints the status, and stops the stack.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readSts, stsDir } from '../../models/sts.ts';
import { type Command, executeCommand, println, UsageError } from './command.ts';
import { importCommand } from './import.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';

const QUERIES = [
  'a man is playing music',
  'a dog runs through the grass',
  'a woman is slicing vegetables',
  'someone is cooking food in a kitchen',
];

function demoSentences(count: number): string[] {
  const file = path.join(stsDir(), 'sts-train.csv');
  if (existsSync(file)) {
    const unique = [...new Set(readSts(file).flatMap((pair) => [pair.first, pair.second]))];
    return unique.slice(0, count);
  }
  const subjects = ['A man', 'A woman', 'The child', 'A dog', 'The cat', 'A farmer', 'The pilot', 'A chef'];
  const verbs = ['is playing', 'is cooking', 'is reading', 'is painting', 'is riding', 'is watching'];
  const objects = ['a guitar', 'the dinner', 'a book', 'the fence', 'a horse', 'a movie', 'the piano', 'a bicycle'];
  return Array.from(
    { length: count },
    (_, i) => `${subjects[i % 8]} ${verbs[Math.floor(i / 8) % 6]} ${objects[Math.floor(i / 48) % 8]} (${i}).`,
  );
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole job on the embedded stack: import, index, search (what `npm start` runs)',
  usage: 'ddb-faiss demo [--items N] [--data-dir DIR]',
  options: { items: { type: 'string', default: '2000' } },
  async run({ config: base, values }, io) {
    const { startLocalStack } = await import('../../local-stack/stack.ts');
    const { IndexReader } = await import('../../search/index-reader.ts');
    const { search } = await import('../../search/query.ts');
    const { ensureModelPublished, localStackProps } = await import('../local-stack-props.ts');
    const count = Number(values['items']);
    if (!Number.isInteger(count) || count < 1)
      throw new UsageError(`--items must be a positive integer, got ${String(values['items'])}`);
    const config = { ...base, dynamodbPort: 0, s3Port: 0, stepFunctionsPort: 0, httpPort: 0 };
    const log = (line: string): void => println(io.stdout, line);
    log(`ddb-faiss demo: local stack in ${config.dataDir}`);
    const stack = await startLocalStack({ ...localStackProps(config), log });
    const work = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-demo-'));
    try {
      await ensureModelPublished(stack.clients.s3, config, log);
      const file = path.join(work, 'items.jsonl');
      writeFileSync(
        file,
        demoSentences(count)
          .map((content, i) => JSON.stringify({ id: `sentence-${i}`, group: 'demo', content }))
          .join('\n'),
      );
      const flags = ['--data-dir', config.dataDir];
      log(`\n$ ddb-faiss import items.jsonl   (${count} sentences)`);
      if ((await executeCommand(importCommand, [file, ...flags], io)) !== 0) return 1;
      log('\n$ ddb-faiss run --wait');
      if ((await executeCommand(runCommand, ['--wait', ...flags], io)) !== 0) return 1;
      const reader = new IndexReader(config.efsRoot, config.indexLayout);
      for (const query of QUERIES) {
        const result = await search({ config, clients: stack.clients }, reader, { text: query, k: 3 });
        log(`\nsearch "${query}" (generation ${result.generation}, model ${result.model})`);
        for (const hit of result.hits) log(`  ${hit.score.toFixed(3)}  ${hit.content}`);
      }
      log('\n$ ddb-faiss status');
      await executeCommand(statusCommand, flags, io);
      log('\nNext: `npx ddb-faiss up` keeps the stack running; then `npx ddb-faiss import`, `run --wait`, `status`.');
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
      await stack.close();
    }
  },
};
