/**
 * The usage `npm run bench:cost` measured, as the checkout carries it (`bench/results.json`'s
 * `cost.usage`): what `ddb-faiss cost` and the generated cost tables multiply out.
 *
 * @example
 * ```ts
 * const estimate = monthlyEstimate(workload, readMeasuredUsage());
 * ```
 */
import { readFileSync } from 'node:fs';
import { UserFacingError } from '../config/errors.ts';
import { projectPath } from '../config/project.ts';
import type { MeasuredUsage } from './estimate.ts';

/** Thrown when the checkout holds no measured usage to price (`npm run bench:cost` not run). */
export class NoMeasuredUsageError extends UserFacingError {
  override readonly name = 'NoMeasuredUsageError';
  readonly code = 'no-measured-usage';
}

/** The measured usage `bench/results.json` carries. @throws {NoMeasuredUsageError} */
export function readMeasuredUsage(file = projectPath('bench/results.json')): MeasuredUsage {
  let usage: MeasuredUsage | undefined;
  try {
    usage = (JSON.parse(readFileSync(file, 'utf8')) as { cost?: { usage?: MeasuredUsage } }).cost?.usage;
  } catch {
    usage = undefined;
  }
  if (!usage)
    throw new NoMeasuredUsageError(`${file} holds no measured usage to price: run \`npm run bench:cost\` first`);
  return usage;
}
