/**
 * What ddb-faiss costs, in dollars, derived from what its runs and searches were measured to use
 * (`npm run bench:cost`, `bench/results.json`) and the price table (`cost/prices.ts`): the bench's
 * dollar figures, `ddb-faiss cost`'s monthly estimate, and the alternatives priced beside it
 * (docs/cost.md). Nothing here is measured or priced twice: each figure is one of those two
 * multiplied out.
 *
 * @example
 * ```ts
 * const estimate = monthlyEstimate({ items: 1e6, itemBytes: 1000, changesPerDay: 1e4, queriesPerDay: 1e5 }, measured);
 * for (const line of estimate.lines) console.log(line.part, line.usd);
 * ```
 */
import type { FunctionName } from '../asl/tasks.ts';
import type { RequestTally } from '../aws/request-meter.ts';
import { parseDuration } from '../config/duration.ts';
import { defaultOf } from '../config/settings.ts';
import { DEFAULT_SCHEDULE_MINUTES, FUNCTIONS } from '../infra/sizing.ts';
import { PRICES, UNPRICED } from './prices.ts';

/** The services a bill is split by. */
export const COST_SERVICES = ['lambda', 'dynamodb', 'stepFunctions', 's3', 'efs', 'apiGateway', 'sqs'] as const;
export type CostService = (typeof COST_SERVICES)[number];
/** Dollars by service. */
export type ServiceDollars = Readonly<Record<CostService, number>> & { readonly total: number };

/** One function's invocations and the seconds they ran. */
export interface LambdaUse {
  readonly invocations: number;
  readonly seconds: number;
}

/** What one measured scenario used. */
export interface ScenarioUsage {
  /** Items (or queries) the scenario handled: per-unit figures divide by it. */
  readonly units: number;
  /** Wall-clock seconds on the bench machine. */
  readonly seconds: number;
  /** Every AWS request, as the SDK clients sent them. */
  readonly requests: readonly RequestTally[];
  /** Each function's invocations and time, as the local engine called the handlers. */
  readonly lambda: Readonly<Partial<Record<FunctionName, LambdaUse>>>;
  readonly efsReadBytes: number;
  readonly efsWrittenBytes: number;
  /** Step Functions state transitions: the runs' and their Map Run children's. */
  readonly transitions: number;
  readonly executions: number;
  readonly childExecutions: number;
  /** The runs' working seconds, start to stop less their Wait states (debounce, spacing). */
  readonly runSeconds: number;
  /** Requests through the HTTP API (searches). */
  readonly httpRequests: number;
}

/** The index at rest after a scenario. */
export interface AtRest {
  readonly items: number;
  /** The index on EFS (every generation kept), without the model bundle. */
  readonly indexBytes: number;
  /** The model bundle on EFS (and, as its source, in S3). */
  readonly modelBytes: number;
  /** ddb-faiss's objects in S3 (model bundle, run files, Map results). */
  readonly s3Bytes: number;
  /** ddb-faiss's own items in the table (change markers, lease, index record). */
  readonly ownItemBytes: number;
  readonly ownItems: number;
  /** What a new search instance reads from EFS to load the index (a cold start), the model aside. */
  readonly searchLoadBytes: number;
}

/**
 * The index at a million vectors (`npm run bench -- --scale`, `bench/results-scale.json`): its
 * segments are IVF-PQ there, so a vector takes fewer bytes on EFS and far fewer to load than in the
 * small flat index the cost bench measures.
 */
export interface IndexAtScale {
  readonly vectors: number;
  /** Bytes on EFS a vector (every file of a generation). */
  readonly diskBytesPerVector: number;
  /** Bytes a search instance reads and holds a vector (codes and key maps). */
  readonly searchBytesPerVector: number;
  readonly date: string;
}

/** The scenarios `npm run bench:cost` measures. */
export const COST_SCENARIOS = [
  'stream_1kb',
  'backfill_1kb',
  'stream_30kb',
  'backfill_30kb',
  'small_run',
  'idle_run',
  'queries',
] as const;
export type CostScenario = (typeof COST_SCENARIOS)[number];

/** The item sizes measured, in bytes. */
export const MEASURED_ITEM_BYTES = { '1kb': 1_000, '30kb': 30_000 } as const;
export type ItemSize = keyof typeof MEASURED_ITEM_BYTES;

