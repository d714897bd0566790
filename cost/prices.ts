/**
 * AWS's published us-east-1 prices that ddb-faiss's costs and its alternatives' are computed from:
 * the one table every dollar figure derives from (`bench/results.json`'s, `ddb-faiss cost`'s and
 * docs/cost.md's). Each price names the page AWS publishes it on, the page it was read from, and
 * the day; `atSource` is false where only a secondary page could be read here (this machine reaches
 * no AWS page directly: the prices were read from stored copies of public pages), so a reader knows
 * which figures to check before relying on them.
 *
 * @example
 * ```ts
 * const dollars = writeUnits * PRICES.dynamodbWriteUnit.usd;
 * ```
 */

/** One published price. */
export interface Price {
  /** Dollars per one `unit`. */
  readonly usd: number;
  /** What one unit is. */
  readonly unit: string;
  /** The page AWS publishes the price on. */
  readonly source: string;
  /** The page it was read from: the source itself, or a secondary page quoting it. */
  readonly readFrom: string;
  /** The day it was read (YYYY-MM-DD). */
  readonly read: string;
  /** Whether the figure was read on AWS's own page (else from a secondary page, unverified). */
  readonly atSource: boolean;
}

const READ = '2026-12-06';
const LAMBDA = 'https://aws.amazon.com/lambda/pricing/';
const DYNAMODB = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const S3 = 'https://aws.amazon.com/s3/pricing/';
const EFS = 'https://aws.amazon.com/efs/pricing/';
const OPENSEARCH = 'https://aws.amazon.com/opensearch-service/pricing/';

const secondary = (source: string, readFrom: string, usd: number, unit: string): Price => ({
  usd,
  unit,
  source,
  readFrom,
  read: READ,
  atSource: false,
});
const atSource = (source: string, usd: number, unit: string): Price => ({
  usd,
  unit,
  source,
  readFrom: source,
  read: READ,
  atSource: true,
});

const LAMBDA_QUOTE =
  'https://git.mcrn.ar/mariano/lambda_local_runner/src/commit/957e45b8adae23ce50b966346229585b5df18b4d/docs/lambdas-md/lambda-13-cost.md';
const DYNAMODB_QUOTE = 'https://airbyte.com/data-engineering-resources/dynamodb-pricing';
const EFS_QUOTE = 'https://www.factualminds.com/blog/amazon-efs-pricing-throughput-modes-storage-classes/';
const S3_VECTORS_QUOTE =
  'https://news.najib.digital/lessons-from-amazon-s3-vector-store-and-the-nuances-of-hybrid-vector-storage-54948.html';
const S3_VECTORS_QUERY_QUOTE = 'https://www.oflight.co.jp/en/columns/aws-s3-vectors-ai-rag-cost-reduction-guide-2026';
const OPENSEARCH_QUOTE = 'https://awsnegotiations.com/opensearch-serverless-cost';

