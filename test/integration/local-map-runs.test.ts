/**
 * The local Step Functions keeps AWS's 25,000-event history cap, and runs a Distributed Map's
 * iterations as child executions with histories of their own (a Map Run), answered through
 * @aws-sdk/client-sfn: the same 6,300 items that break the cap in an inline Map leave the parent's
 * history a few events long in a Distributed one.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  paginateGetExecutionHistory,
  paginateListExecutions,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskHandler } from '../../tasks/handler.ts';
import { useTestStack } from '../helpers/local-stack.ts';

const BUCKET = 'ddb-faiss-assets';
const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function';

/**
 * Counts to `$.times` in a Pass/Choice loop: 4 history events a turn, plus 4 (ExecutionStarted,
 * the Succeed state's two, ExecutionSucceeded), so `times` 6,249 makes exactly 25,000.
 */
const loopMachine = JSON.stringify({
  StartAt: 'Count',
  States: {
    Count: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.n, 1)', 'times.$': '$.times' }, Next: 'More?' },
    'More?': {
      Type: 'Choice',
      Choices: [{ Variable: '$.n', NumericLessThanPath: '$.times', Next: 'Count' }],
      Default: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
});

/** A Map over `$.items` whose iterations run one Pass, inline or distributed. */
const passMap = (mode: 'INLINE' | 'DISTRIBUTED') =>
  JSON.stringify({
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: {
          ProcessorConfig: { Mode: mode, ...(mode === 'DISTRIBUTED' ? { ExecutionType: 'STANDARD' } : {}) },
          StartAt: 'Keep',
          States: { Keep: { Type: 'Pass', End: true } },
        },
        ResultSelector: { 'count.$': 'States.ArrayLength($)' },
        End: true,
      },
    },
  });

/** A Distributed Map over `$.items` calling `check` (it fails item 2), writing its results to S3. */
const checkedMap = JSON.stringify({
  StartAt: 'Check all',
  States: {
    'Check all': {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Check',
        States: { Check: { Type: 'Task', Resource: `${LAMBDA}:check`, End: true } },
      },
      ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: BUCKET, Prefix: 'checked' } },
      ToleratedFailureCount: 1,
      MaxConcurrency: 2,
      ResultPath: '$.written',
      End: true,
    },
  },
});