/** What `npm run bench:cost` measured. */
export interface MeasuredUsage {
  readonly date: string;
  readonly scenarios: Readonly<Record<CostScenario, ScenarioUsage>>;
  readonly atRest: Readonly<Record<ItemSize, AtRest>>;
  readonly atScale: IndexAtScale;
}

/** How a deployment is priced (x86_64, the stack's default architecture). */
export interface Deployment {
  /** Searches run on provisioned concurrency. @default false */
  readonly provisioned?: boolean;
}

const GB = 1e9;
const GIB = 2 ** 30;
const DAYS_PER_MONTH = 30;
const SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400;

/** S3 requests billed at the PUT rate; deletes are free; the rest at the GET rate. */
const S3_WRITE_OPERATIONS = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'ListObjectsV2',
  'ListObjects',
  'ListBuckets',
]);
const S3_FREE_OPERATIONS = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload']);

/**
 * Write units of a PartiQL statement whose consumption DynamoDB Local does not report: the clear
 * stage's statements remove a change marker's pending attribute, which `npm run bench:capture-cost`
 * measured as 2 units (the marker, under 1 KB, and its entry in the sparse index).
 */
export const UNREPORTED_STATEMENT_WRITE_UNITS = 2;

/** Dollars by service, each from `dollarsOf`, with their total. */
const byService = (dollarsOf: (service: CostService) => number): ServiceDollars => {
  const parts = Object.fromEntries(COST_SERVICES.map((service) => [service, dollarsOf(service)])) as Record<
    CostService,
    number
  >;
  return { ...parts, total: COST_SERVICES.reduce((sum, service) => sum + parts[service], 0) };
};
/** Dollars of the given services only. */
const only = (parts: Partial<Record<CostService, number>>): ServiceDollars =>
  byService((service) => parts[service] ?? 0);

/** What a function's run costs per GB-second, on demand or on provisioned concurrency. */
function gbSecondPrice(name: FunctionName, deployment: Deployment): number {
  return name === 'search' && deployment.provisioned
    ? PRICES.lambdaProvisionedDurationGbSecondX86.usd
    : PRICES.lambdaGbSecondX86.usd;
}

/**
 * A scenario's usage in dollars, by service. DynamoDB Streams reads are free when a Lambda
 * trigger makes them (the local stack's stream follower stands in for it); Step Functions API
 * calls are free (its transitions are billed).
 */
export function priceUsage(usage: ScenarioUsage, deployment: Deployment = {}): ServiceDollars {
  const sum = <T>(rows: readonly T[], dollarsOf: (row: T) => number): number =>
    rows.reduce((total, row) => total + dollarsOf(row), 0);
  const requests = (service: string) => usage.requests.filter((row) => row.service === service);
  return only({
    lambda: sum(
      Object.entries(usage.lambda) as [FunctionName, LambdaUse][],
      ([name, use]) =>
        use.invocations * PRICES.lambdaRequest.usd +
        use.seconds * (FUNCTIONS[name].memory / 1024) * gbSecondPrice(name, deployment),
    ),
    dynamodb: sum(
      requests('DynamoDB'),
      (row) =>
        row.readUnits * PRICES.dynamodbReadUnit.usd +
        (row.writeUnits + row.unreportedItems * UNREPORTED_STATEMENT_WRITE_UNITS) * PRICES.dynamodbWriteUnit.usd,
    ),
    s3: sum(
      requests('S3').filter((row) => !S3_FREE_OPERATIONS.has(row.operation)),
      (row) =>
        row.requests * (S3_WRITE_OPERATIONS.has(row.operation) ? PRICES.s3WriteRequest.usd : PRICES.s3ReadRequest.usd),
    ),
    sqs: sum(requests('SQS'), (row) => row.requests * PRICES.sqsRequest.usd),
    stepFunctions: usage.transitions * PRICES.stepFunctionsTransition.usd,
    efs: (usage.efsReadBytes / GB) * PRICES.efsReadGb.usd + (usage.efsWrittenBytes / GB) * PRICES.efsWriteGb.usd,
    apiGateway: usage.httpRequests * PRICES.apiGatewayHttpRequest.usd,
  });
}

