/**
 * Stream mode (issue 32): writers use the plain SDK (no ddb-faiss attribute, hard deletes), the
 * local stack follows the table's stream and the index follows the table within seconds; the
 * changes ddb-faiss makes itself start no work; a record that cannot be captured goes to the
 * failure destination without holding up the records behind it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { IndexerHarness } from '../helpers/indexer.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/local-stack.ts';
import {
  capturedChanges,
  indexedRevisions,
  settle,
  useStreamHarness,
  type WatchedStack,
  watchedHarness,
  writeWithFlakyCapture,
} from '../helpers/capture.ts';
import { captureFiles, readCaptureState, readFailureMessages } from '../../local-stack/stream-follower.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const TEXTS = [
  'a lighthouse keeper counts the ships at dawn',
  'the bakery sells warm rye bread every morning',
  'a violin string snapped during the concert',
  'volcanic ash covered the small island village',
  'the chess champion resigned after forty moves',
  'fresh snow fell on the mountain pass overnight',
  'a beekeeper harvested honey from twelve hives',
  'the submarine surfaced near the frozen coast',
];

describe('stream mode: plain writes, hard deletes', () => {
  const stack = useStreamHarness();
  const dir = { path: stack.dataDir };
  let h: IndexerHarness;
  before(() => {
    h = stack.h;
  });
  const watched = (): WatchedStack => watchedHarness(h);

  const item = (id: string, rev: number, text: string): Record<string, AttributeValue> => ({
    [h.config.groupAttribute]: { S: 'g' },
    [h.config.idAttribute]: { S: id },
    [h.config.contentAttribute]: { S: text },
    rev: { N: String(rev) },
  });
  const key = (id: string): Record<string, AttributeValue> => ({
    [h.config.groupAttribute]: { S: 'g' },
    [h.config.idAttribute]: { S: id },
  });
  const table = () => h.config.tableName;
  /** The user changes written by the first test, each one changing what the index reflects. */
  let userChanges = 0;

  it('reflects PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems with no ddb-faiss attribute', async () => {
    // Prepare
    const ddb = h.stack.clients.dynamodb;
    const send = async (write: Promise<unknown>, changes: number): Promise<void> => {
      await write;
      userChanges += changes;
    };
    // Act
    for (const [i, id] of ['a1', 'a2', 'a3'].entries())
      await send(ddb.send(new PutItemCommand({ TableName: table(), Item: item(id, 1, TEXTS[i]!) })), 1);
    await send(
      ddb.send(
        new UpdateItemCommand({
          TableName: table(),
          Key: key('a1'),
          UpdateExpression: 'SET #c = :c, rev = :r',
          ExpressionAttributeNames: { '#c': h.config.contentAttribute },
          ExpressionAttributeValues: { ':c': { S: TEXTS[3]! }, ':r': { N: '2' } },
        }),
      ),
      1,
    );
    await send(ddb.send(new DeleteItemCommand({ TableName: table(), Key: key('a2') })), 1);
    await send(
      ddb.send(
        new BatchWriteItemCommand({
          RequestItems: {
            [table()]: [
              { PutRequest: { Item: item('b1', 1, TEXTS[4]!) } },
              { PutRequest: { Item: item('b2', 1, TEXTS[5]!) } },
              { PutRequest: { Item: item('b3', 1, TEXTS[6]!) } },
              { DeleteRequest: { Key: key('a3') } },
            ],
          },
        }),
      ),
      4,
    );
    await send(
      ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table(), Item: item('c1', 1, TEXTS[7]!) } },
            {
              Update: {
                TableName: table(),
                Key: key('b1'),
                UpdateExpression: 'SET #c = :c, rev = :r',
                ExpressionAttributeNames: { '#c': h.config.contentAttribute },
                ExpressionAttributeValues: { ':c': { S: `${TEXTS[4]!} and then some` }, ':r': { N: '2' } },
              },
            },
            { Delete: { TableName: table(), Key: key('b2') } },
          ],
        }),
      ),
      3,
    );
    // Another kind of item in the same table (no text): never indexed, never poison.
    await send(
      ddb.send(
        new PutItemCommand({
          TableName: table(),
          Item: { ...key('profile'), kind: { S: 'profile' } },
        }),
      ),
      0,
    );
    // Deleted, then written again: ends indexed with the new text.
    await send(
      ddb.send(new PutItemCommand({ TableName: table(), Item: item('d1', 1, 'an old note about gardening') })),
      1,
    );
    await send(ddb.send(new DeleteItemCommand({ TableName: table(), Key: key('d1') })), 1);
    await send(ddb.send(new PutItemCommand({ TableName: table(), Item: item('d1', 3, TEXTS[0]!) })), 1);

    // Assess
    const expected = new Map([
      ['a1', 2],
      ['b1', 2],
      ['b3', 1],
      ['c1', 1],
      ['d1', 3],
    ]);
    const indexed = await settle(watched(), expected);
    assert.deepEqual(indexed, expected);
    assert.deepEqual(h.indexedIds(), [...expected.keys()].sort(), 'each item indexed exactly once');
    for (const [i, deleted] of [
      [1, 'a2'],
      [5, 'b2'],
    ] as const) {
      const { body } = await h.search({ q: TEXTS[i], k: 10 });
      assert.ok(!body.hits.some((hit: { id: string }) => hit.id === deleted), `${deleted} is never returned`);
    }
    const items = await h.items();
    for (const [id, stored] of items)
      assert.equal(stored[h.config.pendingAttribute], undefined, `${id}: capture never writes a writer's item`);
  });

  it('counts as captured exactly the user changes: flag clears, markers, the lease and status start nothing', async () => {
    // Prepare: a write that changes nothing the index reflects (not a change), and a flags-mode writer's flag (one)
    const ddb = h.stack.clients.dynamodb;
    await ddb.send(new PutItemCommand({ TableName: table(), Item: item('c1', 1, TEXTS[7]!) }));
    await ddb.send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key('b3'),
        UpdateExpression: 'SET #p = :p',
        ExpressionAttributeNames: { '#p': h.config.pendingAttribute },
        ExpressionAttributeValues: { ':p': { N: '7' } },
      }),
    );
    userChanges += 1; // the flag asks for b3 to be indexed again; the run clears it (a MODIFY capture ignores)
    await settle(watched(), indexedRevisions(h.config).revisions);
    // Act: wait for the system to be quiet, then watch it stay quiet
    const executions = async (): Promise<number> =>
      (
        await h.stack.clients.stepFunctions.send(
          new ListExecutionsCommand({ stateMachineArn: h.stack.stateMachineArns['indexer'] }),
        )
      ).executions?.length ?? 0;
    const before = await executions();
    const capturedBefore = capturedChanges(dir.path);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // Assess
    assert.equal(capturedBefore, userChanges, 'captured changes = user changes');
    assert.equal(capturedChanges(dir.path), capturedBefore, 'nothing captured while quiet');
    assert.equal(await executions(), before, 'no run starts while quiet: ddb-faiss never feeds itself');
    assert.equal(readCaptureState(dir.path).totals.failedBatches, 0);
  });

  it('sends a record that cannot be captured to the failure destination, and captures the records behind it', async () => {
    // Prepare: an id so long that its change marker's key is over DynamoDB's 1,024-byte sort key
    const ddb = h.stack.clients.dynamodb;
    const longId = `long-${'x'.repeat(1_018)}`;
    // Act: the poison first, then good records in the same batch
    await ddb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table()]: [
            { PutRequest: { Item: item(longId, 1, 'an item whose key is too long for its marker') } },
            { PutRequest: { Item: item('e1', 1, 'a tortoise crossed the desert road slowly') } },
            { PutRequest: { Item: item('e2', 1, 'the orchestra tuned before the overture') } },
          ],
        },
      }),
    );
    // Assess
    const indexed = await settle(watched(), new Map([...indexedRevisions(h.config).revisions, ['e1', 1], ['e2', 1]]));
    assert.equal(indexed.get('e1'), 1);
    assert.equal(indexed.get('e2'), 1);
    const failures = readFailureMessages(dir.path);
    assert.equal(failures.length, 1, 'one batch failed for good');
    assert.equal(failures[0]!.requestContext.condition, 'RetryAttemptsExhausted');
    assert.equal(failures[0]!.DDBStreamBatchInfo.batchSize >= 1, true);
    assert.equal(readCaptureState(dir.path).totals.failedBatches, 1);
  });
});

