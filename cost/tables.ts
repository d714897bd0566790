/**
 * The cost tables of docs/cost.md and the README, rendered from the measured usage
 * (`bench/results.json`) and the price table, by the same functions `ddb-faiss cost` prints
 * from, so a page and the command cannot disagree.
 *
 * @example
 * ```ts
 * const markdown = workloadsTable(readMeasuredUsage());
 * ```
 */
import {
  alternativeEstimates,
  COST_SERVICES,
  costDollars,
  type CostService,
  type ItemSize,
  indexBytesAt,
  MEASURED_ITEM_BYTES,
  vectorsPerItem,
  type MeasuredUsage,
  monthlyEstimate,
  type ServiceDollars,
  type Workload,
} from './estimate.ts';
import { parseDuration } from '../config/duration.ts';
import { defaultOf } from '../config/settings.ts';
import { DEFAULT_SCHEDULE_MINUTES } from '../infra/sizing.ts';
import { PRICES } from './prices.ts';

/** The three workloads every page prices. */
export const REFERENCE_WORKLOADS: readonly Workload[] = [
  { items: 100_000, changesPerDay: 1_000, queriesPerDay: 10_000 },
  { items: 1_000_000, changesPerDay: 10_000, queriesPerDay: 100_000 },
  { items: 10_000_000, changesPerDay: 100_000, queriesPerDay: 1_000_000 },
];

const SERVICE_NAMES: Readonly<Record<CostService, string>> = {
  lambda: 'Lambda',
  dynamodb: 'DynamoDB',
  stepFunctions: 'Step Functions',
  s3: 'S3',
  efs: 'EFS',
  apiGateway: 'API Gateway',
  sqs: 'SQS',
};

const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
/** Dollars as a bill shows them: cents below $100, whole dollars above, two figures below a cent. */
const CENTS = { minimumFractionDigits: 2, maximumFractionDigits: 2 } as const;
export const usd = (value: number): string =>
  value > 0 && value < 0.01
    ? `$${value.toPrecision(2)}`
    : `$${value.toLocaleString('en-US', value >= 100 ? { maximumFractionDigits: 0 } : CENTS)}`;
const count = (value: number): string => value.toLocaleString('en-US');
const runs = (value: number): string => (value === 1 ? 'one run' : `${count(value)} runs`);
/** The services that make at least 1% of the total, largest first. */
const split = (dollars: ServiceDollars): string =>
  COST_SERVICES.filter((service) => dollars[service] > 0 && dollars[service] >= dollars.total / 100)
    .sort((a, b) => dollars[b] - dollars[a])
    .map((service) => `${SERVICE_NAMES[service]} ${usd(dollars[service])}`)
    .join(', ') || 'nothing';

/** What a million items, a million queries, a month at rest and an idle month cost. */
export function measuredCostTable(measured: MeasuredUsage): string {
  const dollars = costDollars(measured, DEFAULT_SCHEDULE_MINUTES);
  const bytesPerItemAtMillion = (itemBytes: number): string =>
    count(Math.round(indexBytesAt(1e6 * vectorsPerItem(itemBytes, measured), measured).disk / 1e6));
  const { scenarios } = measured;
  const sizes = ['1kb', '30kb'] as const;
  const label = (size: ItemSize): string => `${MEASURED_ITEM_BYTES[size] / 1000} KB`;
  const indexed = sizes.flatMap((size) =>
    (['captured', 'backfill'] as const).map((mode) => {
      const scenario = scenarios[`${mode === 'captured' ? 'stream' : 'backfill'}_${size}`];
      const cost = dollars.per_million_items_indexed[size][mode];
      return [
        `1,000,000 items of ${label(size)}, ${mode === 'captured' ? 'captured as they are written' : 'backfilled'}`,
        usd(cost.total),
        split(cost),
        `${count(scenario.units)} items, ${runs(scenario.executions)}`,
      ];
    }),
  );
  const atRest = sizes.map((size) => {
    const cost = dollars.per_month_at_rest_per_million_items[size];
    return [
      `a month at rest, 1,000,000 items of ${label(size)}`,
      usd(cost.total),
      split(cost),
      `index ${bytesPerItemAtMillion(MEASURED_ITEM_BYTES[size])} bytes an item on EFS at 1,000,000 items`,
    ];
  });
  const rows = [
    ...indexed,
    [
      'a run, whatever it carries (one item)',
      usd(dollars.per_run_fixed.total),
      split(dollars.per_run_fixed),
      `${scenarios.small_run.transitions} state transitions, ${scenarios.small_run.runSeconds} s of work here`,
    ],
    [
      '1,000,000 queries, on demand',
      usd(dollars.per_million_queries.on_demand.total),
      split(dollars.per_million_queries.on_demand),
      `${count(scenarios.queries.units)} queries`,
    ],
    [
      '1,000,000 queries on provisioned concurrency',
      usd(dollars.per_million_queries.provisioned_concurrency.total),
      `${split(dollars.per_million_queries.provisioned_concurrency)}; plus ` +
        `${usd(dollars.per_million_queries.provisioned_instance_per_month)} a month per warm instance`,
      'the same queries',
    ],
    ...atRest,
    [
      `a month idle (nothing changed; a scheduled run every ${DEFAULT_SCHEDULE_MINUTES} min)`,
      usd(dollars.per_month_idle.dollars.total),
      split(dollars.per_month_idle.dollars),
      `${count(dollars.per_month_idle.runs)} runs of ${scenarios.idle_run.transitions} state transitions`,
    ],
  ];
  return table(['what', 'dollars', 'by service', 'measured on'], rows);
}