const scale = (dollars: ServiceDollars, factor: number): ServiceDollars =>
  byService((service) => dollars[service] * factor);
const add = (...all: ServiceDollars[]): ServiceDollars =>
  byService((service) => all.reduce((sum, dollars) => sum + dollars[service], 0));

/**
 * Dollars per item a stream-captured change costs beyond the runs that carry it: the scenario's
 * cost less its runs' fixed part (a one-item run's cost, each), never below zero for a service.
 */
function perChangedItem(measured: MeasuredUsage, size: ItemSize): ServiceDollars {
  const scenario = measured.scenarios[size === '1kb' ? 'stream_1kb' : 'stream_30kb'];
  const all = priceUsage(scenario);
  const runs = scale(priceUsage(measured.scenarios.small_run), scenario.executions);
  return byService((service) => Math.max(0, all[service] - runs[service]) / scenario.units);
}

/** `at1kb` and `at30kb` drawn through the item's size (bytes), linearly, never below the 1 KB figure. */
function bySize<T extends number>(itemBytes: number, at1kb: T, at30kb: T): number {
  const span = MEASURED_ITEM_BYTES['30kb'] - MEASURED_ITEM_BYTES['1kb'];
  const t = Math.max(0, (itemBytes - MEASURED_ITEM_BYTES['1kb']) / span);
  return at1kb + (at30kb - at1kb) * t;
}
const dollarsBySize = (itemBytes: number, at1kb: ServiceDollars, at30kb: ServiceDollars): ServiceDollars =>
  byService((service) => bySize(itemBytes, at1kb[service], at30kb[service]));

/** Vectors an item of `itemBytes` has: one for a short item, one a passage for a long one (as measured). */
export function vectorsPerItem(itemBytes: number, measured: MeasuredUsage): number {
  const perItem = (rest: AtRest): number => rest.indexBytes / rest.items;
  return bySize(itemBytes, 1, perItem(measured.atRest['30kb']) / perItem(measured.atRest['1kb']));
}

/**
 * Bytes a vector takes at `vectors` in the index, from the small index measured (flat, 10,000
 * vectors) to the index at a million (IVF-PQ), drawn through the logarithm of the count between
 * them, and the million's figure beyond it.
 */
function bytesPerVectorAt(
  vectors: number,
  small: { vectors: number; bytes: number },
  large: { vectors: number; bytes: number },
): number {
  if (vectors <= small.vectors) return small.bytes;
  if (vectors >= large.vectors) return large.bytes;
  const t = Math.log(vectors / small.vectors) / Math.log(large.vectors / small.vectors);
  return small.bytes + (large.bytes - small.bytes) * t;
}

/** The index's bytes on EFS, and what a search instance reads to load it, at `vectors`. */
export function indexBytesAt(vectors: number, measured: MeasuredUsage): { disk: number; searchLoad: number } {
  const small = measured.atRest['1kb'];
  const { atScale } = measured;
  const at = (smallBytes: number, bytesPerVectorAtScale: number): number =>
    vectors *
    bytesPerVectorAt(
      vectors,
      { vectors: small.items, bytes: smallBytes / small.items },
      { vectors: atScale.vectors, bytes: bytesPerVectorAtScale },
    );
  return {
    disk: at(small.indexBytes, atScale.diskBytesPerVector),
    searchLoad: at(small.searchLoadBytes, atScale.searchBytesPerVector),
  };
}

/** What stays whatever the items: the model bundle on EFS and in S3, and ddb-faiss's other S3 objects. */
function fixedAtRest(rest: AtRest): ServiceDollars {
  return only({
    efs: (rest.modelBytes / GB) * PRICES.efsStorageGbMonth.usd,
    s3: (rest.s3Bytes / GB) * PRICES.s3StorageGbMonth.usd,
  });
}

/**
 * A month at rest of `items` of `itemBytes`: the index on EFS (at its size for that many vectors),
 * ddb-faiss's own items in the table (a change marker an item, as measured), and what stays
 * whatever the items (the model bundle on EFS and in S3).
 */
