#!/usr/bin/env -S node --openssl-legacy-provider
// The ddb-faiss command. It runs the compiled CLI (dist/cli/, built at install time) while that
// build is newer than every source file, and the TypeScript sources through tsx otherwise (a
// checkout being edited). --openssl-legacy-provider: the local S3 stand-in (s3rver) uses DES
// for listing continuation tokens, which OpenSSL 3 only offers as a legacy cipher.
import { CLI_BUILD, cliBuildIsCurrent } from '../scripts/cli-build-state.js';

// The SDK's advice to move off Node 20 is in README.md; it should not clutter every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
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
