/**
 * The one configuration schema of ddb-faiss. Each setting is one row: its valibot schema
 * (which coerces a string from the environment or a flag, or a JSON value from the config
 * file, into the typed value, with the message a user sees), its default, its environment
 * variable, its flag, and one line for the settings table (docs/configuration.md);
 * {@link DEPLOYED_SETTINGS} names those
 * the CDK app deploys (`-c <setting>=<value>` context, into the functions' environment). {@link DdbFaissConfig},
 * the CLI's flags, the CDK context and the settings table are all derived from these rows;
 * `config/config.ts` loads them. Only `config/` reads `process.env`.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { isDuration, parseDuration } from './duration.ts';
import { PROJECT_ROOT } from './project.ts';

/** Where the system runs: the embedded local stack, or a deployed AWS stack. */
export type Target = 'local' | 'aws';

/** The levels of the task handlers' log lines (Powertools Logger's names). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the local stack prints log lines: for people, or for machines (Lambda always writes JSON). */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * How changes reach the index: the table's stream (a capture step reads it; writers set nothing and
 * may delete as they like) or pending flags every writer sets (deletes soft, with `faiss_delete`).
 */
export const CHANGE_CAPTURES = ['stream', 'flags'] as const;
export type ChangeCapture = (typeof CHANGE_CAPTURES)[number];

/** One index for the whole table, or one index per content group (the original article's layout). */
export type IndexLayout = 'global' | 'per-group';

/** A setting's schema: from a raw value (string or JSON) to the typed value. */
type SettingSchema<T> = v.GenericSchema<unknown, T>;

/** The environment defaults may depend on (the cache folder follows XDG). */
type Environment = Readonly<Record<string, string | undefined>>;

/** One row of the configuration schema. */
export interface Setting<T> {
  readonly schema: SettingSchema<T>;
  /** The value when no source sets it; a function when it derives from the environment. */
  readonly default: T | ((env: Environment) => T);
  readonly env: string;
  /** The command-line flag; none for settings the model tools read from the environment alone. */
  readonly flag?: string;
  /** What the setting is, for the settings table. */
  readonly doc: string;
  /** The default as the settings table shows it. @default the default value */
  readonly defaultDoc?: string;
}

const quoted = (input: unknown): string => (typeof input === 'string' ? `"${input}"` : JSON.stringify(input));

/** A string from the environment, a flag, or a JSON string or number in the config file. */
const text = (kind: string) =>
  v.pipe(
    v.union([v.string(), v.number()], (issue) => `expected ${kind}, got ${JSON.stringify(issue.input)}`),
    v.transform(String),
  );

const nonEmpty = (kind: string) =>
  v.pipe(
    text(kind),
    v.check((value) => value.trim() !== '', 'must not be empty'),
  );

/** `true` or `false`, from the environment or a JSON boolean in the config file. */
const booleanText = v.pipe(
  v.union([v.string(), v.boolean()], (issue) => `expected true or false, got ${JSON.stringify(issue.input)}`),
  v.transform(String),
  v.picklist(['true', 'false'], (issue) => `must be "true" or "false", got ${quoted(issue.input)}`),
  v.transform((value) => value === 'true'),
);

/** The attribute names ddb-faiss is told (item keys, text, pending, filterable): letters, digits, _ . -. */
const DYNAMODB_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether a name is a valid DynamoDB table or index name (AWS: 3 to 255 of letters, digits, _ . -). */
export const isTableName = (name: string): boolean => /^[A-Za-z0-9_.-]{3,255}$/.test(name);

const dynamodbName = v.pipe(
  nonEmpty('a DynamoDB name'),
  v.check(
    (value) => DYNAMODB_NAME.test(value),
    (issue) => `${quoted(issue.input)} is not a valid DynamoDB name (letters, digits, _ . -)`,
  ),
);

const tableName = v.pipe(
  nonEmpty('a DynamoDB table or index name'),
  v.check(
    (value) => isTableName(value),
    (issue) => `${quoted(issue.input)} is not a valid table or index name (3 to 255 letters, digits, _ . -)`,
  ),
);

