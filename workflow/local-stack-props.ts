/**
 * What `ddb-faiss up` hosts: the task handlers and the state machines from `asl/`. Kept apart
 * from the stack itself so tests can start a stack with handlers of their own.
 */
import type { DdbFaissConfig } from '../config/config.ts';
import type { LocalStackProps } from '../local-stack/stack.ts';

export async function localStackProps(config: DdbFaissConfig): Promise<LocalStackProps> {
  return { config, handlers: new Map() };
}
