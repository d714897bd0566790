/** What every indexer stage needs: the configuration and AWS clients (created once per process). */
import type { DdbFaissConfig } from '../config/config.ts';
import type { AwsClients } from '../aws/clients.ts';

export interface IndexerContext {
  readonly config: DdbFaissConfig;
  /** Step Functions is asked only whether a lease holder is still running. */
  readonly clients: Pick<AwsClients, 'dynamodb' | 's3' | 'stepFunctions'>;
}

/** The run descriptor the state machine passes to every stage. */
export interface RunInfo {
  readonly mode: 'incremental' | 'backfill';
  /** The execution's name (`$$.Execution.Name`). */
  readonly execution: string;
  /** The execution's ARN (`$$.Execution.Id`): how another run asks whether this one still runs. */
  readonly executionArn: string;
  /** When the execution started (`$$.Execution.StartTime`, ISO 8601): a run's duration counts from it. */
  readonly startedAt?: string;
}

/** The model bundle a run uses, as bootstrap found it on EFS. */
export interface ModelDescriptor {
  readonly name: string;
  readonly checksum: string;
  readonly dimensions: number;
  /** Bundle folder relative to the EFS root. */
  readonly dir: string;
}
