/**
 * Loads the one typed configuration: defaults, then a config file, then environment
 * variables, then command-line flags (later wins), each value checked by the setting's schema
 * in `config/settings.ts`. Every problem is collected and reported together, each naming the
 * setting and where its bad value came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  authorizationProblems,
  type DdbFaissConfig,
  defaultOf,
  parseSetting,
  type Setting,
  SETTING_NAMES,
  SETTINGS,
  type SettingName,
} from './settings.ts';
import { UserFacingError } from './errors.ts';

export type { DdbFaissConfig, IndexLayout, Target } from './settings.ts';

/** The config file read when none is named. */
export const DEFAULT_CONFIG_FILE = 'ddb-faiss.config.json';

/** Thrown when configuration is invalid; `problems` lists every bad setting. */
export class ConfigError extends UserFacingError {
  override readonly name = 'ConfigError';
  readonly code = 'invalid-config';
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

/** A raw value and where it came from, before its schema checks it. */
interface RawValue {
  readonly value: unknown;
  readonly source: string;
}

/**
 * Builds and validates the configuration.
 * @throws {ConfigError} naming every invalid setting and where its value came from
 *
 * @example
 * ```ts
 * import { loadConfig } from './config/config.ts';
 * const config = loadConfig({ flags: { 'batch-size': '100' } }); // + ddb-faiss.config.json, DDB_FAISS_* env
 * config.batchSize; // 100
 * ```
 */
export function loadConfig(options: LoadConfigOptions = {}): DdbFaissConfig {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const raw = new Map<SettingName, RawValue>();

  const named = options.configFile ?? flags['config'] ?? env['DDB_FAISS_CONFIG'];
  const configFile = path.resolve(cwd, named ?? DEFAULT_CONFIG_FILE);
  if (named && !existsSync(configFile)) {
    problems.push(`config file ${configFile} does not exist`);
  } else if (existsSync(configFile)) {
    readConfigFile(configFile, raw, problems);
  }
  for (const name of SETTING_NAMES) {
    const { env: envName, flag } = SETTINGS[name] as Setting<unknown>;
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') raw.set(name, { value: fromEnv, source: `env ${envName}` });
    const fromFlag = flag === undefined ? undefined : flags[flag];
    if (fromFlag !== undefined) raw.set(name, { value: fromFlag, source: `flag --${flag}` });
  }
  // A deployed stack's outputs sit between the defaults and every explicit source.
  if (raw.get('target')?.value === 'aws') {
    const dataDir = path.resolve(cwd, String(raw.get('dataDir')?.value ?? defaultOf('dataDir')));
    for (const [name, value] of Object.entries(readDeployOutputs(dataDir)) as [SettingName, string][]) {
      if (!raw.has(name)) raw.set(name, { value, source: `deploy outputs ${deployOutputsFile(dataDir)}` });
    }
  }

  const config: Record<string, unknown> = Object.fromEntries(SETTING_NAMES.map((name) => [name, defaultOf(name, env)]));
  for (const [name, { value, source }] of raw) {
    const parsed = parseSetting(name, value);
    if ('problem' in parsed) problems.push(`${name} (${source}): ${parsed.problem}`);
    else config[name] = parsed.value;
  }
  problems.push(...crossSettingProblems(config as DdbFaissConfig), ...authorizationProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = path.resolve(cwd, config['dataDir'] as string);
  const efsRoot = raw.has('efsRoot') ? path.resolve(cwd, config['efsRoot'] as string) : path.join(dataDir, 'efs');
  return Object.freeze({ ...(config as DdbFaissConfig), dataDir, efsRoot });
}

/** Rules across settings: the four item attributes must be four different names. */
export function crossSettingProblems(
  config: Pick<DdbFaissConfig, 'groupAttribute' | 'idAttribute' | 'contentAttribute' | 'pendingAttribute'>,
): string[] {
  const attributes = ['groupAttribute', 'idAttribute', 'contentAttribute', 'pendingAttribute'] as const;
  const names = attributes.map((name) => config[name]);
  return attributes.flatMap((name, i) =>
    names.indexOf(names[i]!) === i ? [] : [`${name}: "${names[i]}" is already the name of another attribute`],
  );
}

/** Where `ddb-faiss deploy` writes the stack's outputs. */
export function deployOutputsFile(dataDir: string): string {
  return path.join(dataDir, 'aws-outputs.json');
}

/** The deployed stack's outputs as settings (table, bucket, state machine, search URL, capture failure queue). */
function readDeployOutputs(dataDir: string): Partial<Record<SettingName, string>> {
  const file = deployOutputsFile(dataDir);
  if (!existsSync(file)) return {};
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const outputs = Object.values(stacks)[0] ?? {};
  const byOutput = {
    TableName: 'tableName',
    BucketName: 'bucketName',
    StateMachineArn: 'stateMachineArn',
    ApiUrl: 'searchUrl',
    ApiAuthorization: 'apiAuthorization',
    CaptureFailureQueueUrl: 'captureFailureQueueUrl',
  } as const;
  return Object.fromEntries(
    Object.entries(byOutput)
      .filter(([output]) => outputs[output])
      .map(([output, name]) => [name, outputs[output]]),
  );
}

function readConfigFile(file: string, raw: Map<SettingName, RawValue>, problems: string[]): void {
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
  for (const [name, value] of Object.entries(parsed)) {
    if (!(name in SETTINGS)) {
      problems.push(`${name} (config file ${file}): unknown setting; known settings: ${SETTING_NAMES.join(', ')}`);
      continue;
    }
    const row = SETTINGS[name as SettingName] as Setting<unknown>;
    if (row.flag === undefined) {
      problems.push(
        `${name} (config file ${file}): set it in the environment (${row.env}); the model tools read it there`,
      );
      continue;
    }
    raw.set(name as SettingName, { value, source: `config file ${file}` });
  }
}

/** The command-line flags every command accepts, for `util.parseArgs`. */
export function configFlagOptions(): Record<string, { type: 'string' }> {
  const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const name of SETTING_NAMES) {
    const flag = (SETTINGS[name] as Setting<unknown>).flag;
    if (flag !== undefined) options[flag] = { type: 'string' };
  }
  return options;
}