describe('stream mode: a failing capture call, then the re-drive', () => {
  const stack = useStreamHarness();
  const dir = { path: stack.dataDir };
  let h: IndexerHarness;
  before(() => {
    h = stack.h;
  });

  it('bisects a failing batch down to the failing record, and `capture redrive` captures it once healed', async () => {
    // Prepare and act: every call holding a "flaky" item fails; one batch with it between two good ones
    const watched = watchedHarness(h);
    await writeWithFlakyCapture(h, [
      ['ok-1', 'the ferry left the harbour at noon'],
      ['flaky-1', 'a kite caught in the old oak tree'],
      ['ok-2', 'the glacier retreated a mile in ten years'],
    ]);
    const before = await settle(
      watched,
      new Map([
        ['ok-1', 1],
        ['ok-2', 1],
      ]),
    );
    const failures = readFailureMessages(dir.path);
    const status = await runCli(['status', '--data-dir', dir.path, '--state-machine-arn', watched.stateMachineArn]);
    const run = await runCli(['run', '--wait', '--data-dir', dir.path, '--state-machine-arn', watched.stateMachineArn]);
    const monitor = await h.serveMonitor();
    const shown = (await (await fetch(`${monitor.base}/api/status`)).json()) as { capture?: { failedBatches: number } };
    await monitor.close();
    h.captureFault = () => {};
    const redrive = await runCli([
      'capture',
      'redrive',
      '--json',
      '--data-dir',
      dir.path,
      '--state-machine-arn',
      watched.stateMachineArn,
    ]);
    // Assess
    assert.deepEqual([...before.keys()].sort(), ['ok-1', 'ok-2'], 'the good records are captured meanwhile');
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.DDBStreamBatchInfo.batchSize, 1, 'bisection isolates the failing record');
    assert.equal(failures[0]!.requestContext.approximateInvokeCount, 4, 'the first call and three retries');
    assert.match(
      status.stdout,
      /^capture {4}stream, caught up: \d+ records read \(\d+ of ddb-faiss's own filtered out\)/m,
    );
    assert.match(status.stdout, /1 failed batch in .*failures\.jsonl: `ddb-faiss capture redrive` captures them again/);
    assert.match(run.stdout, /^capture {4}stream, caught up: .*\n {11}1 failed batch in /m, 'run --wait shows it too');
    assert.equal(shown.capture?.failedBatches, 1, 'and the monitor');
    assert.equal(redrive.code, 0, redrive.stderr);
    assert.deepEqual(JSON.parse(redrive.stdout), {
      messages: 1,
      redriven: 1,
      records: 1,
      stillFailing: 0,
      expired: 0,
      unreadable: 0,
    });
    assert.deepEqual(
      [
        ...(
          await settle(
            watched,
            new Map([
              ['ok-1', 1],
              ['ok-2', 1],
              ['flaky-1', 1],
            ]),
          )
        ).keys(),
      ].sort(),
      ['flaky-1', 'ok-1', 'ok-2'],
    );
    assert.deepEqual(readFailureMessages(dir.path), [], 'the failure file is empty once re-driven');
  });
});

