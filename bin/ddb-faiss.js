#!/usr/bin/env -S node --openssl-legacy-provider
// The ddb-faiss command. TypeScript sources run through tsx, registered here so the command
// works from any directory. --openssl-legacy-provider: the local S3 stand-in (s3rver) uses
// DES for listing continuation tokens, which OpenSSL 3 only offers as a legacy cipher.
import { register } from 'tsx/esm/api';

// The SDK's advice to move off Node 20 is in README.md; it should not clutter every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../workflow/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
