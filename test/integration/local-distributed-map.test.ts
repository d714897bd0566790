/**
 * A Distributed Map's ItemReader (S3 JSON and JSON Lines) and ResultWriter (S3, in AWS's
 * manifest layout) on the local Step Functions, through @aws-sdk/client-sfn and the local S3:
 * 3,000 items cross the Map while the state data stays a few hundred bytes.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskHandler } from '../../tasks/handler.ts';
import { useTestStack } from '../helpers/local-stack.ts';

const BUCKET = 'ddb-faiss-assets';

/** A Distributed Map whose iterations call one function, writing its results under `prefix`. */
const distributedMap = (fn: string, prefix: string, fields: Record<string, unknown>) => ({
  Type: 'Map',
  ItemProcessor: {
    ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    StartAt: 'Call',
    States: { Call: { Type: 'Task', Resource: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`, End: true } },
  },
  ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: BUCKET, Prefix: prefix } },
  ResultPath: '$.written',
  ...fields,
});

/** Reads its items from the S3 object named by `$.key`, and doubles each. */
const mapMachine = (inputType: 'JSON' | 'JSONL') =>
  JSON.stringify({
    StartAt: 'Fan out',
    States: {
      'Fan out': distributedMap('double', 'map-results', {
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: inputType },
          Parameters: { Bucket: BUCKET, 'Key.$': '$.key' },
        },
        ItemSelector: { 'n.$': '$$.Map.Item.Value', 'label.$': '$.label' },
        MaxConcurrency: 8,
        Next: 'Done',
      }),
      Done: { Type: 'Pass', End: true },
    },
  });

/** A Map over `$.items` whose iterations call `flaky` (it fails items 3 and 7), with extra Map fields. */
const tolerantMachine = (fields: Record<string, unknown>) =>
  JSON.stringify({
    StartAt: 'Each',
    States: {
      Each: distributedMap('flaky', 'tolerant', { ItemsPath: '$.items', MaxConcurrency: 3, End: true, ...fields }),
      ...('Catch' in fields
        ? { Handled: { Type: 'Pass', Result: 'handled', ResultPath: '$.handled', End: true } }
        : {}),
    },
  });

describe('local Step Functions: Distributed Map ItemReader and ResultWriter', () => {
  /** Iterations running at once, and the most seen. */
  const concurrency = { now: 0, most: 0 };
  const test = useTestStack({
    handlers: new Map<string, TaskHandler>([
      [
        'double',
        async (event) => ({ label: (event as { label: string }).label, twice: (event as { n: number }).n * 2 }),
      ],
      [
        'flaky',
        async (event) => {
          concurrency.most = Math.max(concurrency.most, ++concurrency.now);
          await new Promise((resolve) => setTimeout(resolve, 30));
          concurrency.now -= 1;
          if (event === 3 || event === 7)
            throw Object.assign(new Error(`item ${String(event)} is bad`), { name: 'BadItem' });
          return { ok: event };
        },
      ],
    ]),
    stateMachines: {
      json: mapMachine('JSON'),
      jsonl: mapMachine('JSONL'),
      strict: tolerantMachine({}),
      count2: tolerantMachine({ ToleratedFailureCount: 2 }),
      count1: tolerantMachine({ ToleratedFailureCount: 1 }),
      percent20: tolerantMachine({ ToleratedFailurePercentage: 20 }),
      percent10: tolerantMachine({ ToleratedFailurePercentage: 10 }),
      caught: tolerantMachine({
        Catch: [{ ErrorEquals: ['States.ExceedToleratedFailureThreshold'], ResultPath: '$.error', Next: 'Handled' }],
      }),
    },
  });
  const s3Text = async (key: string) =>
    (await (
      await test.stack.clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    ).Body?.transformToString()) ?? '';
  const run = async (machine: string, key: string, input: Record<string, unknown> = { key, label: 'x' }) => {
    const { stack } = test;
    const sfn = stack.clients.stepFunctions;
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: stack.stateMachineArns[machine], input: JSON.stringify(input) }),
    );
    await stack.stepFunctions.settled(executionArn!);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const history = (await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events ?? [];
    return { described, history };
  };

  it('reads 3,000 items from a JSON array in S3 and writes their results to S3; the state data stays small', async () => {
    // Prepare
    const items = Array.from({ length: 3_000 }, (_, i) => i);
    await test.stack.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'in/items.json', Body: JSON.stringify(items) }),
    );
    // Act
    const { described, history } = await run('json', 'in/items.json');
    // Assess: AWS's Map output, at the Map's ResultPath
    assert.equal(described.status, 'SUCCEEDED', described.cause);
    assert.ok((described.output ?? '').length < 1_000, `output of ${described.output?.length} characters`);
    const written = (
      JSON.parse(described.output!) as {
        written: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
      }
    ).written;
    assert.match(written.MapRunArn, /^arn:aws:states:[^:]+:\d+:mapRun:json\/Fan out:[0-9a-f-]{36}$/);
    assert.equal(written.ResultWriterDetails.Bucket, BUCKET);
    assert.match(written.ResultWriterDetails.Key, /^map-results\/[0-9a-f-]{36}\/manifest\.json$/);
    // AWS's layout: a manifest naming the result files, each a JSON array of child execution records
    const manifest = JSON.parse(await s3Text(written.ResultWriterDetails.Key)) as {
      ResultFiles: { SUCCEEDED: { Key: string }[]; FAILED: unknown[] };
    };
    assert.deepEqual(manifest.ResultFiles.FAILED, []);
    const records = (
      await Promise.all(
        manifest.ResultFiles.SUCCEEDED.map(
          async ({ Key }) => JSON.parse(await s3Text(Key)) as { Status: string; Output: string }[],
        ),
      )
    ).flat();
    assert.equal(records.length, 3_000);
    assert.ok(records.every((record) => record.Status === 'SUCCEEDED'));
    assert.deepEqual(
      records.map((record) => (JSON.parse(record.Output) as { twice: number }).twice).sort((a, b) => a - b),
      items.map((n) => n * 2),
    );
    // The local helpers never show in the history
    assert.ok(!history.some((event) => /⟨/.test(event.stateEnteredEventDetails?.name ?? '')));
    assert.ok(history.some((event) => event.stateEnteredEventDetails?.name === 'Fan out'));
  });

  it('reads JSON Lines', async () => {
    await test.stack.clients.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'in/items.jsonl', Body: '1\n2\n3\n' }),
    );
    const { described } = await run('jsonl', 'in/items.jsonl');
    assert.equal(described.status, 'SUCCEEDED', described.cause);
  });

  it('fails the execution when the item file is missing, with the S3 error', async () => {
    const { described } = await run('json', 'in/missing.json');
    assert.equal(described.status, 'FAILED');
    assert.match(`${described.error}: ${described.cause}`, /NoSuchKey|does not exist/);
  });

  describe('tolerated failures (items 3 and 7 of 10 fail)', () => {
    const items = { items: Array.from({ length: 10 }, (_, i) => i) };
    const outcome = async (machine: string) => (await run(machine, '', items)).described;

    it('fails the Map with States.ExceedToleratedFailureThreshold when no tolerance is set, as AWS does', async () => {
      const described = await outcome('strict');
      assert.equal(described.status, 'FAILED');
      assert.equal(described.error, 'States.ExceedToleratedFailureThreshold');
      assert.match(described.cause ?? '', /2 of 10 items failed/);
    });

    it('succeeds within ToleratedFailureCount and writes the failed items to FAILED_0.json with their errors', async () => {
      // Act
      const described = await outcome('count2');
      // Assess
      assert.equal(described.status, 'SUCCEEDED', described.cause);
      const key = (JSON.parse(described.output!) as { written: { ResultWriterDetails: { Key: string } } }).written
        .ResultWriterDetails.Key;
      const manifest = JSON.parse(await s3Text(key)) as { ResultFiles: Record<string, { Key: string }[]> };
      const failed = JSON.parse(await s3Text(manifest.ResultFiles['FAILED']![0]!.Key)) as {
        Error: string;
        Cause: string;
      }[];
      assert.deepEqual(
        failed.map((record) => record.Error),
        ['BadItem', 'BadItem'],
      );
      assert.match(failed[0]!.Cause, /item 3 is bad/);
      const succeeded = JSON.parse(await s3Text(manifest.ResultFiles['SUCCEEDED']![0]!.Key)) as unknown[];
      assert.equal(succeeded.length, 8);
      assert.equal((await outcome('count1')).error, 'States.ExceedToleratedFailureThreshold');
    });

    it('honours ToleratedFailurePercentage: 20% tolerates 2 of 10, 10% does not', async () => {
      assert.equal((await outcome('percent20')).status, 'SUCCEEDED');
      assert.equal((await outcome('percent10')).error, 'States.ExceedToleratedFailureThreshold');
    });

    it("lets the Map's Catch handle the threshold error", async () => {
      const described = await outcome('caught');
      assert.equal(described.status, 'SUCCEEDED');
      assert.equal((JSON.parse(described.output!) as { handled: string }).handled, 'handled');
    });

    it('runs at most MaxConcurrency iterations at once', () => {
      assert.equal(concurrency.most, 3);
    });
  });
});
