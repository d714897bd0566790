/**
 * Stream mode on a deployed stack: Lambda's event source mapping sends a batch whose retries were
 * spent to the stack's SQS failure queue. `status` counts the queue's messages and `capture
 * redrive` reads each one's records from the stream again, captures them, and deletes the message.
 * The stream is DynamoDB Local's (the records are real); the queue is sqslite's, through the real
 * SQS client; the messages are the ones the local follower wrote for the same failure, sent to the
 * queue as Lambda would have.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rmSync, writeFileSync } from 'node:fs';
import { sqsFailureQueue } from '../../aws/capture-failures.ts';
import { createStreamsClient } from '../../aws/clients.ts';
import { captureFiles, failureFile, readFailureMessages } from '../../local-stack/stream-follower.ts';
import { localObservability } from '../../lambda-host/observability.ts';
import { type CaptureHandler, captureFilterPattern, createCaptureHandler } from '../../tasks/capture-handler.ts';
import { readCaptureFailures } from '../../workflow/capture-status.ts';
import { redriveFailures } from '../../workflow/capture-redrive.ts';
import { describeCapture } from '../../workflow/cli/status.ts';
import { settle, useStreamHarness, watchedHarness, writeWithFlakyCapture } from '../helpers/capture.ts';
import type { IndexerHarness } from '../helpers/indexer.ts';
import { startTestQueue, type TestQueue } from '../helpers/sqs.ts';

/** The capture handler as `capture redrive` builds it, for the harness's stack. */
const redriveHandler = (h: IndexerHarness): CaptureHandler =>
  createCaptureHandler(
    { config: h.config, clients: h.stack.clients, stateMachineArn: () => watchedHarness(h).stateMachineArn },
    localObservability({ dataDir: h.config.dataDir, logLevel: 'SILENT' }),
  );

describe("stream mode on AWS: the capture's failure queue", () => {
  const stack = useStreamHarness();
  let h: IndexerHarness;
  let queue: TestQueue;
  before(async () => {
    h = stack.h;
    queue = await startTestQueue();
  });
  after(() => queue.close());

  it('is counted by status, and `capture redrive` captures its batches and deletes their messages', async () => {
    // Prepare: a batch fails for good (every call holding the flaky item fails), and its message
    // waits in the queue instead of the local file
    const watched = watchedHarness(h);
    await writeWithFlakyCapture(h, [
      ['ok-1', 'the ferry left the harbour at noon'],
      ['flaky-1', 'a kite caught in the old oak tree'],
    ]);
    await settle(watched, new Map([['ok-1', 1]]));
    const failed = readFailureMessages(stack.dataDir);
    assert.equal(failed.length, 1, 'one batch failed for good');
    await queue.send(...failed.map((message) => JSON.stringify(message)));
    rmSync(captureFiles(stack.dataDir).failures);
    h.captureFault = () => {};
    const destination = sqsFailureQueue(queue.sqs, queue.queueUrl);
    const streams = createStreamsClient(h.config, h.stack.info.endpoints.dynamodb);

    // Act
    const counted = await readCaptureFailures(destination);
    const shown = describeCapture({ where: 'aws', ...counted });
    const result = await redriveFailures({
      destination,
      streams,
      handler: redriveHandler(h),
      filter: captureFilterPattern(h.config),
    });
    const after = await readCaptureFailures(destination);
    streams.destroy();

    // Assess
    assert.deepEqual(counted, { failedBatches: 1, failureDestination: queue.queueUrl });
    assert.match(
      shown.join('\n'),
      /1 failed batch in http:\/\/localhost:\d+\/queues\/capture-failures: `ddb-faiss capture redrive`/,
    );
    assert.deepEqual(result, { messages: 1, redriven: 1, records: 1, stillFailing: 0, expired: 0, unreadable: 0 });
    assert.equal(after.failedBatches, 0, 'the message is deleted once its records went through');
    const indexed = await settle(
      watched,
      new Map([
        ['ok-1', 1],
        ['flaky-1', 1],
      ]),
    );
    assert.deepEqual([...indexed.keys()].sort(), ['flaky-1', 'ok-1']);
  });
});

describe("stream mode: the local failure file's lines that are not failed batches", () => {
  const stack = useStreamHarness();

  it('are kept untouched and counted as unreadable by `capture redrive`', async () => {
    // Prepare
    const { failures } = captureFiles(stack.dataDir);
    writeFileSync(failures, 'not json at all\n{"DDBStreamBatchInfo":{}}\n');
    const streams = createStreamsClient(stack.h.config, stack.h.stack.info.endpoints.dynamodb);
    // Act
    const result = await redriveFailures({
      destination: failureFile(stack.dataDir),
      streams,
      handler: redriveHandler(stack.h),
      filter: captureFilterPattern(stack.h.config),
    });
    streams.destroy();
    // Assess
    assert.deepEqual(result, { messages: 2, redriven: 0, records: 0, stillFailing: 0, expired: 0, unreadable: 2 });
    assert.equal(await failureFile(stack.dataDir).count(), 2);
    assert.deepEqual(readFailureMessages(stack.dataDir), []);
  });
});
