/**
 * Starting and watching indexer executions through `@aws-sdk/client-sfn`: the same calls
 * against the local stack and a deployed one.
 */
import { advise } from '../config/advice.ts';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { DdbFaissConfig } from '../config/config.ts';
import { executionNameFor, type RunOrigin } from '../asl/run-origins.ts';
import { type RunProgress, summarizeHistory, withMapRunCounts } from './run-progress.ts';
import { UserFacingError } from '../config/errors.ts';

export { originOf, RUN_ORIGINS, type RunOrigin } from '../asl/run-origins.ts';

/** Thrown when the indexer state machine cannot be found for the target. */
export class StateMachineNotFoundError extends UserFacingError {
  override readonly name = 'StateMachineNotFoundError';
  readonly code = 'state-machine-not-found';
}

export async function resolveStateMachineArn(config: DdbFaissConfig, sfn: SFNClient): Promise<string> {
  if (config.stateMachineArn) return config.stateMachineArn;
  if (config.target === 'local') {
    const { readStackInfo } = await import('../local-stack/stack-info.ts');
    const arn = readStackInfo(config)?.stateMachineArn;
    if (arn) return arn;
  }
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken }));
    const found = page.stateMachines?.find((machine) => machine.name === config.stateMachineName);
    if (found?.stateMachineArn) return found.stateMachineArn;
    nextToken = page.nextToken;
  } while (nextToken);
  throw new StateMachineNotFoundError(
    `no state machine named ${config.stateMachineName} (target ${config.target}); ` +
      `start ${advise('startStack', config.target === 'local' ? config.dataDir : undefined)} or deploy the stack`,
  );
}

/** Thrown when a run asked to be redriven does not exist, or cannot be redriven (it succeeded, or still runs). */
export class RunNotRedrivableError extends UserFacingError {
  override readonly name = 'RunNotRedrivableError';
  readonly code = 'run-not-redrivable';
}

/**
 * Starts a run by hand or on a schedule (captured changes start theirs in `indexer/capture.ts`), with
 * the workflow's input given, or the one its origin implies.
 */
export async function startRun(
  sfn: SFNClient,
  stateMachineArn: string,
  origin: Exclude<RunOrigin, 'captured'>,
  input: Readonly<Record<string, unknown>> = origin === 'backfill' ? { mode: 'backfill' } : { mode: 'incremental' },
): Promise<string> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      name: executionNameFor(origin),
      input: JSON.stringify(input),
    }),
  );
  return executionArn!;
}

/**
 * Redrives a run by name: it goes on from the state that did not succeed, with that state's input
 * (Step Functions' RedriveExecution; the local engine does the same). @returns its ARN, unchanged
 */
export async function redriveRun(sfn: SFNClient, stateMachineArn: string, execution: string): Promise<string> {
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
  try {
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist)
      throw new RunNotRedrivableError(`no run named ${execution}`, {
        hint: 'ddb-faiss status lists the recent runs by name',
        cause: error,
      });
    if (error instanceof ExecutionNotRedrivable)
      throw new RunNotRedrivableError(`${execution} cannot be redriven: ${error.message}`, {
        hint: 'only a run that failed, was stopped or timed out in the last 14 days can be; start a new run instead',
        cause: error,
      });
    throw error;
  }
  return executionArn;
}

export async function readHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/**
 * An execution's progress: from its history, and, once its Distributed Map has started, from
 * that Map Run's counts (its iterations are child executions, outside the history).
 */
export async function readProgress(sfn: SFNClient, executionArn: string): Promise<RunProgress> {
  const history = await readHistory(sfn, executionArn);
  const progress = summarizeHistory(history);
  const mapRunArn = history.findLast((event) => event.mapRunStartedEventDetails)?.mapRunStartedEventDetails?.mapRunArn;
  if (!mapRunArn) return progress;
  const counts = (await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).itemCounts;
  return counts ? withMapRunCounts(progress, counts) : progress;
}

/** Polls an execution until it ends, reporting progress after each poll. */
export async function watchRun(
  sfn: SFNClient,
  executionArn: string,
  onProgress: (progress: RunProgress, execution: DescribeExecutionCommandOutput) => void | Promise<void>,
  intervalMs = 500,
): Promise<DescribeExecutionCommandOutput> {
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    await onProgress(await readProgress(sfn, executionArn), execution);
    if (execution.status !== 'RUNNING') return execution;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