describe('stream mode: changes the stream lost before capture', () => {
  it('names them in status, with the backfill that heals them', async () => {
    // Prepare: a stack that followed a stream, then finds the table on another (disabled and enabled again)
    const dir = tempDir();
    let h = await IndexerHarness.start(dir.path, { 'change-capture': 'stream' });
    const { state } = captureFiles(dir.path);
    while (!existsSync(state)) await new Promise((resolve) => setTimeout(resolve, 50));
    await h.close();
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { streamArn: string };
    writeFileSync(state, JSON.stringify({ ...saved, streamArn: `${saved.streamArn}-before` }));
    // Act
    h = await IndexerHarness.start(dir.path, { 'change-capture': 'stream' });
    const status = await runCli([
      'status',
      '--data-dir',
      dir.path,
      '--state-machine-arn',
      h.stack.stateMachineArns['indexer']!,
    ]);
    await h.close();
    dir.remove();
    // Assess
    assert.match(
      status.stdout,
      /LOST .*the table's stream was replaced .*: a backfill \(`ddb-faiss backfill --wait`\) indexes the table as it is/,
    );
  });
});

describe('stream mode: runs spaced by captureRunSpacing', () => {
  it('indexes a change after a quiet spell at once, and one soon after the last run only once the spacing is out', async () => {
    // Prepare: a stack whose captured runs are at least 4 s apart (no debounce)
    const dir = tempDir();
    const h = await IndexerHarness.start(dir.path, {
      'change-capture': 'stream',
      'capture-debounce': '0s',
      'capture-run-spacing': '4s',
    });
    const watched = watchedHarness(h);
    const put = (id: string, text: string) =>
      h.stack.clients.dynamodb.send(
        new PutItemCommand({
          TableName: h.config.tableName,
          Item: {
            [h.config.groupAttribute]: { S: 'g' },
            [h.config.idAttribute]: { S: id },
            [h.config.contentAttribute]: { S: text },
            rev: { N: '1' },
          },
        }),
      );
    const capturedInputs = async (): Promise<number[]> => {
      const { executions = [] } = await h.stack.clients.stepFunctions.send(
        new ListExecutionsCommand({ stateMachineArn: watched.stateMachineArn }),
      );
      const waits: number[] = [];
      for (const execution of executions.filter((run) => run.name?.startsWith('captured-'))) {
        const { DescribeExecutionCommand } = await import('@aws-sdk/client-sfn');
        const described = await h.stack.clients.stepFunctions.send(
          new DescribeExecutionCommand({ executionArn: execution.executionArn }),
        );
        waits.push((JSON.parse(described.input ?? '{}') as { debounceSeconds: number }).debounceSeconds);
      }
      return waits.reverse(); // oldest first
    };
    try {
      // Act: a change after a quiet spell, then one right after its run
      await put('first', TEXTS[0]!);
      await settle(watched, new Map([['first', 1]]));
      await put('second', TEXTS[1]!);
      await settle(
        watched,
        new Map([
          ['first', 1],
          ['second', 1],
        ]),
      );
      // Assess
      const [first, second] = await capturedInputs();
      assert.equal(first, 0, 'the first change is indexed with no wait');
      assert.ok(
        second !== undefined && second >= 1 && second <= 4,
        `the second waits out the spacing left: ${second} s`,
      );
      const request = (await h.reservedItems()).find((item) => item[h.config.idAttribute]?.S === 'run-request');
      assert.ok(request?.['takenAt'] && !request['execution'], 'the request stays, taken, marked with when');
    } finally {
      await h.close();
      dir.remove();
    }
  });
});
