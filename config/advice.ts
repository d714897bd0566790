/**
 * The ddb-faiss commands a message tells a user to run, defined once. Every error, status line
 * and hint that says what to run takes its command from here, so each is a command that runs as
 * printed: a test runs every one (`test/integration/cli-advice.test.ts`).
 *
 * @example
 * ```ts
 * `the model is not published: run ${advise('publishModel', 'default')}`
 * // the model is not published: run `ddb-faiss model publish default`
 * ```
 */

/** Each piece of advice: the arguments of the command it names. */
export const ADVICE = {
  /** Rebuild the index from the table (after a model change, or to heal a damaged index). */
  backfill: () => ['backfill', '--wait'],
  /** Index what is pending and watch it. */
  run: () => ['run', '--wait'],
  /** Publish a model bundle as the active one. */
  publishModel: (model: string) => ['model', 'publish', model],
  /** Fetch a model from the Hugging Face hub. */
  fetchModel: (repository: string) => ['model', 'fetch', repository],
  /** Start the local stack, for a data directory. */
  startStack: (dataDir?: string) => ['up', ...(dataDir === undefined ? [] : ['--data-dir', dataDir])],
  /** See what a deploy would do, offline. */
  dryRunDeploy: () => ['deploy', '--dry-run'],
  /** Send the stream records the capture step could not take through it again. */
  redriveCapture: () => ['capture', 'redrive'],
  /** Check every file of the published index. */
  verify: () => ['verify'],
  /** The list of commands. */
  help: () => ['help'],
  /** One command's flags and examples. */
  commandHelp: (command: string) => ['help', command],
  /** Every configuration flag. */
  helpSettings: () => ['help', 'settings'],
} as const satisfies Record<string, (...args: never[]) => readonly string[]>;

export type Advice = keyof typeof ADVICE;

/** One argument as a shell takes it back: quoted when it holds anything but plain characters. */
export const shellWord = (word: string): string =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

/** The command line of a piece of advice: `ddb-faiss backfill --wait`. */
export const adviceCommand = <K extends Advice>(advice: K, ...args: Parameters<(typeof ADVICE)[K]>): string =>
  ['ddb-faiss', ...(ADVICE[advice] as (...given: typeof args) => readonly string[])(...args).map(shellWord)].join(' ');

/** A piece of advice as a message shows it, in backticks: `` `ddb-faiss backfill --wait` ``. */
export const advise = <K extends Advice>(advice: K, ...args: Parameters<(typeof ADVICE)[K]>): string =>
  `\`${adviceCommand(advice, ...args)}\``;
