/** Where a bench's figures come from: when, at which commit, on what machine. */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface BenchProvenance {
  readonly date: string;
  readonly commit: string;
  readonly machine: { readonly cores: number; readonly cpu: string; readonly memory_gb: number };
}

/** This moment, the checkout's commit and this machine, as the bench results record them. */
export function benchProvenance(): BenchProvenance {
  return {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      memory_gb: Math.round(totalmem() / 2 ** 30),
    },
  };
}