const bucketName = v.pipe(
  nonEmpty('a bucket name'),
  v.check(
    (value) => BUCKET_NAME.test(value),
    (issue) => `${quoted(issue.input)} is not a valid S3 bucket name`,
  ),
);

const integer = (min: number, max = Number.MAX_SAFE_INTEGER, what = `an integer >= ${min}`) =>
  v.pipe(
    text('an integer'),
    v.check(
      (value) => {
        const n = Number(value);
        return value.trim() !== '' && Number.isSafeInteger(n) && n >= min && n <= max;
      },
      (issue) => `must be ${what}, got ${quoted(issue.input)}`,
    ),
    v.transform(Number),
  );

const port = integer(0, 65_535, 'a port 0..65535');

const oneOf = <const T extends string>(values: readonly [T, ...T[]]) =>
  v.pipe(
    text(values.map((value) => `"${value}"`).join(' or ')),
    v.picklist(
      values,
      (issue) => `must be ${values.map((value) => `"${value}"`).join(' or ')}, got ${quoted(issue.input)}`,
    ),
  );

const httpUrl = v.pipe(
  text('a URL'),
  v.check(
    (value) => URL.canParse(value),
    (issue) => `must be a URL, got ${quoted(issue.input)}`,
  ),
  v.check(
    (value) => ['http:', 'https:'].includes(new URL(value).protocol),
    (issue) => `must be an http(s) URL, got ${quoted(issue.input)}`,
  ),
  v.transform((value) => value.replace(/\/$/, '')),
);

const duration = v.pipe(
  nonEmpty('a duration'),
  v.check(
    (value) => isDuration(value),
    (issue) => `${quoted(issue.input)} is not a duration: use e.g. 30s, 5m, 1h`,
  ),
);

/** A duration of whole seconds (a Wait state's `Seconds`). */
const wholeSeconds = v.pipe(
  duration,
  v.check(
    (value) => parseDuration(value) % 1000 === 0,
    (issue) => `${quoted(issue.input)} is not a whole number of seconds: use e.g. 0s, 1s, 5s`,
  ),
);

const anyText = nonEmpty('a string');

/** A list: comma-separated text (environment, flag, CDK context), or a JSON list in the config file. */
const listOf = (kind: string) =>
  v.pipe(
    v.union([v.string(), v.array(v.string())], (issue) => `expected ${kind}, got ${JSON.stringify(issue.input)}`),
    v.transform((value): readonly string[] =>
      (Array.isArray(value) ? value : value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== ''),
    ),
  );

/** `*`, or attribute names. */
const attributeNames = v.pipe(
  listOf('* or attribute names'),
  v.check((names) => names.length > 0, 'must be * or at least one attribute name'),
  v.check(
    (names) => (names.length === 1 && names[0] === '*') || names.every((name) => DYNAMODB_NAME.test(name)),
    (issue) =>
      `must be * or attribute names (letters, digits, _ . -): ${issue.input
        .filter((name) => !DYNAMODB_NAME.test(name))
        .map(quoted)
        .join(', ')} is not`,
  ),
  v.transform((names): readonly string[] | '*' => (names.length === 1 && names[0] === '*' ? '*' : names)),
);

