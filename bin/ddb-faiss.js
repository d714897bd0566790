#!/usr/bin/env -S node --openssl-legacy-provider
// The ddb-faiss command. It runs the compiled CLI (dist/cli/, built at install time) while that
// build is newer than every source file, and the TypeScript sources through tsx otherwise (a
// checkout being edited). --openssl-legacy-provider: the local S3 stand-in (s3rver) uses DES
// for listing continuation tokens, which OpenSSL 3 only offers as a legacy cipher.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI_BUILD, cliBuildIsCurrent } from '../scripts/cli-build-state.js';
import { pinnedNode } from '../scripts/node-runtime.js';

// Started by an older system Node (outside npm scripts): hand over to the project's Node 22.
const { major } = pinnedNode();
if (Number(process.versions.node.split('.')[0]) < major) {
  const projectNode = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
  if (!existsSync(projectNode)) {
    console.error(`ddb-faiss needs Node ${major} (this is ${process.version}); \`npm start\` installs it.`);
    process.exit(1);
  }
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  process.exit(spawnSync(projectNode, args, { stdio: 'inherit' }).status ?? 1);
}
// Output piped into `head` may close early: that is not an error worth a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
let cli;
if (cliBuildIsCurrent()) {
  cli = await import(CLI_BUILD);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../workflow/cli/main.ts');
}
process.exitCode = await cli.main(process.argv.slice(2));
