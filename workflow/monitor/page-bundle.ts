/**
 * The monitor page's code: TypeScript under `page/`, checked by tsc and eslint with the rest,
 * bundled by esbuild (with uPlot) into one ES module the first time the page asks for it.
 */
import { build } from 'esbuild';
import { projectPath } from '../../config/project.ts';

const ENTRY = projectPath('workflow/monitor/page/main.ts');

let bundled: Promise<string> | undefined;

/** The bundled page script; built once per process (a failed build is tried again on the next request). */
export function pageScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  }).then(
    (result) => result.outputFiles[0]!.text,
    (error: unknown) => {
      bundled = undefined;
      throw error;
    },
  );
  return bundled;
}
