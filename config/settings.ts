/**
 * The catalogue of ddb-faiss settings: one row per setting, naming its default, its
 * environment variable, its command-line flag and how it is checked. Everything that reads
 * configuration goes through {@link loadConfig}; nothing else reads `process.env`.
 */

/** Where the system runs: the embedded local stack, or a deployed AWS stack. */
export type Target = 'local' | 'aws';

/** One index for the whole table, or one index per content group (the original article's layout). */
export type IndexLayout = 'global' | 'per-group';

/** The whole ddb-faiss configuration after defaults, file, environment and flags. */
export interface DdbFaissConfig {
  /** `local` (embedded stand-ins on 127.0.0.1) or `aws` (a deployed stack). @default 'local' */
  readonly target: Target;
  /** AWS region. @default 'us-east-1' */
  readonly region: string;
  /** Folder holding the local stack's data (DynamoDB, S3, EFS, executions). @default './.ddb-faiss' */
  readonly dataDir: string;
  /** The shared file system root (EFS). @default '<dataDir>/efs' locally, '/mnt/efs' in Lambda */
  readonly efsRoot: string;
  /** DynamoDB table name. @default 'ddb-faiss-items' */
  readonly tableName: string;
  /** Partition key attribute (S). @default 'content_group' */
  readonly groupAttribute: string;
  /** Sort key attribute (S). @default 'content_id' */
  readonly idAttribute: string;
  /** Text attribute that is embedded. @default 'content' */
  readonly contentAttribute: string;
  /** Numeric attribute marking items waiting to be indexed; feeds the sparse GSI. @default 'faiss_pending' */
  readonly pendingAttribute: string;
  /** Name of the sparse GSI on the pending attribute. @default 'faiss_pending-index' */
  readonly pendingIndexName: string;
  /** Assets bucket (model bundles). @default 'ddb-faiss-assets' */
  readonly bucketName: string;
  /** Key prefix of model bundles in the bucket. @default 'models/' */
  readonly modelPrefix: string;
  /** Name of the active model bundle. @default 'default' */
  readonly modelName: string;
  /** State machine name. @default 'ddb-faiss-indexer' */
  readonly stateMachineName: string;
  /** Local DynamoDB port (0 = any free port). @default 8600 */
  readonly dynamodbPort: number;
  /** Local S3 port (0 = any free port). @default 8601 */
  readonly s3Port: number;
  /** Local Step Functions port (0 = any free port). @default 8602 */
  readonly stepFunctionsPort: number;
  /** Local HTTP port for search and the monitor (0 = any free port). @default 8603 */
  readonly httpPort: number;
  /** DynamoDB endpoint override. @default derived from the target */
  readonly dynamodbEndpoint: string | undefined;
  /** S3 endpoint override. @default derived from the target */
  readonly s3Endpoint: string | undefined;
  /** Step Functions endpoint override. @default derived from the target */
  readonly stepFunctionsEndpoint: string | undefined;
  /** Items per embed batch. @default 500 */
  readonly batchSize: number;
  /** Most items one run indexes; the rest wait for the next run. @default 100000 */
  readonly maxItemsPerRun: number;
  /** Most embed batches running at once. @default 2 */
  readonly maxConcurrency: number;
  /** onnxruntime intra-op threads (0 = onnxruntime's choice). @default 0 */
  readonly embedThreads: number;
  /** The deployed indexer's ARN (aws target). @default from `ddb-faiss deploy`'s outputs */
  readonly stateMachineArn: string | undefined;
  /** The deployed search API's base URL (aws target). @default from `ddb-faiss deploy`'s outputs */
  readonly searchUrl: string | undefined;
  /** `up` starts an incremental run this often (e.g. `5m`); unset = no schedule. @default undefined */
  readonly scheduleEvery: string | undefined;
  /** `global` (one index) or `per-group` (one index per content group). @default 'global' */
  readonly indexLayout: IndexLayout;
  /**
   * How long the writer lease lasts without renewal. A live run renews it at every stage and
   * every embed batch; the expiry is the last resort for a holder whose status cannot be read.
   * @default 1800 (30 minutes: twice Lambda's 15-minute limit)
   */
  readonly leaseSeconds: number;
}

type Kind = 'string' | 'port' | 'positiveInt' | 'nonNegativeInt' | 'target' | 'url' | 'layout';

interface SettingSpec {
  readonly env: string;
  readonly flag: string;
  readonly kind: Kind;
  readonly optional?: boolean;
}

