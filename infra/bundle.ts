/**
 * Bundles the Lambda entry points (`tasks/lambda.ts`) with esbuild, offline, at synth time,
 * into `infra/lambda-image/dist/lambda.mjs`; the container image copies that file. Native
 * modules stay external: the image installs them for Amazon Linux.
 */
import { buildSync } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LAMBDA_BUNDLE = path.join(REPO_ROOT, 'infra/lambda-image/dist/lambda.mjs');
/** Native (or native-loading) packages the image provides. */
export const EXTERNAL_PACKAGES = ['faiss-node', 'onnxruntime-node'];

export function bundleLambdas(): { file: string; bytes: number } {
  const result = buildSync({
    entryPoints: [path.join(REPO_ROOT, 'tasks/lambda.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile: LAMBDA_BUNDLE,
    external: EXTERNAL_PACKAGES,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // Some bundled CommonJS packages call require(); ESM output needs it defined.
    banner: {
      js:
        "import { createRequire as __createRequire } from 'node:module'; " +
        'const require = __createRequire(import.meta.url);',
    },
  });
  const output =
    result.metafile.outputs[path.relative(process.cwd(), LAMBDA_BUNDLE)] ??
    Object.values(result.metafile.outputs).find((entry) => entry.entryPoint);
  return { file: LAMBDA_BUNDLE, bytes: output?.bytes ?? 0 };
}
