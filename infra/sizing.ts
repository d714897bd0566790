/**
 * What the stack deploys that its cost depends on: each function's memory (and EFS access), and how
 * often the schedule starts a run. Read by the stack (`infra/functions.ts`, `infra/ddb-faiss.ts`) and
 * by the cost model (`cost/`), which must not load the CDK to read them.
 */
import type { FunctionName } from '../asl/tasks.ts';

/** How a function reaches the shared file system. */
export type EfsAccess = 'read-write' | 'read-only' | 'none';

/**
 * Memory and EFS access of each function, sized for its work at 1,000,000 items (peak RSS from
 * `npm run bench:cold-start`, docs/benchmarks.md): search holds the index and the model, merge the
 * index while it publishes the next generation, clear a backfill's clear list, embed the model and
 * one batch (its memory buys CPU). Functions without EFS run outside the VPC: the lease function
 * must reach the Step Functions API (DescribeExecution), which the isolated subnets (gateway
 * endpoints for S3 and DynamoDB only, no NAT) cannot.
 */
export const FUNCTIONS: Readonly<Record<FunctionName, { readonly memory: number; readonly efs: EfsAccess }>> = {
  lease: { memory: 512, efs: 'none' },
  bootstrap: { memory: 1024, efs: 'read-write' },
  plan: { memory: 1024, efs: 'read-write' },
  embed: { memory: 3008, efs: 'read-write' },
  merge: { memory: 4096, efs: 'read-write' },
  compact: { memory: 4096, efs: 'read-write' },
  clear: { memory: 2048, efs: 'read-only' },
  release: { memory: 256, efs: 'none' },
  search: { memory: 3008, efs: 'read-only' },
  capture: { memory: 512, efs: 'none' },
};

/** How often the schedule starts an incremental run, unless `scheduleMinutes` says otherwise. */
export const DEFAULT_SCHEDULE_MINUTES = 15;
