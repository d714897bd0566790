/**
 * Scheduled incremental runs with EventBridge Scheduler's semantics: every interval starts an
 * execution, whether or not one is still running (EventBridge Scheduler has no "skip if
 * running" option). An overlapping run ends at once as skipped: taking the writer lease is
 * the first work a run does. Used by `ddb-faiss schedule` and by `up` when configured.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { DurationError, parseDuration } from '../config/duration.ts';
import { startRun } from './indexer-client.ts';

/**
 * A schedule's interval in milliseconds, in the one duration grammar (`30s`, `5m`, `1h`).
 * @throws {DurationError} for text that is not a duration, or one under a second
 */
export function parseInterval(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1000) throw new DurationError(`"${text}" is too short: the shortest interval is 1s`);
  return ms;
}

export interface SchedulerProps {
  readonly stepFunctions: SFNClient;
  readonly stateMachineArn: string;
  readonly everyMs: number;
  readonly log: (line: string) => void;
}

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<string | undefined> = Promise.resolve(undefined);

  constructor(private readonly props: SchedulerProps) {}

  /** Starts ticking; the first tick comes after one interval, as with a rate schedule. */
  start(): void {
    this.props.log(`scheduler: an incremental run every ${this.props.everyMs / 1000} s`);
    this.timer = setInterval(() => {
      this.inFlight = this.tick().catch((error: unknown) => {
        this.props.log(`scheduler: tick failed: ${(error as Error).message}`);
        return undefined;
      });
    }, this.props.everyMs);
  }

  /** One tick: start a scheduled run. @returns its execution ARN */
  async tick(): Promise<string> {
    const { stepFunctions, stateMachineArn, log } = this.props;
    const executionArn = await startRun(stepFunctions, stateMachineArn, 'scheduled');
    log(`scheduler: started ${executionArn.split(':').pop()}`);
    return executionArn;
  }

  /** Stops ticking and waits for a tick in progress to finish. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
