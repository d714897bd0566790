/**
 * `ddb-faiss demo` (what `npm start` runs): the main job end to end on the embedded stack.
 * Starts the local stack on free ports, imports passages of the State of the Union addresses
 * (public domain, delivered by npm), runs the indexer with its stages shown, searches the
 * index for a few questions, prints the status, and stops the stack, saying where to go next.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sotuPassages } from '../demo-corpus.ts';
import { type Command, executeCommand, println, UsageError } from './command.ts';
import { importCommand } from './import.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';

/** Questions whose best passages are easy to judge by eye, each from another era. */
export const DEMO_QUERIES = [
  'terrorists attacked our country on September 11',
  'health insurance for every American family',
  'the emancipation of slaves and the rebellion of the southern states',
  'unemployment and relief in the great depression',
  'satellites and rockets to explore outer space',
];

/** A search narrowed by an attribute and ranked by both rankings, as `ddb-faiss search` takes it. */
export const DEMO_FILTERED = {
  text: 'war overseas and the soldiers who fight it',
  cli: "--mode hybrid --filter 'year>=1945'",
  request: { mode: 'hybrid', filter: { year: { gte: 1945 } } },
} as const;

/** The start of a passage, for one line of output. */
const excerpt = (text: string): string => (text.length > 160 ? `${text.slice(0, 157)}...` : text);

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole job on the embedded stack: import, index, search (what `npm start` runs)',
  options: {
    items: {
      type: 'string',
      default: '4000',
      value: 'N',
      description: 'how many State of the Union passages to import and index',
    },
  },
  settings: ['data-dir'],
  examples: [
    { run: 'ddb-faiss demo', says: 'the whole job on 4,000 passages, in ./.ddb-faiss' },
    { run: 'ddb-faiss demo --items 500 --data-dir /tmp/demo', says: 'a quicker look, somewhere else' },
  ],
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
    log(`monitor: ${stack.info.endpoints.http}/ (open it to watch the run; the demo stops the stack when it ends)`);
    const work = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-demo-'));
    try {
      await ensureModelPublished(stack.clients.s3, config, log);
      const file = path.join(work, 'sotu.jsonl');
      const passages = sotuPassages(count);
      writeFileSync(file, passages.map((passage) => JSON.stringify(passage)).join('\n'));
      const flags = ['--data-dir', config.dataDir];
      log(`\n$ ddb-faiss import sotu.jsonl   (${passages.length} passages of State of the Union addresses, 1790-2021)`);
      if ((await executeCommand(importCommand, [file, ...flags], io)) !== 0) return 1;
      log('\n$ ddb-faiss run --wait');
      if ((await executeCommand(runCommand, ['--wait', ...flags], io)) !== 0) return 1;
      const reader = new IndexReader(config.efsRoot, config.indexLayout);
      const searches = [
        ...DEMO_QUERIES.map((text) => ({ text, cli: '', request: {} })),
        { ...DEMO_FILTERED, cli: ` ${DEMO_FILTERED.cli}` },
      ];
      for (const { text, cli, request } of searches) {
        const result = await search({ config, clients: stack.clients }, reader, { text, k: 3, ...request });
        log(`\nsearch "${text}"${cli} (generation ${result.generation}, model ${result.model})`);
        for (const hit of result.hits)
          log(`  ${hit.score.toFixed(3)}  ${hit.group}, ${hit.id.slice(0, 4)}: ${excerpt(hit.content)}`);
      }
      log('\n$ ddb-faiss status');
      await executeCommand(statusCommand, flags, io);
      log('\nNext:');
      log('  npx ddb-faiss up                      keeps the stack running; the monitor is at http://127.0.0.1:8603/');
      log('  npx ddb-faiss import items.jsonl      your own items: {"id": ..., "group": ..., "content": ...} per line');
      log('  npx ddb-faiss run --wait              index what is pending, stage by stage');
      log('  npx ddb-faiss search "text" --group G  the most similar items (in one group)');
      log(
        '  npx ddb-faiss search "text" --filter \'year>=1945\' --mode hybrid   narrowed by an attribute, both rankings',
      );
      log('  npx ddb-faiss similar GROUP ID         more like an item');
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
      await stack.close();
    }
  },
};