/** A web origin: scheme and host (and port), no path; what a browser sends as `Origin`. */
const ORIGIN = /^https?:\/\/[^/\s?#]+$/;

const origins = v.pipe(
  listOf('origins'),
  v.check(
    (list) => list.every((origin) => origin === '*' || ORIGIN.test(origin)),
    (issue) =>
      `must be origins such as https://app.example.com (scheme and host, no path), or *: ${issue.input
        .filter((origin) => origin !== '*' && !ORIGIN.test(origin))
        .map(quoted)
        .join(', ')} is not`,
  ),
);

const audiences = listOf('audiences');

/** Who may call the deployed search API. */
export const API_AUTHORIZATIONS = ['iam', 'jwt', 'none'] as const;
export type ApiAuthorization = (typeof API_AUTHORIZATIONS)[number];

/** An https URL kept exactly as given: a JWT's `iss` must equal the issuer to the last slash. */
const issuerUrl = v.pipe(
  text('a URL'),
  v.check(
    (value) => URL.canParse(value) && new URL(value).protocol === 'https:',
    (issue) => `must be an https URL, got ${quoted(issue.input)}`,
  ),
);

/** A JWT claim's name, as the authorizer passes it on (e.g. `cognito:groups`, `custom:tenant`). */
const claimName = v.pipe(
  nonEmpty('a claim name'),
  v.check(
    (value) => !/\s/.test(value),
    (issue) => `must be a claim name without spaces, got ${quoted(issue.input)}`,
  ),
);

const setting = <T>(row: Setting<T>): Setting<T> => row;
/** A setting with no default: unset means "derive it" or "off". */
const optional = <T>(row: Omit<Setting<T>, 'default'>): Setting<T | undefined> => ({ ...row, default: undefined });

/** Every setting, in the settings table's order. */
export const SETTINGS = {
  target: setting<Target>({
    schema: oneOf(['local', 'aws']),
    default: 'local',
    env: 'DDB_FAISS_TARGET',
    flag: 'target',
    doc: '`local` (the embedded stack on 127.0.0.1) or `aws` (a deployed stack)',
  }),
  region: setting({ schema: anyText, default: 'us-east-1', env: 'AWS_REGION', flag: 'region', doc: 'AWS region' }),
  dataDir: setting({
    schema: anyText,
    default: './.ddb-faiss',
    env: 'DDB_FAISS_DATA_DIR',
    flag: 'data-dir',
    doc: "the local stack's data (DynamoDB, S3, EFS, executions) and `deploy`'s outputs",
  }),
  efsRoot: optional({
    schema: anyText,
    env: 'DDB_FAISS_EFS_ROOT',
    flag: 'efs-root',
    defaultDoc: '`<dataDir>/efs`; `/mnt/efs` in Lambda',
    doc: 'the shared file system root (EFS)',
  }),
  tableName: setting({
    schema: tableName,
    default: 'ddb-faiss-items',
    env: 'DDB_FAISS_TABLE',
    flag: 'table',
    doc: 'the DynamoDB table',
  }),
  groupAttribute: setting({
    schema: dynamodbName,
    default: 'content_group',
    env: 'DDB_FAISS_GROUP_ATTRIBUTE',
    flag: 'group-attribute',
    doc: 'partition key attribute (S)',
  }),
  idAttribute: setting({
    schema: dynamodbName,
    default: 'content_id',
    env: 'DDB_FAISS_ID_ATTRIBUTE',
    flag: 'id-attribute',
    doc: 'sort key attribute (S)',
  }),
  contentAttribute: setting({
    schema: dynamodbName,
    default: 'content',
    env: 'DDB_FAISS_CONTENT_ATTRIBUTE',
    flag: 'content-attribute',
    doc: 'the text attribute that is embedded',
  }),
  pendingAttribute: setting({
    schema: dynamodbName,
    default: 'faiss_pending',
    env: 'DDB_FAISS_PENDING_ATTRIBUTE',
    flag: 'pending-attribute',
    doc: 'numeric attribute marking items waiting to be indexed; feeds the sparse GSI',
  }),
  pendingIndexName: setting({
    schema: tableName,
    default: 'faiss_pending-index',
    env: 'DDB_FAISS_PENDING_INDEX',
    flag: 'pending-index',
    doc: 'the sparse GSI on the pending attribute',
  }),
  bucketName: setting({
    schema: bucketName,
    default: 'ddb-faiss-assets',
    env: 'DDB_FAISS_BUCKET',
    flag: 'bucket',
    doc: 'the assets bucket (model bundles)',
  }),
  modelPrefix: setting({
    schema: anyText,
    default: 'models/',
    env: 'DDB_FAISS_MODEL_PREFIX',
    flag: 'model-prefix',
    doc: 'key prefix of model bundles in the bucket',
  }),
  modelName: setting({
    schema: anyText,
    default: 'default',
    env: 'DDB_FAISS_MODEL',
    flag: 'model',
    doc: 'the active model bundle',
  }),
  stateMachineName: setting({
    schema: anyText,
    default: 'ddb-faiss-indexer',
    env: 'DDB_FAISS_STATE_MACHINE',
    flag: 'state-machine',
    doc: "the local indexer state machine's name",
  }),
  dynamodbPort: setting({
    schema: port,
    default: 8600,
    env: 'DDB_FAISS_DYNAMODB_PORT',
    flag: 'dynamodb-port',
    doc: 'local DynamoDB port (0 = any free port)',
  }),
  s3Port: setting({
    schema: port,
    default: 8601,
    env: 'DDB_FAISS_S3_PORT',
    flag: 's3-port',
    doc: 'local S3 port (0 = any free port)',
  }),
  stepFunctionsPort: setting({
    schema: port,
    default: 8602,
    env: 'DDB_FAISS_SFN_PORT',
    flag: 'sfn-port',
    doc: 'local Step Functions port (0 = any free port)',
  }),
  httpPort: setting({
    schema: port,
    default: 8603,
    env: 'DDB_FAISS_HTTP_PORT',
    flag: 'http-port',
    doc: 'local HTTP port for search and the monitor (0 = any free port)',
  }),
  dynamodbEndpoint: optional({
    schema: httpUrl,
    env: 'DDB_FAISS_DYNAMODB_ENDPOINT',
    flag: 'dynamodb-endpoint',
    defaultDoc: 'from the target',
    doc:
      "DynamoDB endpoint override: every command, and `up`'s own tasks and search, call it (e.g. a proxy in front of " +
      'the local stand-in on `--dynamodb-port`)',
  }),
  s3Endpoint: optional({
    schema: httpUrl,
    env: 'DDB_FAISS_S3_ENDPOINT',
    flag: 's3-endpoint',
    defaultDoc: 'from the target',
    doc:
      "S3 endpoint override: every command, and `up`'s own tasks and search, call it (e.g. a proxy in front of " +
      'the local stand-in on `--s3-port`)',
  }),
  stepFunctionsEndpoint: optional({
    schema: httpUrl,
    env: 'DDB_FAISS_SFN_ENDPOINT',
    flag: 'sfn-endpoint',
    defaultDoc: 'from the target',
    doc:
      "Step Functions endpoint override: every command, and `up`'s own tasks and search, call it " +
      '(e.g. a proxy in front of the local stand-in on `--sfn-port`)',
  }),
  batchSize: setting({
    schema: integer(1),
    default: 500,
    env: 'DDB_FAISS_BATCH_SIZE',
    flag: 'batch-size',
    doc: 'items per embed batch',
  }),
  maxItemsPerRun: setting({
    schema: integer(1),
    default: 100_000,
    env: 'DDB_FAISS_MAX_ITEMS_PER_RUN',
    flag: 'max-items-per-run',
    doc: 'most items one run indexes; the rest wait for the next run',
  }),
  maxConcurrency: setting({
    schema: integer(1, 10_000, 'an integer from 1 to 10000'),
    default: 2,
    env: 'DDB_FAISS_MAX_CONCURRENCY',
    flag: 'max-concurrency',
    doc: "most embed batches at once (the Map state's MaxConcurrency)",
  }),
  embedThreads: setting({
    schema: integer(0),
    default: 0,
    env: 'DDB_FAISS_EMBED_THREADS',
    flag: 'embed-threads',
    defaultDoc: '0 (onnxruntime decides)',
    doc: 'onnxruntime intra-op threads',
  }),
  stateMachineArn: optional({
    schema: anyText,
    env: 'DDB_FAISS_STATE_MACHINE_ARN',
    flag: 'state-machine-arn',
    defaultDoc: "from `ddb-faiss deploy`'s outputs",
    doc: "the deployed indexer's ARN (aws target)",
  }),
  searchUrl: optional({
    schema: httpUrl,
    env: 'DDB_FAISS_SEARCH_URL',
    flag: 'search-url',
    defaultDoc: "from `ddb-faiss deploy`'s outputs",
    doc: "the deployed search API's base URL (aws target)",
  }),
  captureFailureQueueUrl: optional({
    schema: httpUrl,
    env: 'DDB_FAISS_CAPTURE_FAILURE_QUEUE_URL',
    flag: 'capture-failure-queue-url',
    defaultDoc: "from `ddb-faiss deploy`'s outputs (stream mode)",
    doc: "the deployed capture step's failure queue: `status` counts it, `capture redrive` re-drives it (aws target)",
  }),
  scheduleEvery: optional({
    schema: duration,
    env: 'DDB_FAISS_SCHEDULE_EVERY',
    flag: 'schedule-every',
    defaultDoc: 'unset (no schedule)',
    doc: '`up` starts an incremental run this often (e.g. `5m`)',
  }),
  changeCapture: setting<ChangeCapture>({
    schema: oneOf(CHANGE_CAPTURES),
    default: 'stream',
    env: 'DDB_FAISS_CHANGE_CAPTURE',
    flag: 'change-capture',
    doc:
      "how changes reach the index: `stream` (ddb-faiss follows the table's stream; writers set nothing, hard " +
      'deletes and TTL expiries are honoured, and a run starts seconds after a write) or `flags` (every writer sets ' +
      'the pending attribute and deletes softly; runs come from the schedule or by hand)',
  }),
  captureDebounce: setting({
    schema: wholeSeconds,
    default: '1s',
    env: 'DDB_FAISS_CAPTURE_DEBOUNCE',
    flag: 'capture-debounce',
    doc:
      'stream mode: how long a run started by captured changes waits for more changes before it plans, so a ' +
      'burst of writes is indexed by one run rather than many (whole seconds, as a Wait state counts; `0s` for none)',
  }),
  captureRunSpacing: setting({
    schema: wholeSeconds,
    default: '60s',
    env: 'DDB_FAISS_CAPTURE_RUN_SPACING',
    flag: 'capture-run-spacing',
    doc:
      'stream mode: the least time from one run taking what is pending to the next captured run doing so. ' +
      'A change after a quiet spell is indexed within seconds; under a steady trickle, runs come this far ' +
      'apart and carry what gathered, since a run costs about as much whatever it carries ' +
      '(docs/cost.md; `0s`: a run per burst)',
  }),
  indexLayout: setting<IndexLayout>({
    schema: oneOf(['global', 'per-group']),
    default: 'global',
    env: 'DDB_FAISS_INDEX_LAYOUT',
    flag: 'index-layout',
    doc: '`global` (one index) or `per-group` (one index per content group)',
  }),
  filterAttributes: setting<readonly string[] | '*'>({
    schema: attributeNames,
    default: '*',
    env: 'DDB_FAISS_FILTER_ATTRIBUTES',
    flag: 'filter-attributes',
    defaultDoc: '`*` (every scalar attribute)',
    doc:
      'the item attributes kept with the index for search filters: `*` (every scalar top-level attribute ' +
      'but the text and the id; the group included) or a comma-separated list, which saves space',
  }),
  leaseSeconds: setting({
    schema: integer(1),
    default: 1800,
    env: 'DDB_FAISS_LEASE_SECONDS',
    flag: 'lease-seconds',
    defaultDoc: "1800 (twice Lambda's 15-minute limit)",
    doc:
      'how long the writer lease lasts without renewal; a live run renews it at every stage and batch, ' +
      'so the expiry is the last resort',
  }),
  logLevel: setting<LogLevel>({
    schema: oneOf(LOG_LEVELS),
    default: 'INFO',
    env: 'DDB_FAISS_LOG_LEVEL',
    flag: 'log-level',
    doc:
      "the task handlers' structured JSON log lines (Powertools Logger): " +
      '`DEBUG`, `INFO`, `WARN`, `ERROR` or `SILENT`; locally only `up` prints them',
  }),
  logFormat: setting<LogFormat>({
    schema: oneOf(LOG_FORMATS),
    default: 'text',
    env: 'DDB_FAISS_LOG_FORMAT',
    flag: 'log-format',
    doc:
      "how `up` prints the task handlers' log lines: `text` (one readable line each: time, level, stage, run, " +
      "what happened) or `json` (Powertools' structured lines, as Lambda writes them to CloudWatch)",
  }),
  tracing: setting<boolean>({
    schema: booleanText,
    default: false,
    env: 'DDB_FAISS_TRACING',
    defaultDoc: 'false (the stack sets it with `-c tracing=true`)',
    doc:
      'trace the Lambda handlers with X-Ray through Powertools Tracer; when off the tracer is not even loaded ' +
      "(the X-Ray SDK's async hooks make every promise about 15x slower)",
  }),
  apiAuthorization: setting<ApiAuthorization>({
    schema: oneOf(API_AUTHORIZATIONS),
    default: 'iam',
    env: 'DDB_FAISS_API_AUTHORIZATION',
    flag: 'api-authorization',
    doc:
      'who may call the deployed search API: `iam` (requests signed with AWS credentials allowed ' +
      '`execute-api:Invoke`), `jwt` (a bearer token from the OIDC issuer `jwtIssuer` for `jwtAudience`) or ' +
      '`none` (public: anyone with the URL reads the hits)',
  }),
  jwtIssuer: optional<string>({
    schema: issuerUrl,
    env: 'DDB_FAISS_JWT_ISSUER',
    flag: 'jwt-issuer',
    defaultDoc: 'none (needed by `jwt`)',
    doc: 'the OIDC issuer whose tokens the search API accepts (`jwt` authorization), e.g. a Cognito user pool URL',
  }),
  jwtAudience: setting<readonly string[]>({
    schema: audiences,
    default: [],
    env: 'DDB_FAISS_JWT_AUDIENCE',
    flag: 'jwt-audience',
    defaultDoc: 'none',
    doc: "the audiences (client ids) a token's `aud` or `client_id` must name (`jwt` authorization; comma-separated)",
  }),
  tenantClaim: optional<string>({
    schema: claimName,
    env: 'DDB_FAISS_TENANT_CLAIM',
    flag: 'tenant-claim',
    defaultDoc: 'none (a caller may search every group)',
    doc:
      'tenant isolation with `jwt` authorization: the token claim listing the content groups a caller may search ' +
      '(e.g. `cognito:groups`, `custom:tenant`); a search reads only those groups, and a `group` outside them is a 403',
  }),
  localJwtSecret: optional<string>({
    schema: nonEmpty('a secret'),
    env: 'DDB_FAISS_LOCAL_JWT_SECRET',
    defaultDoc: 'none',
    doc:
      'the local stack checks bearer tokens signed with this shared secret (HS256) as API Gateway checks JWTs, ' +
      'to try `jwt` authorization and tenant isolation before deploying (for tests; environment only)',
  }),
  localJwksFile: optional<string>({
    schema: anyText,
    env: 'DDB_FAISS_LOCAL_JWKS_FILE',
    flag: 'local-jwks-file',
    defaultDoc: 'none',
    doc:
      'a JSON Web Key Set file: the local stack checks bearer tokens against its public keys ' +
      '(`jwt` authorization, locally)',
  }),
  apiToken: optional<string>({
    schema: nonEmpty('a token'),
    env: 'DDB_FAISS_API_TOKEN',
    defaultDoc: 'none',
    doc: '`ddb-faiss search --target aws` sends it as a bearer token when the API takes JWTs',
  }),
  apiRateLimit: setting({
    schema: integer(1),
    default: 50,
    env: 'DDB_FAISS_API_RATE_LIMIT',
    flag: 'api-rate-limit',
    doc: "requests per second the deployed search API admits, steadily (its stage's throttling; more get HTTP 429)",
  }),
  apiBurstLimit: setting({
    schema: integer(1),
    default: 100,
    env: 'DDB_FAISS_API_BURST_LIMIT',
    flag: 'api-burst-limit',
    doc: 'requests the deployed search API admits at once, above the steady rate, before it throttles',
  }),
  corsOrigins: setting<readonly string[]>({
    schema: origins,
    default: [],
    env: 'DDB_FAISS_CORS_ORIGINS',
    flag: 'cors-origins',
    defaultDoc: 'none',
    doc:
      'the web origins whose pages may call the deployed search API from a browser (comma-separated, ' +
      'e.g. `https://app.example.com`; `*` only when set): none answers same-origin and server-side callers only',
  }),
  cacheDir: setting({
    schema: anyText,
    default: (env) => path.join(env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache'), 'ddb-faiss'),
    env: 'DDB_FAISS_CACHE_DIR',
    defaultDoc: '`$XDG_CACHE_HOME/ddb-faiss` or `~/.cache/ddb-faiss`',
    doc: 'built and fetched model bundles, kept across checkouts',
  }),
  stsDir: setting({
    schema: anyText,
    default: path.join(PROJECT_ROOT, '..', 'shared', 'data', 'stsb'),
    env: 'DDB_FAISS_STS_DIR',
    defaultDoc: '`../shared/data/stsb` beside the checkout',
    doc: 'STS Benchmark splits (demo sentences, model quality, bench)',
  }),
} as const satisfies Record<string, Setting<unknown>>;

/** A setting's name. */
export type SettingName = keyof typeof SETTINGS;

/** The whole ddb-faiss configuration after defaults, file, environment and flags. */
export type DdbFaissConfig = {
  readonly [K in SettingName]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;
} & {
  /** Always set once loaded: `<dataDir>/efs` unless given. */
  readonly efsRoot: string;
};

/** Every setting's name, in the settings table's order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/**
 * The settings the CDK app deploys: given as context (`-c batchSize=250`) or stack props, they
 * reach the functions' environment. The rest are local or set by the stack itself.
 */
export const DEPLOYED_SETTINGS = [
  'groupAttribute',
  'idAttribute',
  'contentAttribute',
  'pendingAttribute',
  'pendingIndexName',
  'changeCapture',
  'captureDebounce',
  'captureRunSpacing',
  'modelPrefix',
  'modelName',
  'batchSize',
  'maxItemsPerRun',
  'maxConcurrency',
  'embedThreads',
  'indexLayout',
  'filterAttributes',
  'leaseSeconds',
  'logLevel',
  'apiAuthorization',
  'jwtIssuer',
  'jwtAudience',
  'tenantClaim',
  'apiRateLimit',
  'apiBurstLimit',
  'corsOrigins',
] as const satisfies readonly SettingName[];

/** A setting's default for an environment. */
export function defaultOf<K extends SettingName>(name: K, env: Environment = {}): DdbFaissConfig[K] {
  const row = SETTINGS[name] as Setting<DdbFaissConfig[K]>;
  return typeof row.default === 'function'
    ? (row.default as (env: Environment) => DdbFaissConfig[K])(env)
    : row.default;
}

/**
 * Parses one raw value of a setting.
 * @returns the typed value, or the problem in the words a user sees
 */
export function parseSetting<K extends SettingName>(
  name: K,
  raw: unknown,
): { value: DdbFaissConfig[K] } | { problem: string } {
  const result = v.safeParse(SETTINGS[name].schema, raw, { abortPipeEarly: true });
  return result.success ? { value: result.output as DdbFaissConfig[K] } : { problem: result.issues[0].message };
}

/** The settings the CDK app deploys, by name. */
export type DeployedSettings = Pick<DdbFaissConfig, (typeof DEPLOYED_SETTINGS)[number]>;

/**
 * Parses deployed settings given to the CDK app (as context text or stack props), in one pass.
 * @returns the typed settings, and the problems, each naming the setting and the source
 */
export function parseDeployedSettings(
  given: Readonly<Record<string, unknown>>,
  source: string,
): { settings: Partial<DeployedSettings>; problems: string[] } {
  const settings: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(given)) {
    if (!(DEPLOYED_SETTINGS as readonly string[]).includes(name)) {
      problems.push(`${name} (${source}): not a deployed setting; deployed settings: ${DEPLOYED_SETTINGS.join(', ')}`);
      continue;
    }
    const parsed = parseSetting(name as SettingName, value);
    if ('problem' in parsed) problems.push(`${name} (${source}): ${parsed.problem}`);
    else settings[name] = parsed.value;
  }
  return { settings: settings as Partial<DeployedSettings>, problems };
}

/** The problems of deployed settings, each naming the setting and the source. */
export const deployedSettingProblems = (given: Readonly<Record<string, unknown>>, source: string): string[] =>
  parseDeployedSettings(given, source).problems;

/** The functions' environment for deployed settings: each setting's variable, defaults filled in. */
export function deployedEnvironment(settings: Partial<DeployedSettings>): Record<string, string> {
  return Object.fromEntries(
    DEPLOYED_SETTINGS.flatMap((name) => {
      const value = settings[name] ?? defaultOf(name);
      // An optional setting left unset stays out: its variable unset means "unset".
      return value === undefined ? [] : [[SETTINGS[name].env, String(value)]];
    }),
  );
}

/**
 * One setting from the environment alone (else its default), for tools that run before or
 * without a loaded configuration: the model cache and the STS data folder.
 * @throws {Error} naming the variable when its value is invalid
 */
export function settingFromEnv<K extends SettingName>(name: K, env: Environment = process.env): DdbFaissConfig[K] {
  const raw = env[SETTINGS[name].env];
  if (raw === undefined || raw === '') return defaultOf(name, env);
  const parsed = parseSetting(name, raw);
  if ('problem' in parsed) throw new Error(`${name} (env ${SETTINGS[name].env}): ${parsed.problem}`);
  return parsed.value;
}

/** The settings that decide who may call the search API. */
type AuthorizationSettings = Partial<
  Pick<
    DdbFaissConfig,
    'apiAuthorization' | 'jwtIssuer' | 'jwtAudience' | 'tenantClaim' | 'localJwtSecret' | 'localJwksFile'
  >
>;

/**
 * Rules across the authorization settings, each problem naming its setting: the tenant claim and
 * local JWT checking are for `jwt` authorization only, and checking tokens (on AWS, or locally
 * with a secret or key set) needs the issuer and audience they are checked against.
 * @param deploying whether the settings are a stack's, whose API Gateway checks the tokens
 */
export function authorizationProblems(settings: AuthorizationSettings, source?: string, deploying = false): string[] {
  const at = (name: string): string => (source ? `${name} (${source})` : name);
  const problems: string[] = [];
  const mode = settings.apiAuthorization ?? defaultOf('apiAuthorization');
  const localKeys = (['localJwtSecret', 'localJwksFile'] as const).filter((name) => settings[name] !== undefined);
  if (mode !== 'jwt') {
    for (const name of ['tenantClaim', ...localKeys] as const)
      if (settings[name] !== undefined)
        problems.push(`${at(name)}: needs apiAuthorization=jwt (it is ${mode}): only a JWT carries claims`);
    return problems;
  }
  if (localKeys.length > 1)
    problems.push(`${at('localJwksFile')}: set either localJwtSecret or localJwksFile, not both`);
  if (deploying || localKeys.length > 0) {
    const checker = deploying ? '`jwt` authorization' : `checking tokens locally (${localKeys[0]})`;
    if (!settings.jwtIssuer) problems.push(`${at('jwtIssuer')}: ${checker} needs the OIDC issuer URL`);
    if ((settings.jwtAudience ?? []).length === 0)
      problems.push(`${at('jwtAudience')}: ${checker} needs at least one audience (client id)`);
  }
  return problems;
}