/** The three reference workloads on ddb-faiss, by part, beside the alternatives' totals. */
export function workloadsTable(measured: MeasuredUsage): string {
  const estimates = REFERENCE_WORKLOADS.map((workload) => monthlyEstimate(workload, measured));
  const alternatives = REFERENCE_WORKLOADS.map((workload) => alternativeEstimates(workload, measured));
  const header = [
    'a month of',
    ...REFERENCE_WORKLOADS.map(
      (workload) =>
        `${count(workload.items)} items, ${count(workload.changesPerDay)} changes and ` +
        `${count(workload.queriesPerDay)} queries a day`,
    ),
  ];
  const rows = [
    ...estimates[0]!.lines.map((line, i) => [
      `ddb-faiss: ${line.part}`,
      ...estimates.map((estimate) => usd(estimate.lines[i]!.usd)),
    ]),
    ['**ddb-faiss: total**', ...estimates.map((estimate) => `**${usd(estimate.total)}**`)],
    ...alternatives[0]!.map((alternative, i) => [
      `${alternative.name}${alternative.unpriced ? ' (see below)' : ''}`,
      ...alternatives.map((forWorkload) => usd(forWorkload[i]!.total)),
    ]),
  ];
  return table(header, rows);
}

/** The README's summary: each reference workload's total, on ddb-faiss and the alternatives. */
export function workloadsSummary(measured: MeasuredUsage): string {
  const rows = REFERENCE_WORKLOADS.map((workload) => {
    const estimate = monthlyEstimate(workload, measured);
    return [
      `${count(workload.items)} items; ${count(workload.changesPerDay)} changes, ` +
        `${count(workload.queriesPerDay)} queries a day`,
      usd(estimate.total),
      ...alternativeEstimates(workload, measured).map((alternative) => usd(alternative.total)),
    ];
  });
  return table(
    ['a month of (items of 1 KB)', 'ddb-faiss', 'S3 Vectors', "DynamoDB's vector index*", 'OpenSearch Serverless'],
    rows,
  );
}

/** The price table: each price, its source, where it was read and whether there. */
export function pricesTable(): string {
  return table(
    ['price', 'per', 'published on', 'read on (date)'],
    Object.values(PRICES).map((price) => [
      `$${price.usd < 0.001 ? price.usd.toExponential(4) : String(Number(price.usd.toPrecision(6)))}`,
      price.unit,
      price.source,
      price.atSource
        ? `that page (${price.read})`
        : `a secondary page, not verified: ${price.readFrom} (${price.read})`,
    ]),
  );
}

/**
 * The run spacing's effect (`captureRunSpacing`): each reference workload's month with a run per
 * burst of changes (no spacing, as before it existed) and at a few spacings, the default marked.
 */
export function runSpacingTable(measured: MeasuredUsage, spacings: readonly number[] = [0, 60, 300]): string {
  const fallback = parseDuration(defaultOf('captureRunSpacing')) / 1000;
  const header = [
    'a month of',
    ...spacings.map(
      (seconds) =>
        `${seconds === 0 ? 'no spacing (a run per burst)' : `${seconds} s`}${seconds === fallback ? ' (default)' : ''}`,
    ),
  ];
  const rows = REFERENCE_WORKLOADS.map((workload) => [
    `${count(workload.items)} items, ${count(workload.changesPerDay)} changes a day`,
    ...spacings.map((runSpacingSeconds) => {
      const estimate = monthlyEstimate({ ...workload, runSpacingSeconds }, measured);
      const runs = estimate.lines.find((line) => line.part === 'captured runs')!;
      return `${usd(estimate.total)} (runs ${usd(runs.usd)})`;
    }),
  ]);
  return table(header, rows);
}
