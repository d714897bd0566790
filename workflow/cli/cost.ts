/**
 * `ddb-faiss cost --items N --changes-per-day N --queries-per-day N`: a month of a workload on
 * ddb-faiss, by part, from AWS's published prices (`cost/prices.ts`) and what ddb-faiss's runs
 * and searches were measured to use (`npm run bench:cost`, `bench/results.json`); `--alternatives`
 * prices the same workload on S3 Vectors, DynamoDB's vector indexes and OpenSearch Serverless.
 */
import { MAX_ITEM_BYTES } from '../../aws/item-size.ts';
import { type AlternativeEstimate, type Estimate, type Workload, WORKLOAD_DEFAULTS } from '../../cost/estimate.ts';
import { usd } from '../../cost/tables.ts';
import { type Command, JSON_OPTION, println, UsageError } from './command.ts';

/** A size in bytes: `1000`, `1KB`, `30 KB`, `0.5MB` (KB = 1,000 bytes, as the bench measures them). */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? 'B').toUpperCase();
  return Number(match[1]) * (unit === 'MB' ? 1e6 : unit === 'KB' ? 1e3 : 1);
}

/** The workload the flags describe, or every flag that is wrong. */
export function workloadOf(values: Readonly<Record<string, unknown>>): Workload {
  const problems: string[] = [];
  const whole = (flag: string, required: boolean): number | undefined => {
    const raw = values[flag];
    if (raw === undefined) {
      if (required) problems.push(`--${flag} is required (a whole number >= 0)`);
      return undefined;
    }
    const value = Number(String(raw).replace(/[_,]/g, ''));
    if (!Number.isInteger(value) || value < 0)
      problems.push(`--${flag} must be a whole number >= 0, got "${String(raw)}"`);
    return value;
  };
  const items = whole('items', true);
  const changesPerDay = whole('changes-per-day', true);
  const queriesPerDay = whole('queries-per-day', true);
  const provisionedConcurrency = whole('provisioned-concurrency', false);
  const scheduleMinutes = whole('schedule-minutes', false);
  const searchColdStartsPerDay = whole('search-cold-starts-per-day', false);
  const itemBytes =
    values['item-size'] === undefined ? WORKLOAD_DEFAULTS.itemBytes : parseBytes(String(values['item-size']));
  if (itemBytes === undefined || itemBytes <= 0 || itemBytes > MAX_ITEM_BYTES)
    problems.push(`--item-size must be a size up to 400KB (1000, 1KB, 30KB), got "${String(values['item-size'])}"`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  // Each given or its default: the checks above refused every wrong or missing one.
  return {
    items: items!,
    changesPerDay: changesPerDay!,
    queriesPerDay: queriesPerDay!,
    itemBytes: itemBytes!,
    ...(provisionedConcurrency === undefined ? {} : { provisionedConcurrency }),
    ...(scheduleMinutes === undefined ? {} : { scheduleMinutes }),
    ...(searchColdStartsPerDay === undefined ? {} : { searchColdStartsPerDay }),
  };
}

const count = (value: number): string => value.toLocaleString('en-US');

/** The estimate as the text `ddb-faiss cost` prints. */
export function estimateText(estimate: Estimate, alternatives: readonly AlternativeEstimate[] = []): string[] {
  const { workload } = estimate;
  const lines = [
    `A month of ${count(workload.items)} items of ${count(workload.itemBytes / 1000)} KB, ` +
      `${count(workload.changesPerDay)} changes and ${count(workload.queriesPerDay)} queries a day ` +
      `(us-east-1 prices; usage measured ${estimate.measured.slice(0, 10)} by npm run bench:cost):`,
  ];
  const width = Math.max(...estimate.lines.map((line) => line.part.length), 'total'.length) + 2;
  const detailWidth = Math.max(...estimate.lines.map((line) => line.detail.length)) + 2;
  for (const line of estimate.lines)
    lines.push(`  ${line.part.padEnd(width)}${line.detail.padEnd(detailWidth)}${usd(line.usd).padStart(12)}`);
  lines.push(`  ${'total'.padEnd(width)}${''.padEnd(detailWidth)}${usd(estimate.total).padStart(12)}`);
  for (const alternative of alternatives) {
    lines.push('', `${alternative.name}: ${usd(alternative.total)} a month`);
    for (const line of alternative.lines) lines.push(`  ${line.part.padEnd(60)}${usd(line.usd).padStart(12)}`);
    if (alternative.unpriced) lines.push(`  not priced: ${alternative.unpriced}`);
  }
  return lines;
}

export const costCommand: Command = {
  name: 'cost',
  summary: "a month of a workload on AWS, by part, from AWS's prices and the usage the bench measured",
  options: {
    items: { type: 'string', value: 'N', description: 'items indexed (required)' },
    'item-size': {
      type: 'string',
      value: 'SIZE',
      default: `${WORKLOAD_DEFAULTS.itemBytes / 1000}KB`,
      description: "the items' average size: 1000, 1KB, 30KB",
    },
    'changes-per-day': { type: 'string', value: 'N', description: 'items written or deleted a day (required)' },
    'queries-per-day': { type: 'string', value: 'N', description: 'searches a day (required)' },
    'provisioned-concurrency': {
      type: 'string',
      value: 'N',
      default: String(WORKLOAD_DEFAULTS.provisionedConcurrency),
      description: "search instances kept warm (the stack's searchProvisionedConcurrency)",
    },
    'schedule-minutes': {
      type: 'string',
      value: 'N',
      default: String(WORKLOAD_DEFAULTS.scheduleMinutes),
      description: "minutes between scheduled runs, 0 for none (the stack's scheduleMinutes)",
    },
    'search-cold-starts-per-day': {
      type: 'string',
      value: 'N',
      default: String(WORKLOAD_DEFAULTS.searchColdStartsPerDay),
      description:
        'new search instances a day, each loading the index and the model from EFS (Lambda does not publish when ' +
        'it starts or retires one: the default is an assumption)',
    },
    alternatives: {
      type: 'boolean',
      description: "also price the workload on S3 Vectors, DynamoDB's vector indexes and OpenSearch Serverless",
    },
    json: JSON_OPTION,
  },
  examples: [
    {
      run: 'ddb-faiss cost --items 1000000 --changes-per-day 10000 --queries-per-day 100000',
      says: 'the month by part: indexing, runs, search, storage, schedule',
    },
    {
      run: 'ddb-faiss cost --items 1000000 --changes-per-day 10000 --queries-per-day 100000 --alternatives',
      says: "beside S3 Vectors, DynamoDB's vector indexes and OpenSearch Serverless",
    },
    {
      run: 'ddb-faiss cost --items 100000 --item-size 30KB --changes-per-day 1000 --queries-per-day 10000',
      says: 'items of 30 KB: a vector for each passage',
    },
  ],
  settings: ['capture-run-spacing'],
  async run({ config, values }, io) {
    const { alternativeEstimates, monthlyEstimate } = await import('../../cost/estimate.ts');
    const { readMeasuredUsage } = await import('../../cost/measured.ts');
    const { parseDuration } = await import('../../config/duration.ts');
    const workload = { ...workloadOf(values), runSpacingSeconds: parseDuration(config.captureRunSpacing) / 1000 };
    const measured = readMeasuredUsage();
    const estimate = monthlyEstimate(workload, measured);
    const alternatives = values['alternatives'] ? alternativeEstimates(workload, measured) : [];
    if (values['json']) println(io.stdout, JSON.stringify({ ...estimate, alternatives }, null, 2));
    else for (const line of estimateText(estimate, alternatives)) println(io.stdout, line);
    return 0;
  },
};