export function atRestMonth(items: number, itemBytes: number, measured: MeasuredUsage): ServiceDollars {
  const small = measured.atRest['1kb'];
  const index = indexBytesAt(items * vectorsPerItem(itemBytes, measured), measured);
  return add(
    only({
      efs: (index.disk / GB) * PRICES.efsStorageGbMonth.usd,
      dynamodb: ((items * small.ownItemBytes) / small.items / GB) * PRICES.dynamodbStorageGbMonth.usd,
    }),
    fixedAtRest(small),
  );
}

/** A month of one search instance kept warm by provisioned concurrency. */
export const provisionedInstanceMonth = (): number =>
  (FUNCTIONS.search.memory / 1024) * SECONDS_PER_MONTH * PRICES.lambdaProvisionedGbSecondX86.usd;

/** The schedule's runs a month, one every `minutes`. */
const scheduledRunsPerMonth = (minutes: number): number => (minutes > 0 ? (DAYS_PER_MONTH * 1_440) / minutes : 0);

/** The bench's dollar figures (`bench/results.json`'s `cost.dollars`). */
export function costDollars(measured: MeasuredUsage, scheduleMinutes: number) {
  const perMillion = (scenario: CostScenario): ServiceDollars =>
    scale(priceUsage(measured.scenarios[scenario]), 1e6 / measured.scenarios[scenario].units);
  const queries = measured.scenarios.queries;
  return {
    per_million_items_indexed: {
      '1kb': { captured: perMillion('stream_1kb'), backfill: perMillion('backfill_1kb') },
      '30kb': { captured: perMillion('stream_30kb'), backfill: perMillion('backfill_30kb') },
    },
    per_run_fixed: priceUsage(measured.scenarios.small_run),
    per_million_queries: {
      on_demand: scale(priceUsage(queries), 1e6 / queries.units),
      provisioned_concurrency: scale(priceUsage(queries, { provisioned: true }), 1e6 / queries.units),
      provisioned_instance_per_month: provisionedInstanceMonth(),
    },
    per_month_at_rest_per_million_items: {
      '1kb': atRestMonth(1e6, MEASURED_ITEM_BYTES['1kb'], measured),
      '30kb': atRestMonth(1e6, MEASURED_ITEM_BYTES['30kb'], measured),
    },
    per_month_idle: {
      schedule_minutes: scheduleMinutes,
      runs: scheduledRunsPerMonth(scheduleMinutes),
      dollars: scale(priceUsage(measured.scenarios.idle_run), scheduledRunsPerMonth(scheduleMinutes)),
    },
  };
}

/** A workload to price: `ddb-faiss cost`'s options. */
export interface Workload {
  readonly items: number;
  /** Average item size in bytes. @default 1000 */
  readonly itemBytes?: number;
  readonly changesPerDay: number;
  readonly queriesPerDay: number;
  /** Search instances on provisioned concurrency. @default 0 */
  readonly provisionedConcurrency?: number;
  /** Minutes between scheduled runs (0: no schedule). @default 15 (the stack's default) */
  readonly scheduleMinutes?: number;
  /** Seconds between captured runs under a steady trickle (`captureRunSpacing`). @default 60 (its default) */
  readonly runSpacingSeconds?: number;
  /**
   * New search instances a day (each loads the index and the model from EFS): Lambda starts one
   * for each concurrent request beyond those running and retires idle ones, at times it does not
   * publish. @default 24 (an assumption: one an hour)
   */
  readonly searchColdStartsPerDay?: number;
}

/** A workload's defaults (the stack's, and for cold starts an assumption: one an hour). */
export const WORKLOAD_DEFAULTS = {
  itemBytes: MEASURED_ITEM_BYTES['1kb'],
  provisionedConcurrency: 0,
  scheduleMinutes: DEFAULT_SCHEDULE_MINUTES,
  searchColdStartsPerDay: 24,
} as const satisfies Partial<Workload>;

/** One line of an estimate. */
export interface EstimateLine {
  readonly part: string;
  readonly usd: number;
  /** The quantity priced, in words. */
  readonly detail: string;
  readonly byService: ServiceDollars;
}

