// Compiles the CLI once (esbuild: TypeScript in, ES modules out, one chunk per lazily loaded
// command) into dist/cli/, so `ddb-faiss` starts without transpiling. Packages stay in
// node_modules. Run by the postinstall, by `npm start`/`npm test` when the sources are newer,
// and by `npm run build`. bin/ddb-faiss.js uses the build only while it is newer than every
// source file, and the sources through tsx otherwise.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_BUILD_DIR, CLI_BUILD_INFO, CLI_ENTRY } from './cli-build-state.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
rmSync(CLI_BUILD_DIR, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: CLI_ENTRY },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir: CLI_BUILD_DIR,
  outExtension: { '.js': '.mjs' },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
// Written last: its time is the build's, and its inputs are what the build is checked against.
const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.includes('node_modules/'));
writeFileSync(CLI_BUILD_INFO, JSON.stringify({ builtAt: new Date().toISOString(), inputs }, null, 2));
console.log(`ddb-faiss: CLI compiled into ${path.relative(root, CLI_BUILD_DIR)}/ in ${Date.now() - started} ms`);
