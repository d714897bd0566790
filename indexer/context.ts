/** What every indexer stage needs: the configuration and AWS clients (created once per process). */
import type { DdbFaissConfig } from '../config/config.ts';
import type { AwsClients } from '../aws/clients.ts';

export interface IndexerContext {
  readonly config: DdbFaissConfig;
  readonly clients: Pick<AwsClients, 'dynamodb' | 's3'>;
}

/** The run descriptor the state machine passes to every stage. */
export interface RunInfo {
  readonly mode: 'incremental' | 'backfill';
  readonly execution: string;
}

/** The model bundle a run uses, as bootstrap found it on EFS. */
export interface ModelDescriptor {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
  /** Bundle folder relative to the EFS root. */
  readonly dir: string;
}