describe('local Step Functions: history cap and Map Runs', () => {
  const test = useTestStack({
    handlers: new Map<string, TaskHandler>([
      [
        'check',
        async (event) => {
          if (event === 2) throw Object.assign(new Error('item 2 is bad'), { name: 'BadItem' });
          return { checked: event };
        },
      ],
    ]),
    stateMachines: { loop: loopMachine, inline: passMap('INLINE'), distributed: passMap('DISTRIBUTED'), checkedMap },
  });
  const sfn = () => test.stack.clients.stepFunctions;
  const history = async (executionArn: string) => {
    const events: HistoryEvent[] = [];
    for await (const page of paginateGetExecutionHistory({ client: sfn() }, { executionArn }))
      events.push(...(page.events ?? []));
    return events;
  };
  const run = async (machine: string, input: unknown) => {
    const { executionArn } = await sfn().send(
      new StartExecutionCommand({
        stateMachineArn: test.stack.stateMachineArns[machine],
        input: JSON.stringify(input),
      }),
    );
    await test.stack.stepFunctions.settled(executionArn!);
    const described = await sfn().send(new DescribeExecutionCommand({ executionArn }));
    return { executionArn: executionArn!, described, events: await history(executionArn!) };
  };
  const items = (count: number) => ({ items: Array.from({ length: count }, (_, i) => i) });

  describe('25,000 events', () => {
    it('lets an execution end with event 25,000 when that event is ExecutionSucceeded', async () => {
      const { described, events } = await run('loop', { n: 0, times: 6_249 });
      assert.equal(described.status, 'SUCCEEDED', described.cause);
      assert.equal(events.length, 25_000);
      assert.equal(events.at(-1)?.type, 'ExecutionSucceeded');
    });

    it('fails it at event 25,000 when the execution would go on', async () => {
      const { described, events } = await run('loop', { n: 0, times: 6_250 });
      assert.equal(described.status, 'FAILED');
      assert.equal(described.error, 'States.Runtime');
      assert.match(described.cause ?? '', /maximum number of events in its history \(25000\)/);
      assert.equal(events.length, 25_000);
      assert.equal(events.at(-1)?.type, 'ExecutionFailed');
      assert.equal(events.at(-1)?.id, 25_000);
    });

    it("counts an inline Map's iterations in the execution's history: 6,300 items break the cap", async () => {
      const { described, events } = await run('inline', items(6_300));
      assert.equal(described.status, 'FAILED');
      assert.equal(described.error, 'States.Runtime');
      assert.equal(events.length, 25_000);
    });

    it("keeps a Distributed Map's 6,300 iterations in child executions: the parent's history stays short", async () => {
      // Act
      const { executionArn, described, events } = await run('distributed', items(6_300));
      // Assess: AWS's parent history, the Map state around its Map Run
      assert.equal(described.status, 'SUCCEEDED', described.cause);
      assert.deepEqual(JSON.parse(described.output!), { count: 6_300 });
      assert.deepEqual(
        events.map((event) => event.type),
        [
          'ExecutionStarted',
          'MapStateEntered',
          'MapRunStarted',
          'MapRunSucceeded',
          'MapStateExited',
          'ExecutionSucceeded',
        ],
      );
      const mapRunArn = events[2]?.mapRunStartedEventDetails?.mapRunArn;
      assert.match(mapRunArn ?? '', /^arn:aws:states:[^:]+:\d+:mapRun:distributed\/Each:[0-9a-f-]{36}$/);
      // The Map Run and its children, as AWS's API shows them
      const listed = await sfn().send(new ListMapRunsCommand({ executionArn }));
      assert.deepEqual(
        listed.mapRuns?.map((run) => run.mapRunArn),
        [mapRunArn],
      );
      const mapRun = await sfn().send(new DescribeMapRunCommand({ mapRunArn }));
      assert.equal(mapRun.status, 'SUCCEEDED');
      assert.equal(mapRun.executionArn, executionArn);
      assert.deepEqual(
        { ...mapRun.itemCounts },
        {
          pending: 0,
          running: 0,
          succeeded: 6_300,
          failed: 0,
          timedOut: 0,
          aborted: 0,
          total: 6_300,
          resultsWritten: 0,
        },
      );
      const children = [];
      for await (const page of paginateListExecutions({ client: sfn() }, { mapRunArn }))
        children.push(...(page.executions ?? []));
      assert.equal(children.length, 6_300);
      assert.ok(children.every((child) => child.status === 'SUCCEEDED' && child.mapRunArn === mapRunArn));
      // ...and not among the machine's own executions
      const own = await sfn().send(
        new ListExecutionsCommand({ stateMachineArn: test.stack.stateMachineArns['distributed'] }),
      );
      assert.deepEqual(
        own.executions?.map((execution) => execution.executionArn),
        [executionArn],
      );
      // Each child has a history of its own
      const child = await sfn().send(new DescribeExecutionCommand({ executionArn: children[0]!.executionArn }));
      assert.equal(child.mapRunArn, mapRunArn);
      const childEvents = await history(children[0]!.executionArn!);
      assert.deepEqual(
        childEvents.map((event) => event.type),
        ['ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded'],
      );
      assert.equal(childEvents[0]?.executionStartedEventDetails?.input, child.input);
    });
  });

  it("records a failed iteration as a failed child execution, and names the children in ResultWriter's files", async () => {
    // Act
    const { described, events } = await run('checkedMap', items(4));
    // Assess
    assert.equal(described.status, 'SUCCEEDED', described.cause);
    const mapRunArn = events.find((event) => event.mapRunStartedEventDetails)?.mapRunStartedEventDetails?.mapRunArn;
    const mapRun = await sfn().send(new DescribeMapRunCommand({ mapRunArn }));
    assert.equal(mapRun.maxConcurrency, 2);
    assert.equal(mapRun.toleratedFailureCount, 1);
    assert.equal(mapRun.itemCounts?.succeeded, 3);
    assert.equal(mapRun.itemCounts?.failed, 1);
    assert.equal(mapRun.itemCounts?.resultsWritten, 4);
    const failed = await sfn().send(new ListExecutionsCommand({ mapRunArn, statusFilter: 'FAILED' }));
    assert.equal(failed.executions?.length, 1);
    const child = await sfn().send(new DescribeExecutionCommand({ executionArn: failed.executions![0]!.executionArn }));
    assert.equal(child.input, '2');
    assert.equal(child.error, 'BadItem');
    assert.match(child.cause ?? '', /item 2 is bad/);
    const childEvents = await history(child.executionArn!);
    assert.deepEqual(
      childEvents.map((event) => event.type),
      ['ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionFailed', 'ExecutionFailed'],
    );
    // The ResultWriter's records name the same child executions
    const written = (JSON.parse(described.output!) as { written: { ResultWriterDetails: { Key: string } } }).written;
    const read = async (key: string) =>
      JSON.parse(
        (await (
          await test.stack.clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
        ).Body?.transformToString()) ?? '',
      ) as unknown;
    const manifest = (await read(written.ResultWriterDetails.Key)) as { ResultFiles: { FAILED: { Key: string }[] } };
    const records = (await read(manifest.ResultFiles.FAILED[0]!.Key)) as { ExecutionArn: string; Input: string }[];
    assert.deepEqual(
      records.map((record) => [record.ExecutionArn, record.Input]),
      [[child.executionArn, '2']],
    );
  });

  it('refuses ListExecutions without exactly one of stateMachineArn and mapRunArn, as AWS does', async () => {
    await assert.rejects(sfn().send(new ListExecutionsCommand({})), { name: 'ValidationException' });
  });
});
