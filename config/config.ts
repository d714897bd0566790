/**
 * Loads the one typed configuration: defaults, then a config file, then environment
 * variables, then command-line flags. Every problem is collected and reported together,
 * each naming the setting and where its bad value came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type DdbFaissConfig, defaultValues, settingSpecs } from './settings.ts';

export type { DdbFaissConfig, IndexLayout, Target } from './settings.ts';

/** The config file read when none is named. */
export const DEFAULT_CONFIG_FILE = 'ddb-faiss.config.json';

/** Thrown when configuration is invalid; `problems` lists every bad setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Inputs to {@link loadConfig}; each is optional so tests can pass exactly what they mean. */
export interface LoadConfigOptions {
  /** Flag values by flag name (e.g. `{ 'data-dir': '/tmp/x' }`). @default {} */
  readonly flags?: Readonly<Record<string, string | undefined>>;
  /** Environment. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Config file path; a named file must exist. @default `$DDB_FAISS_CONFIG` or ./ddb-faiss.config.json if present */
  readonly configFile?: string;
  /** Directory relative paths resolve against. @default process.cwd() */
  readonly cwd?: string;
}

type Keys = keyof DdbFaissConfig;
const keys = Object.keys(settingSpecs) as Keys[];

/** Builds and validates the configuration. @throws {ConfigError} naming every invalid setting */
export function loadConfig(options: LoadConfigOptions = {}): DdbFaissConfig {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const raw = new Map<Keys, { value: unknown; source: string }>();

  const named = options.configFile ?? flags['config'] ?? env['DDB_FAISS_CONFIG'];
  const configFile = named ? path.resolve(cwd, named) : path.resolve(cwd, DEFAULT_CONFIG_FILE);
  if (named && !existsSync(configFile)) {
    problems.push(`config file ${configFile} does not exist`);
  } else if (existsSync(configFile)) {
    readConfigFile(configFile, raw, problems);
  }
  for (const key of keys) {
    const spec = settingSpecs[key];
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') raw.set(key, { value: fromEnv, source: `env ${spec.env}` });
    const fromFlag = flags[spec.flag];
    if (fromFlag !== undefined) raw.set(key, { value: fromFlag, source: `flag --${spec.flag}` });
  }

  const config: Record<string, unknown> = { ...defaultValues };
  // A deployed stack's outputs sit between the defaults and every explicit source.
  const targetRaw = raw.get('target')?.value;
  if (targetRaw === 'aws') {
    const dataDir = path.resolve(cwd, String(raw.get('dataDir')?.value ?? defaultValues.dataDir));
    for (const [key, value] of Object.entries(readDeployOutputs(dataDir))) {
      if (!raw.has(key as Keys)) raw.set(key as Keys, { value, source: `deploy outputs ${deployOutputsFile(dataDir)}` });
    }
  }
  for (const [key, { value, source }] of raw) {
    const parsed = parseSetting(key, value);
    if (typeof parsed === 'object' && parsed !== null && 'problem' in parsed) {
      problems.push(`${key} (${source}): ${parsed.problem}`);
    } else {
      config[key] = parsed;
    }
  }
  const attributes = ['groupAttribute', 'idAttribute', 'contentAttribute', 'pendingAttribute'] as const;
  const names = attributes.map((key) => config[key]);
  attributes.forEach((key, i) => {
    if (names.indexOf(names[i]) !== i) problems.push(`${key}: "${String(names[i])}" is already the name of another attribute`);
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = path.resolve(cwd, config['dataDir'] as string);
  const efsRoot = raw.has('efsRoot') ? path.resolve(cwd, config['efsRoot'] as string) : path.join(dataDir, 'efs');
  return Object.freeze({ ...(config as Omit<DdbFaissConfig, 'dataDir' | 'efsRoot'>), dataDir, efsRoot });
}

/** Where `ddb-faiss deploy` writes the stack's outputs. */
export function deployOutputsFile(dataDir: string): string {
  return path.join(dataDir, 'aws-outputs.json');
}

/** The deployed stack's outputs as settings (table, bucket, state machine, search URL). */
function readDeployOutputs(dataDir: string): Partial<Record<Keys, string>> {
  const file = deployOutputsFile(dataDir);
  if (!existsSync(file)) return {};
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const outputs = Object.values(stacks)[0] ?? {};
  const settings: Partial<Record<Keys, string>> = {};
  if (outputs['TableName']) settings.tableName = outputs['TableName'];
  if (outputs['BucketName']) settings.bucketName = outputs['BucketName'];
  if (outputs['StateMachineArn']) settings.stateMachineArn = outputs['StateMachineArn'];
  if (outputs['ApiUrl']) settings.searchUrl = outputs['ApiUrl'];
  return settings;
}

function readConfigFile(file: string, raw: Map<Keys, { value: unknown; source: string }>, problems: string[]): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    problems.push(`config file ${file} is not valid JSON: ${(error as Error).message}`);
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${file} must hold a JSON object`);
    return;
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in settingSpecs)) {
      problems.push(`${key} (config file ${file}): unknown setting; known settings: ${keys.join(', ')}`);
      continue;
    }
    raw.set(key as Keys, { value, source: `config file ${file}` });
  }
}

const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function parseSetting(key: Keys, value: unknown): unknown {
  const spec = settingSpecs[key];
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string') return { problem: `expected a ${spec.kind}, got ${JSON.stringify(value)}` };
  switch (spec.kind) {
    case 'layout':
      return text === 'global' || text === 'per-group' ? text : { problem: `must be "global" or "per-group", got "${text}"` };
    case 'target':
      return text === 'local' || text === 'aws' ? text : { problem: `must be "local" or "aws", got "${text}"` };
    case 'port': {
      const port = Number(text);
      return Number.isInteger(port) && port >= 0 && port <= 65535 ? port : { problem: `must be a port 0..65535, got "${text}"` };
    }
    case 'positiveInt':
    case 'nonNegativeInt': {
      const n = Number(text);
      const min = spec.kind === 'positiveInt' ? 1 : 0;
      return Number.isSafeInteger(n) && n >= min ? n : { problem: `must be an integer >= ${min}, got "${text}"` };
    }
    case 'url':
      try {
        const url = new URL(text);
        return url.protocol === 'http:' || url.protocol === 'https:' ? text.replace(/\/$/, '') : { problem: `must be an http(s) URL, got "${text}"` };
      } catch {
        return { problem: `must be a URL, got "${text}"` };
      }
    case 'string':
      if (text.trim() === '') return { problem: 'must not be empty' };
      if (key.endsWith('Attribute') || key === 'pendingIndexName' || key === 'tableName') {
        return ATTRIBUTE_NAME.test(text) ? text : { problem: `"${text}" is not a valid DynamoDB name (letters, digits, _ . -)` };
      }
      if (key === 'scheduleEvery') {
        return /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text) ? text : { problem: `"${text}" is not a duration: use e.g. 30s, 5m, 1h` };
      }
      if (key === 'bucketName') {
        return BUCKET_NAME.test(text) ? text : { problem: `"${text}" is not a valid S3 bucket name` };
      }
      return text;
  }
}

/** The command-line flags every command accepts, for `util.parseArgs`. */
export function configFlagOptions(): Record<string, { type: 'string' }> {
  const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const key of keys) options[settingSpecs[key].flag] = { type: 'string' };
  return options;
}