/** Each setting's environment variable, flag and kind. Defaults live in {@link defaultValues}. */
export const settingSpecs: { readonly [K in keyof DdbFaissConfig]: SettingSpec } = {
  target: { env: 'DDB_FAISS_TARGET', flag: 'target', kind: 'target' },
  region: { env: 'AWS_REGION', flag: 'region', kind: 'string' },
  dataDir: { env: 'DDB_FAISS_DATA_DIR', flag: 'data-dir', kind: 'string' },
  efsRoot: { env: 'DDB_FAISS_EFS_ROOT', flag: 'efs-root', kind: 'string' },
  tableName: { env: 'DDB_FAISS_TABLE', flag: 'table', kind: 'string' },
  groupAttribute: { env: 'DDB_FAISS_GROUP_ATTRIBUTE', flag: 'group-attribute', kind: 'string' },
  idAttribute: { env: 'DDB_FAISS_ID_ATTRIBUTE', flag: 'id-attribute', kind: 'string' },
  contentAttribute: { env: 'DDB_FAISS_CONTENT_ATTRIBUTE', flag: 'content-attribute', kind: 'string' },
  pendingAttribute: { env: 'DDB_FAISS_PENDING_ATTRIBUTE', flag: 'pending-attribute', kind: 'string' },
  pendingIndexName: { env: 'DDB_FAISS_PENDING_INDEX', flag: 'pending-index', kind: 'string' },
  bucketName: { env: 'DDB_FAISS_BUCKET', flag: 'bucket', kind: 'string' },
  modelPrefix: { env: 'DDB_FAISS_MODEL_PREFIX', flag: 'model-prefix', kind: 'string' },
  modelName: { env: 'DDB_FAISS_MODEL', flag: 'model', kind: 'string' },
  stateMachineName: { env: 'DDB_FAISS_STATE_MACHINE', flag: 'state-machine', kind: 'string' },
  dynamodbPort: { env: 'DDB_FAISS_DYNAMODB_PORT', flag: 'dynamodb-port', kind: 'port' },
  s3Port: { env: 'DDB_FAISS_S3_PORT', flag: 's3-port', kind: 'port' },
  stepFunctionsPort: { env: 'DDB_FAISS_SFN_PORT', flag: 'sfn-port', kind: 'port' },
  httpPort: { env: 'DDB_FAISS_HTTP_PORT', flag: 'http-port', kind: 'port' },
  dynamodbEndpoint: { env: 'DDB_FAISS_DYNAMODB_ENDPOINT', flag: 'dynamodb-endpoint', kind: 'url', optional: true },
  s3Endpoint: { env: 'DDB_FAISS_S3_ENDPOINT', flag: 's3-endpoint', kind: 'url', optional: true },
  stepFunctionsEndpoint: { env: 'DDB_FAISS_SFN_ENDPOINT', flag: 'sfn-endpoint', kind: 'url', optional: true },
  batchSize: { env: 'DDB_FAISS_BATCH_SIZE', flag: 'batch-size', kind: 'positiveInt' },
  maxItemsPerRun: { env: 'DDB_FAISS_MAX_ITEMS_PER_RUN', flag: 'max-items-per-run', kind: 'positiveInt' },
  maxConcurrency: { env: 'DDB_FAISS_MAX_CONCURRENCY', flag: 'max-concurrency', kind: 'positiveInt' },
  embedThreads: { env: 'DDB_FAISS_EMBED_THREADS', flag: 'embed-threads', kind: 'nonNegativeInt' },
  stateMachineArn: { env: 'DDB_FAISS_STATE_MACHINE_ARN', flag: 'state-machine-arn', kind: 'string', optional: true },
  searchUrl: { env: 'DDB_FAISS_SEARCH_URL', flag: 'search-url', kind: 'url', optional: true },
  scheduleEvery: { env: 'DDB_FAISS_SCHEDULE_EVERY', flag: 'schedule-every', kind: 'string', optional: true },
  indexLayout: { env: 'DDB_FAISS_INDEX_LAYOUT', flag: 'index-layout', kind: 'layout' },
  leaseSeconds: { env: 'DDB_FAISS_LEASE_SECONDS', flag: 'lease-seconds', kind: 'positiveInt' },
};

/** Defaults; `efsRoot` is derived from `dataDir` when not set anywhere. */
export const defaultValues: Omit<DdbFaissConfig, 'efsRoot'> = {
  target: 'local',
  region: 'us-east-1',
  dataDir: './.ddb-faiss',
  tableName: 'ddb-faiss-items',
  groupAttribute: 'content_group',
  idAttribute: 'content_id',
  contentAttribute: 'content',
  pendingAttribute: 'faiss_pending',
  pendingIndexName: 'faiss_pending-index',
  bucketName: 'ddb-faiss-assets',
  modelPrefix: 'models/',
  modelName: 'default',
  stateMachineName: 'ddb-faiss-indexer',
  dynamodbPort: 8600,
  s3Port: 8601,
  stepFunctionsPort: 8602,
  httpPort: 8603,
  dynamodbEndpoint: undefined,
  s3Endpoint: undefined,
  stepFunctionsEndpoint: undefined,
  batchSize: 500,
  maxItemsPerRun: 100_000,
  maxConcurrency: 2,
  embedThreads: 0,
  stateMachineArn: undefined,
  searchUrl: undefined,
  scheduleEvery: undefined,
  indexLayout: 'global',
  leaseSeconds: 1800,
};
