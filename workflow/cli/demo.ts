/**
 * `ddb-faiss demo` (what `npm start` runs): the main job end to end on the embedded stack.
 * Starts the local stack on free ports, imports passages of the State of the Union addresses
 * (public domain, delivered by npm), runs the indexer with its stages shown, searches the
 * index for a few questions, prints the status, and stops the stack, saying where to go next.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shellWord } from '../../config/advice.ts';
import { defaultOf } from '../../config/settings.ts';
import { sotuPassages } from '../demo-corpus.ts';
import { type Command, executeCommand, println, UsageError, waitForShutdownSignal } from './command.ts';
import { importCommand } from './import.ts';
import { runCommand } from './run.ts';
import { searchCommand } from './search.ts';
import { statusCommand } from './status.ts';

/** Questions whose best passages are easy to judge by eye, each from another era. */
export const DEMO_QUERIES = [
  'terrorists attacked our country on September 11',
  'health insurance for every American family',
  'the emancipation of slaves and the rebellion of the southern states',
  'unemployment and relief in the great depression',
  'satellites and rockets to explore outer space',
];

/** A search narrowed by an attribute and ranked by both rankings: its text and its flags. */
export const DEMO_FILTERED = {
  text: 'war overseas and the soldiers who fight it',
  args: ['--mode', 'hybrid', '--filter', 'year>=1945', '--attributes', 'year,party'],
} as const;

/** Resolves when a line is read from a terminal (Enter). */
const enterPressed = (stdin: NodeJS.ReadableStream): Promise<void> =>
  new Promise((resolve) => {
    stdin.once('data', () => {
      stdin.pause();
      resolve();
    });
    stdin.resume();
  });

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
    keep: {
      type: 'boolean',
      description:
        'keep the stack up after the demo, until Ctrl-C, to watch it in the monitor and try the commands it shows ' +
        '(in a terminal the demo asks; without one it stops unless this is given)',
    },
  },
  settings: ['data-dir'],
  examples: [
    { run: 'ddb-faiss demo', says: 'the whole job on 4,000 passages, in ./.ddb-faiss' },
    { run: 'ddb-faiss demo --items 500 --keep', says: 'a quicker look, the stack kept up to watch and try' },
  ],
  async run({ config: base, values }, io) {
    const { startLocalStack } = await import('../../local-stack/stack.ts');
    const { ensureModelPublished, localStackProps } = await import('../local-stack-props.ts');
    const count = Number(values['items']);
    if (!Number.isInteger(count) || count < 1)
      throw new UsageError(`--items must be a positive integer, got ${String(values['items'])}`);
    const config = { ...base, dynamodbPort: 0, s3Port: 0, stepFunctionsPort: 0, httpPort: 0 };
    const log = (line: string): void => println(io.stdout, line);
    // Kept up at the end: when asked, or when a person at a terminal can say when to stop.
    const terminal = (io.stdin as { isTTY?: boolean }).isTTY === true && io.stdout.isTTY === true;
    const keep = values['keep'] === true || terminal;
    log(`ddb-faiss demo: local stack in ${config.dataDir}`);
    const stack = await startLocalStack({ ...localStackProps(config), log });
    const monitor = `${stack.info.endpoints.http}/`;
    const after = keep
      ? 'the stack stays up after the demo until you stop it'
      : 'the stack stops when the demo ends: --keep keeps it';
    log(`monitor: ${monitor} (open it to watch the run; ${after})`);
    const work = mkdtempSync(path.join(tmpdir(), 'ddb-faiss-demo-'));
    try {
      await ensureModelPublished(stack.clients.s3, config, log);
      const file = path.join(work, 'sotu.jsonl');
      const passages = sotuPassages(count);
      writeFileSync(file, passages.map((passage) => JSON.stringify(passage)).join('\n'));
      // Every step is the command a user types, run as that command; --data-dir only when not the default.
      const flags = ['--data-dir', config.dataDir];
      const shownFlags = path.resolve(config.dataDir) === path.resolve(defaultOf('dataDir')) ? [] : flags;
      const step = async (command: Command, args: readonly string[], shown = args, note = ''): Promise<number> => {
        log(`\n$ ${['ddb-faiss', command.name, ...shown, ...shownFlags].map(shellWord).join(' ')}${note}`);
        return executeCommand(command, [...args, ...flags], io);
      };
      const note = `   (${passages.length} passages of State of the Union addresses, 1790-2021)`;
      if ((await step(importCommand, [file], ['sotu.jsonl'], note)) !== 0) return 1;
      if ((await step(runCommand, ['--wait'])) !== 0) return 1;
      for (const text of DEMO_QUERIES) await step(searchCommand, [text, '-k', '3']);
      await step(searchCommand, [DEMO_FILTERED.text, '-k', '3', ...DEMO_FILTERED.args]);
      await step(statusCommand, []);
      const example = passages[0]!;
      const next = (args: readonly string[]): string =>
        ['ddb-faiss', ...args, ...(args[0] === 'help' ? [] : shownFlags)].map(shellWord).join(' ');
      log('\nNext:');
      for (const [args, says] of [
        [['up'], `keeps the stack running; the monitor is then at ${monitor.replace(/:\d+\/$/, ':8603/')}`],
        [['import', 'items.jsonl'], 'your own items: {"id": ..., "group": ..., "content": ...} per line'],
        [['run', '--wait'], 'index what is pending, stage by stage'],
        [['search', 'a new president takes office', '--group', example.group], 'the most similar items of one group'],
        [['similar', example.group, example.id, '-k', '3'], 'more like an item'],
        [['help'], 'every command, and `ddb-faiss help <command>` for its flags and examples'],
      ] as const)
        log(`  ${next(args)}\n      ${says}`);
      if (keep) {
        log(
          `\nThe stack is up: the monitor at ${monitor}, and the commands above work against it. ` +
            (terminal ? 'Press Enter (or Ctrl-C) to stop it.' : 'Ctrl-C stops it.'),
        );
        await Promise.race([waitForShutdownSignal(), ...(terminal ? [enterPressed(io.stdin)] : [])]);
      }
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
      await stack.close();
    }
  },
};
