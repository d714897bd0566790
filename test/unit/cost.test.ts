/**
 * The cost model (`cost/estimate.ts`) and `ddb-faiss cost`: usage priced from the price table,
 * runs spaced as `captureRunSpacing` spaces them, the command's flags checked all at once, and the
 * command's estimate the one the README's table shows.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  capturedRunsPerMonth,
  type MeasuredUsage,
  priceUsage,
  type ScenarioUsage,
  UNREPORTED_STATEMENT_WRITE_UNITS,
} from '../../cost/estimate.ts';
import { readMeasuredUsage } from '../../cost/measured.ts';
import { emptyTally } from '../../aws/request-meter.ts';
import { PRICES } from '../../cost/prices.ts';
import { projectPath } from '../../config/project.ts';
import { FUNCTIONS } from '../../infra/sizing.ts';
import { captureRunInput } from '../../tasks/capture-run.ts';
import { main } from '../../workflow/cli/main.ts';
import { workloadOf } from '../../workflow/cli/cost.ts';

const usage = (overrides: Partial<ScenarioUsage>): ScenarioUsage => ({
  units: 1,
  seconds: 1,
  requests: [],
  lambda: {},
  efsReadBytes: 0,
  efsWrittenBytes: 0,
  transitions: 0,
  executions: 0,
  childExecutions: 0,
  runSeconds: 0,
  httpRequests: 0,
  ...overrides,
});
const request = (
  service: string,
  operation: string,
  counts: Partial<{ requests: number; writeUnits: number; unreportedItems: number }>,
) => ({ ...emptyTally(service, operation), requests: 1, ...counts });
const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-9 * Math.max(1, expected), `${actual} is not ${expected}`);

async function cli(argv: readonly string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (out += chunk));
  const code = await main([...argv], { stdout, stderr, stdin: Readable.from([]) });
  return { code, out };
}

describe('the cost model', () => {
  it('prices usage from the price table, by service', () => {
    // Prepare: a second of the embed function, write units (and PartiQL statements DynamoDB Local
    // did not report), S3 requests of each class, transitions, EFS bytes
    const measured = usage({
      lambda: { embed: { invocations: 1, seconds: 1 } },
      requests: [
        request('DynamoDB', 'UpdateItem', { writeUnits: 1_000_000 }),
        request('DynamoDB', 'BatchExecuteStatement', { unreportedItems: 10 }),
        request('S3', 'PutObject', { requests: 1000 }),
        request('S3', 'GetObject', { requests: 1000 }),
        request('S3', 'DeleteObject', { requests: 1000 }),
        request('SFN', 'StartExecution', { requests: 1000 }),
      ],
      transitions: 1000,
      efsWrittenBytes: 1e9,
    });
    // Act
    const dollars = priceUsage(measured);
    // Assess
    close(dollars.lambda, PRICES.lambdaRequest.usd + (FUNCTIONS.embed.memory / 1024) * PRICES.lambdaGbSecondX86.usd);
    close(dollars.dynamodb, (1_000_000 + 10 * UNREPORTED_STATEMENT_WRITE_UNITS) * PRICES.dynamodbWriteUnit.usd);
    close(dollars.s3, 1000 * PRICES.s3WriteRequest.usd + 1000 * PRICES.s3ReadRequest.usd);
    close(dollars.stepFunctions, 1000 * PRICES.stepFunctionsTransition.usd);
    close(dollars.efs, PRICES.efsWriteGb.usd);
    close(dollars.total, dollars.lambda + dollars.dynamodb + dollars.s3 + dollars.stepFunctions + dollars.efs);
  });

  it('spaces captured runs: a run per change when they are rare, one per spacing under a trickle', () => {
    // Prepare: a small run works 2 s
    const measured = { scenarios: { small_run: usage({ runSeconds: 2 }) } } as unknown as MeasuredUsage;
    // Act
    const rare = capturedRunsPerMonth(100, measured, 60);
    const trickle = capturedRunsPerMonth(10_000, measured, 60);
    const unspaced = capturedRunsPerMonth(10_000, measured, 0);
    // Assess
    assert.equal(rare, 100 * 30);
    assert.equal(trickle, 1_440 * 30);
    assert.equal(unspaced, 10_000 * 30, 'with no spacing, a run works 3 s (debounce included): every change has one');
  });

  it('makes a captured run wait out the spacing left since the last run took what was pending', () => {
    // Prepare
    const config = { captureDebounce: '1s', captureRunSpacing: '60s' };
    // Act
    const first = captureRunInput(config);
    const soonAfter = captureRunInput(config, 10_000);
    const longAfter = captureRunInput(config, 120_000);
    // Assess
    assert.equal(first.debounceSeconds, 1);
    assert.equal(soonAfter.debounceSeconds, 50);
    assert.equal(longAfter.debounceSeconds, 1);
  });
});

describe('ddb-faiss cost', () => {
  it('names every wrong flag at once', () => {
    // Act
    const refused = (() => {
      try {
        workloadOf({ 'changes-per-day': '-3', 'item-size': '2MB' });
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    })();
    // Assess
    assert.match(refused ?? '', /--items is required/);
    assert.match(refused ?? '', /--changes-per-day must be a whole number >= 0, got "-3"/);
    assert.match(refused ?? '', /--queries-per-day is required/);
    assert.match(refused ?? '', /--item-size must be a size up to 400KB/);
  });

  it("prints by part the month the README's table shows for its workload", async () => {
    // Prepare: the README's row for 1,000,000 items, 10,000 changes and 100,000 queries a day
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    const row = readme
      .split('\n')
      .find((line) => line.startsWith('| 1,000,000 items; 10,000 changes, 100,000 queries a day |'));
    const readmeTotal = row?.split('|')[2]?.trim();
    // Act
    const workload = ['--items', '1000000', '--changes-per-day', '10000', '--queries-per-day', '100000'];
    const { code, out } = await cli(['cost', ...workload]);
    const json = await cli(['cost', ...workload, '--json']);
    // Assess
    assert.equal(code, 0, out);
    const parts = [
      'indexing changes',
      'captured runs',
      'search',
      'provisioned concurrency',
      'search cold starts',
      'storage',
      'schedule',
    ];
    for (const part of parts) assert.match(out, new RegExp(`^  ${part} `, 'm'));
    const printedTotal = /^ {2}total\s+(\$[\d,.]+)$/m.exec(out)?.[1];
    assert.ok(readmeTotal, 'the README has the row');
    assert.equal(printedTotal, readmeTotal);
    const parsed = JSON.parse(json.out) as { total: number; lines: { part: string }[]; measured: string };
    assert.deepEqual(
      parsed.lines.map((line) => line.part),
      parts,
    );
    assert.equal(parsed.measured, readMeasuredUsage().date);
  });
});
