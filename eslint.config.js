// Lint for ddb-faiss: typescript-eslint's recommended rules, a 120-column limit, and the
// dependency direction between the production core (what runs in Lambda) and the local tools.
// `npm test` runs it with --max-warnings 0.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** The production core: the code a Lambda function runs. */
const CORE = ['asl', 'tasks', 'table', 'indexer', 'search', 'index-store', 'embedding', 'config', 'aws'];
/**
 * Local tools: the embedded stack and engine, handlers hosted in this process (`lambda-host`: Lambda's
 * context, event filtering, stream records, file observability), local HTTP servers (`local-http`), the CLI
 * and monitor, the CDK app, the cost model, model building, bench, tests.
 */
const LOCAL = [
  'cost',
  'local-stack',
  'lambda-host',
  'local-http',
  'workflow',
  'infra',
  'models',
  'bench',
  'scripts',
  'test',
  'bin',
];
const dirs = (names) => names.map((name) => `./${name}`);

/**
 * Each zone is named for the direction it guards (the name leads the message). A file in
 * `target` may not import from `from`.
 */
const zones = [
  {
    target: dirs(CORE),
    from: dirs(LOCAL),
    message:
      'core-not-to-local: code that runs in Lambda imports nothing from the local stack, the CLI, ' +
      'models, bench or tests.',
  },
  {
    target: dirs(['local-stack']),
    from: dirs(['workflow', 'infra', 'models', 'bench', 'scripts', 'test', 'bin']),
    message:
      'local-stack-not-to-tools: the local stack and engine depend on the core only; the CLI and tools build on them.',
  },
  {
    target: dirs(['lambda-host', 'local-http']),
    from: dirs(LOCAL.filter((dir) => dir !== 'lambda-host' && dir !== 'local-http')),
    message:
      'hosting-not-to-emulator: hosting a handler in this process and serving HTTP locally need the core only; ' +
      'the CLI runs them against AWS too, so they never load the local stack.',
  },
  {
    target: dirs(['infra']),
    from: dirs(['local-stack', 'lambda-host', 'local-http', 'workflow', 'models', 'bench', 'scripts', 'test']),
    message: 'infra-to-core-only: the CDK app deploys the core; it never needs the local tools.',
  },
  {
    target: dirs(['cost']),
    from: dirs(['local-stack', 'lambda-host', 'local-http', 'workflow', 'models', 'bench', 'scripts', 'test']),
    message:
      'cost-from-definitions: the cost model prices from the price table, the measured usage and the ' +
      "stack's sizing; the CLI and the bench build on it, never the reverse.",
  },
  {
    target: dirs(['workflow', 'models', 'scripts', 'infra', 'local-stack', 'lambda-host', 'local-http', 'cost']),
    from: dirs(['test']),
    message: "tools-not-to-tests: tests use the tools, never the reverse (benches share the tests' scratch helpers).",
  },
  // Within the core, lower layers never import higher ones.
  {
    target: dirs(['config']),
    from: dirs(CORE.filter((dir) => dir !== 'config')),
    message: 'core-layers: config depends on nothing else.',
  },
  {
    target: dirs(['aws']),
    from: dirs(['asl', 'tasks', 'table', 'indexer', 'search', 'index-store', 'embedding']),
    message: 'core-layers: aws/ (clients, errors, batching) depends on config only.',
  },
  {
    target: dirs(['embedding', 'index-store']),
    from: dirs(['asl', 'tasks', 'table', 'indexer', 'search']),
    message: 'core-layers: the embedding runtime and the index store know nothing of stages, search or tasks.',
  },
  {
    target: dirs(['table']),
    from: dirs(['asl', 'tasks', 'indexer', 'search']),
    message: 'core-layers: the table schema knows nothing of stages, search or tasks.',
  },
  {
    target: dirs(['search']),
    from: dirs(['indexer', 'tasks', 'asl']),
    message: 'core-layers: search reads what the indexer publishes, through the index store, not the indexer.',
  },
  {
    target: dirs(['indexer']),
    from: dirs(['search', 'tasks', 'asl']),
    message: 'core-layers: the stages know nothing of their handlers or the state machine.',
  },
  {
    target: dirs(['asl']),
    from: dirs(CORE.filter((dir) => dir !== 'asl')),
    message: 'core-layers: the workflow definition is data; it imports no runtime code.',
  },
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'cdk.out/',
      'infra/lambda-image/dist/',
      '.ddb-faiss/',
      'test-artifacts/',
      '.cache/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX, '@stylistic': stylistic },
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        structuredClone: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
      },
    },
    settings: {
      'import-x/resolver': { node: { extensions: ['.ts', '.js'] } },
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
      // no-circular: modules that import each other cannot be read (or loaded) one at a time.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // core-not-to-dev-dependencies: the Lambda bundle holds only production dependencies.
      'import-x/no-extraneous-dependencies': 'off',
      // Test titles are sentences; they may run long.
      '@stylistic/max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true, ignorePattern: '^\\s*(it|describe)\\(' },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // A variable a closure reads before its one assignment (a handler built before its owner) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: CORE.map((dir) => `${dir}/**/*.ts`),
    rules: { 'import-x/no-extraneous-dependencies': ['error', { devDependencies: false, includeTypes: false }] },
  },
  {
    // The monitor page builds its markup in template literals: a line of markup reads best whole.
    files: ['workflow/monitor/page/**/*.ts'],
    rules: {
      '@stylistic/max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreTemplateLiterals: true, ignoreStrings: true },
      ],
    },
  },
  {
    // The page runs in the browser: it imports only the monitor's view types and browser packages.
    files: ['workflow/monitor/page/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^node:', message: 'the monitor page runs in the browser: no Node.js modules' }] },
      ],
    },
  },
  {
    // Tests inspect JSON answers loosely.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Settings reach code through config/ (loadConfig, settingFromEnv): no other module reads the environment.
    files: ['**/*.ts'],
    ignores: ['config/**', 'test/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'read settings through config/ (loadConfig), not process.env' },
      ],
    },
  },
);