/** The prices, by what they price. */
export const PRICES = {
  lambdaRequest: secondary(LAMBDA, LAMBDA_QUOTE, 0.2 / 1e6, 'request'),
  lambdaGbSecondX86: secondary(LAMBDA, LAMBDA_QUOTE, 0.0000166667, 'GB-second (x86_64, first 6 billion a month)'),
  lambdaGbSecondArm: secondary(LAMBDA, LAMBDA_QUOTE, 0.0000133334, 'GB-second (arm64, first 7.5 billion a month)'),
  lambdaProvisionedGbSecondX86: secondary(
    LAMBDA,
    'https://aws.amazon.com/lambda/pricing/ (figure as commonly quoted)',
    0.0000041667,
    'GB-second of provisioned concurrency kept warm (x86_64)',
  ),
  lambdaProvisionedDurationGbSecondX86: secondary(
    LAMBDA,
    LAMBDA_QUOTE,
    0.0000097222,
    'GB-second run on provisioned concurrency (x86_64)',
  ),
  dynamodbWriteUnit: secondary(DYNAMODB, DYNAMODB_QUOTE, 0.625 / 1e6, 'write request unit (on-demand)'),
  dynamodbReadUnit: secondary(DYNAMODB, DYNAMODB_QUOTE, 0.125 / 1e6, 'read request unit (on-demand)'),
  dynamodbStorageGbMonth: secondary(
    DYNAMODB,
    'https://aws.amazon.com/dynamodb/pricing/ (figure as commonly quoted)',
    0.25,
    'GB-month (Standard table class, beyond 25 GB free)',
  ),
  s3StorageGbMonth: secondary(
    S3,
    'https://aws.amazon.com/s3/pricing/ (figure as commonly quoted)',
    0.023,
    'GB-month (S3 Standard, first 50 TB)',
  ),
  s3WriteRequest: secondary(
    S3,
    'https://aws.amazon.com/s3/pricing/ (figure as commonly quoted)',
    0.005 / 1000,
    'PUT, COPY, POST or LIST request',
  ),
  s3ReadRequest: secondary(
    S3,
    'https://aws.amazon.com/s3/pricing/ (figure as commonly quoted)',
    0.0004 / 1000,
    'GET or other request',
  ),
  stepFunctionsTransition: atSource(
    'https://aws.amazon.com/step-functions/pricing/',
    0.025 / 1000,
    'state transition (Standard)',
  ),
  efsStorageGbMonth: atSource(EFS, 0.3, 'GB-month (Standard)'),
  efsReadGb: secondary(EFS, EFS_QUOTE, 0.03, 'GB read (Elastic throughput)'),
  efsWriteGb: secondary(EFS, EFS_QUOTE, 0.06, 'GB written (Elastic throughput)'),
  apiGatewayHttpRequest: secondary(
    'https://aws.amazon.com/api-gateway/pricing/',
    'https://aws.amazon.com/api-gateway/pricing/ (figure as commonly quoted)',
    1.0 / 1e6,
    'HTTP API request (first 300 million a month)',
  ),
  sqsRequest: secondary(
    'https://aws.amazon.com/sqs/pricing/',
    'https://aws.amazon.com/sqs/pricing/ (figure as commonly quoted)',
    0.4 / 1e6,
    'request (standard queue)',
  ),
  s3VectorsStorageGbMonth: secondary(S3, S3_VECTORS_QUOTE, 0.06, 'logical GB-month of vectors and metadata'),
  s3VectorsPutGb: secondary(S3, S3_VECTORS_QUOTE, 0.2, 'logical GB written (PutVectors)'),
  s3VectorsQueryRequest: secondary(S3, S3_VECTORS_QUERY_QUOTE, 2.5 / 1e6, 'QueryVectors request'),
  s3VectorsQueryTb: secondary(
    S3,
    'https://dev.classmethod.jp/en/articles/20260616-s3-vectors-query-charges/ (structure only; the figure as quoted at launch)',
    0.004,
    'TB of index data processed per query, for the first 100,000 vectors of an index',
  ),
  s3VectorsQueryTbBeyond: secondary(
    S3,
    'https://dev.classmethod.jp/en/articles/20260616-s3-vectors-query-charges/ (structure only; the figure as quoted at launch)',
    0.002,
    'TB of index data processed per query, for vectors beyond 100,000 (cut by up to 80% above 10 million ' +
      'vectors on 2026-06-16, amount not verified)',
  ),
  openSearchOcuHour: secondary(OPENSEARCH, OPENSEARCH_QUOTE, 0.24, 'OCU-hour (Serverless, indexing or search)'),
  openSearchIngestionOcuHour: secondary(
    'https://aws.amazon.com/opensearch-service/pricing/',
    'https://aws.amazon.com/opensearch-service/pricing/ (figure as commonly quoted)',
    0.24,
    'OCU-hour of an OpenSearch Ingestion pipeline (what zero-ETL runs on)',
  ),
  openSearchStorageGbMonth: secondary(
    OPENSEARCH,
    'https://aws.amazon.com/opensearch-service/pricing/ (figure as commonly quoted)',
    0.024,
    'GB-month of managed storage (Serverless)',
  ),
} as const satisfies Record<string, Price>;

/** A price's name. */
export type PriceName = keyof typeof PRICES;

/** What could not be priced from a published figure, in words, for the tables that need it. */
export const UNPRICED = {
  dynamodbVectorSearch:
    'DynamoDB vector indexes (SearchVectors, August 2026) bill by the bytes a search examines and writes; ' +
    'no published figure could be read here, so that part is not priced.',
  openSearchNextGen:
    'OpenSearch Serverless "NextGen" (May 2026, scale to zero) is reported by a secondary page only; ' +
    'priced here is the classic floor (2 OCUs with redundancy).',
} as const;
