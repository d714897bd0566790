/**
 * The indexer's state data has a size bound that does not depend on the run: the batch list and
 * the Embed Map's results live on S3, a merge names at most 10 failed batches, and every other
 * field is a count or a name. This builds the largest state data any run can carry (every
 * name at its service's limit, every count at 16 digits, a Catch's cause at AWS's 32,768
 * characters) and checks it against Step Functions' 256 KiB.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMBED_RESULTS_PREFIX } from '../../asl/indexer.ts';
import type { MapResults } from '../../indexer/batch-list.ts';
import type { ClearResult } from '../../indexer/clear.ts';
import type { ModelDescriptor, RunInfo } from '../../indexer/context.ts';
import type { LeaseResult } from '../../indexer/lease.ts';
import { CAUSE_CHARS, FAILED_BATCH_SAMPLES, type MergeResult } from '../../indexer/merge.ts';
import type { PlanResult } from '../../indexer/plan.ts';
import { runDir } from '../../indexer/run-files.ts';
import { STATE_DATA_LIMIT_BYTES } from '../../local-stack/engine/aws-limits.ts';

const text = (length: number): string => 'x'.repeat(length);
/** A count with as many digits as JavaScript's safe integers have. */
const COUNT = 9_007_199_254_740_991;
const EXECUTION = text(80); // Step Functions' longest name
const ARN = `arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:${text(80)}:${EXECUTION}`;
const S3_KEY = 1_024; // S3's longest key
const BUCKET = text(63);

describe('the worst-case state data of an indexer run', () => {
  it('stays under 256 KiB whatever the run size', () => {
    // Prepare: the state data after Clear, and after a failure caught into Record failure (the largest points)
    const run: RunInfo = {
      mode: 'incremental',
      execution: EXECUTION,
      executionArn: ARN,
      startedAt: new Date(0).toISOString(),
    };
    const lease: LeaseResult = { acquired: true, expiresAt: COUNT, tookOverFrom: { holder: ARN, status: 'ABORTED' } };
    const model: ModelDescriptor & { copied: boolean } = {
      name: text(S3_KEY),
      checksum: text(64),
      dimensions: COUNT,
      dir: text(S3_KEY),
      copied: true,
    };
    const plan: PlanResult = {
      batchCount: COUNT,
      itemCount: COUNT,
      batchList: { bucket: BUCKET, key: `${runDir(EXECUTION)}/batches.json` },
      capped: true,
      oldestPendingAgeSeconds: COUNT,
    };
    const embedResults: { MapRunArn: string; ResultWriterDetails: MapResults } = {
      MapRunArn: ARN,
      ResultWriterDetails: { Bucket: BUCKET, Key: `${EMBED_RESULTS_PREFIX}/${text(36)}/manifest.json` },
    };
    const merge: MergeResult = {
      generation: COUNT,
      vectors: COUNT,
      items: COUNT,
      added: COUNT,
      replaced: COUNT,
      removed: COUNT,
      poison: COUNT,
      failedBatchCount: COUNT,
      failedBatches: Array.from({ length: FAILED_BATCH_SAMPLES }, () => ({
        batch: COUNT,
        error: text(CAUSE_CHARS),
        cause: text(CAUSE_CHARS),
      })),
      complete: true,
      windows: COUNT,
      clearItems: COUNT,
    };
    const clear: ClearResult = { cleared: COUNT, deleted: COUNT, keptPending: COUNT, poisonRecorded: COUNT };
    const error = { Error: text(256), Cause: text(32_768) };
    // Act
    const largest = Math.max(
      ...[
        { run, lease, model, plan, embedResults, merge, clear },
        { run, lease, model, plan, embedResults, merge, error },
      ].map((state) => Buffer.byteLength(JSON.stringify(state))),
    );
    // Assess
    assert.ok(largest < STATE_DATA_LIMIT_BYTES / 4, `${largest} bytes`);
  });
});
