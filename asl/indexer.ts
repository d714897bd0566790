/**
 * Renders `asl/indexer.asl.json`, the one indexer definition, for a deployment: the
 * `${...FunctionArn}` placeholders become Lambda ARNs and the Map's MaxConcurrency is set.
 * The local stack and the CDK app both call {@link renderIndexerDefinition}.
 */
import { readFileSync } from 'node:fs';

export const INDEXER_ASL_FILE = new URL('./indexer.asl.json', import.meta.url);

/** The Lambda functions the indexer's Task states call, by placeholder. */
export const INDEXER_TASKS = {
  LeaseFunctionArn: 'lease',
  BootstrapFunctionArn: 'bootstrap',
  PlanFunctionArn: 'plan',
  EmbedFunctionArn: 'embed',
  MergeFunctionArn: 'merge',
  ClearFunctionArn: 'clear',
  ReleaseFunctionArn: 'release',
} as const;

export type IndexerPlaceholder = keyof typeof INDEXER_TASKS;

export interface IndexerDefinitionProps {
  /** The ARN each placeholder becomes. */
  readonly functionArns: Readonly<Record<IndexerPlaceholder, string>>;
  /** Most embed batches at once. @default 2 */
  readonly maxConcurrency?: number;
}

/** The definition's text as in the file. */
export function indexerDefinitionTemplate(): string {
  return readFileSync(INDEXER_ASL_FILE, 'utf8');
}

/** The placeholders a definition text uses. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]!))];
}

/** Renders the definition. @throws when a placeholder has no value */
export function renderIndexerDefinition(props: IndexerDefinitionProps): string {
  const text = indexerDefinitionTemplate().replace(/\$\{(\w+)\}/g, (_match, name: string) => {
    const arn = props.functionArns[name as IndexerPlaceholder];
    if (!arn) throw new Error(`no value for \${${name}} in ${INDEXER_ASL_FILE.pathname}`);
    return arn;
  });
  const definition = JSON.parse(text) as { States: Record<string, { MaxConcurrency?: number }> };
  definition.States['Embed batches']!.MaxConcurrency = props.maxConcurrency ?? 2;
  return JSON.stringify(definition, null, 2);
}

/** ARNs for the local stack: function names `ddb-faiss-<task>` in a fake account. */
export function localFunctionArns(region: string): Record<IndexerPlaceholder, string> {
  return Object.fromEntries(
    Object.entries(INDEXER_TASKS).map(([placeholder, task]) => [placeholder, `arn:aws:lambda:${region}:000000000000:function:ddb-faiss-${task}`]),
  ) as Record<IndexerPlaceholder, string>;
}