/** A monthly estimate: its lines and their total. */
export interface Estimate {
  readonly workload: Required<Workload>;
  readonly lines: readonly EstimateLine[];
  readonly total: number;
  /** When the usage it multiplies out was measured. */
  readonly measured: string;
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');

/**
 * Runs a month in stream mode, changes spread over the day: a captured run starts once a change
 * arrives, waits the debounce, works (as long as a small run was measured to), and the next starts
 * no sooner than `runSpacingSeconds` after it; fewer changes than that make a run each.
 */
export function capturedRunsPerMonth(
  changesPerDay: number,
  measured: MeasuredUsage,
  runSpacingSeconds: number,
  debounceSeconds = 1,
): number {
  const cycle = Math.max(runSpacingSeconds, debounceSeconds + measured.scenarios.small_run.runSeconds, 1);
  return DAYS_PER_MONTH * Math.min(changesPerDay, 86_400 / cycle);
}

/** The month of `workload` on ddb-faiss, by part. */
export function monthlyEstimate(workload: Workload, measured: MeasuredUsage): Estimate {
  const full: Required<Workload> = {
    ...WORKLOAD_DEFAULTS,
    runSpacingSeconds: parseDuration(defaultOf('captureRunSpacing')) / 1000,
    ...workload,
  };
  const provisioned = full.provisionedConcurrency > 0;
  const changes = full.changesPerDay * DAYS_PER_MONTH;
  const queries = full.queriesPerDay * DAYS_PER_MONTH;
  const runs = capturedRunsPerMonth(
    full.changesPerDay,
    measured,
    full.runSpacingSeconds,
    parseDuration(defaultOf('captureDebounce')) / 1000,
  );
  const scheduled = scheduledRunsPerMonth(full.scheduleMinutes);
  const perItem = dollarsBySize(full.itemBytes, perChangedItem(measured, '1kb'), perChangedItem(measured, '30kb'));
  const perQuery = scale(priceUsage(measured.scenarios.queries, { provisioned }), 1 / measured.scenarios.queries.units);
  const vectors = full.items * vectorsPerItem(full.itemBytes, measured);
  const index = indexBytesAt(vectors, measured);
  const coldStarts = full.searchColdStartsPerDay * DAYS_PER_MONTH;
  const coldStartBytes = index.searchLoad + measured.atRest['1kb'].modelBytes;
  const line = (part: string, detail: string, byService: ServiceDollars): EstimateLine => ({
    part,
    usd: byService.total,
    detail,
    byService,
  });
  const lines = [
    line('indexing changes', `${count(changes)} changed items`, scale(perItem, changes)),
    line(
      'captured runs',
      `${count(runs)} runs (at least ${full.runSpacingSeconds} s apart)`,
      scale(priceUsage(measured.scenarios.small_run), runs),
    ),
    line('search', `${count(queries)} queries`, scale(perQuery, queries)),
    line(
      'provisioned concurrency',
      `${full.provisionedConcurrency} warm search instance(s)`,
      only({ lambda: full.provisionedConcurrency * provisionedInstanceMonth() }),
    ),
    line(
      'search cold starts',
      `${count(coldStarts)} index and model loads of ${count(coldStartBytes / 1e6)} MB`,
      only({ efs: ((coldStarts * coldStartBytes) / GB) * PRICES.efsReadGb.usd }),
    ),
    line(
      'storage',
      `${count(full.items)} items: index ${(index.disk / GB).toFixed(2)} GB on EFS`,
      atRestMonth(full.items, full.itemBytes, measured),
    ),
    line(
      'schedule',
      full.scheduleMinutes > 0 ? `${count(scheduled)} runs (every ${full.scheduleMinutes} min)` : 'off',
      scale(priceUsage(measured.scenarios.idle_run), scheduled),
    ),
  ];
  return { workload: full, lines, total: lines.reduce((sum, entry) => sum + entry.usd, 0), measured: measured.date };
}

/** An alternative priced for a workload: its lines, and what could not be priced. */
export interface AlternativeEstimate {
  readonly name: string;
  readonly lines: readonly { readonly part: string; readonly usd: number }[];
  readonly total: number;
  readonly unpriced?: string;
}

/** Bytes of one stored vector with its key and a little metadata (384 float32 dimensions). */
const VECTOR_BYTES = 384 * 4 + 200;

/**
 * The alternatives for `workload`, from their published prices. Each needs embeddings made for it
 * as ddb-faiss makes them: a function on the table's stream embedding each change, and the query
 * embedded by the function that searches; both are priced at what ddb-faiss's own were measured to
 * cost (capture and embed per change, search per query).
 */
export function alternativeEstimates(workload: Workload, measured: MeasuredUsage): AlternativeEstimate[] {
  const itemBytes = workload.itemBytes ?? WORKLOAD_DEFAULTS.itemBytes;
  const changes = workload.changesPerDay * DAYS_PER_MONTH;
  const queries = workload.queriesPerDay * DAYS_PER_MONTH;
  const lambdaPerItem = bySize(
    itemBytes,
    perChangedItem(measured, '1kb').lambda,
    perChangedItem(measured, '30kb').lambda,
  );
  const vectorsOfItem = vectorsPerItem(itemBytes, measured);
  const queryEmbedding = (priceUsage(measured.scenarios.queries).lambda / measured.scenarios.queries.units) * queries;
  const apiGateway = queries * PRICES.apiGatewayHttpRequest.usd;
  const vectors = workload.items * vectorsOfItem;
  const vectorGb = (vectors * VECTOR_BYTES) / GB;
  const embedding = { part: 'embedding changes (a function on the stream)', usd: changes * lambdaPerItem };
  const searching = {
    part: 'embedding queries (the search function) and its HTTP API',
    usd: queryEmbedding + apiGateway,
  };
  const total = (lines: { usd: number }[]): number => lines.reduce((sum, entry) => sum + entry.usd, 0);

  const s3Vectors = [
    embedding,
    searching,
    { part: 'vectors stored', usd: vectorGb * PRICES.s3VectorsStorageGbMonth.usd },
    { part: 'vectors written', usd: ((changes * vectorsOfItem * VECTOR_BYTES) / GB) * PRICES.s3VectorsPutGb.usd },
    {
      part: 'queries (requests and index data processed)',
      usd:
        queries *
        (PRICES.s3VectorsQueryRequest.usd +
          ((Math.min(vectors, 100_000) * VECTOR_BYTES) / 1e12) * PRICES.s3VectorsQueryTb.usd +
          ((Math.max(0, vectors - 100_000) * VECTOR_BYTES) / 1e12) * PRICES.s3VectorsQueryTbBeyond.usd),
    },
  ];
  const itemWriteUnits = Math.ceil((itemBytes + VECTOR_BYTES * vectorsOfItem) / 1024);
  const dynamodbVectors = [
    embedding,
    searching,
    { part: 'vector written back to each changed item', usd: changes * itemWriteUnits * PRICES.dynamodbWriteUnit.usd },
    { part: 'vectors stored in the items', usd: vectorGb * PRICES.dynamodbStorageGbMonth.usd },
  ];
  // One indexing OCU; search OCUs to hold the vectors' HNSW graph (about 1.5x the vectors) in 6 GiB
  // each, at least one; both with the standby replicas a production collection keeps (x2, in
  // half-OCU steps, as the 2-OCU floor counts them).
  const searchOcus = Math.max(1, Math.ceil((((vectorGb * GB) / GIB) * 1.5) / 6));
  const hours = DAYS_PER_MONTH * 24;
  const openSearch = [
    embedding,
    searching,
    {
      part: `collection: 1 indexing + ${searchOcus} search OCU(s)`,
      usd: (1 + searchOcus) * hours * PRICES.openSearchOcuHour.usd,
    },
    { part: 'zero-ETL ingestion pipeline (1 OCU)', usd: hours * PRICES.openSearchIngestionOcuHour.usd },
    { part: 'managed storage', usd: vectorGb * PRICES.openSearchStorageGbMonth.usd },
  ];
  return [
    { name: 'S3 Vectors', lines: s3Vectors, total: total(s3Vectors) },
    {
      name: "DynamoDB's vector indexes",
      lines: dynamodbVectors,
      total: total(dynamodbVectors),
      unpriced: UNPRICED.dynamodbVectorSearch,
    },
    {
      name: 'OpenSearch Serverless with zero-ETL',
      lines: openSearch,
      total: total(openSearch),
      unpriced: UNPRICED.openSearchNextGen,
    },
  ];
}
