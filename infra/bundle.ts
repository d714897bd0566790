/**
 * Bundles the Lambda entry points (`tasks/lambda.ts`) with esbuild, offline, into one module;
 * the image's build context holds it as `infra/lambda-image/dist/lambda.mjs` (`lambda-image.ts`).
 * Native modules stay external: the image installs them for Amazon Linux.
 */
import { buildSync } from 'esbuild';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/project.ts';

// The checkout, found the same from the sources and from the compiled CLI (dist/cli/), which
// `ddb-faiss deploy` runs: a path relative to this module's own file would point into dist/.
const REPO_ROOT = PROJECT_ROOT;
/** Native (or native-loading) packages the image provides. */
export const EXTERNAL_PACKAGES = ['faiss-node', 'onnxruntime-node'];

/** What {@link bundleLambdas} built. */
export interface LambdaBundle {
  readonly file: string;
  readonly bytes: number;
  /** Every source file in the bundle, relative to the repository (packages under `node_modules/`). */
  readonly inputs: readonly string[];
  /** What the bundle imports at run time instead of holding it: Node's modules and {@link EXTERNAL_PACKAGES}. */
  readonly externals: readonly string[];
}

/**
 * Bundles the Lambda entry points into `outfile` (and its source map beside it).
 * @example
 * ```ts
 * const { bytes, inputs } = bundleLambdas(path.join(contextDir, 'infra/lambda-image/dist/lambda.mjs'));
 * ```
 */
export function bundleLambdas(outfile: string): LambdaBundle {
  const result = buildSync({
    absWorkingDir: REPO_ROOT,
    entryPoints: [path.join(REPO_ROOT, 'tasks/lambda.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile,
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
  const output = Object.values(result.metafile.outputs).find((entry) => entry.entryPoint);
  const externals = [...new Set((output?.imports ?? []).filter((entry) => entry.external).map((entry) => entry.path))];
  return { file: outfile, bytes: output?.bytes ?? 0, inputs: Object.keys(result.metafile.inputs), externals };
}
