/**
 * The monitor in headless Chromium (Debian's chromium driven by playwright-core): the graph
 * with its edges and Catch paths, a run watched stage by stage with live progress inside the
 * embed and clear stages, the charts filled by real runs and searches, search, the execution
 * list filtered by mode, a backfill, and a failed run with its error beside the stage that
 * failed. Screenshots go to test-artifacts/.
 *
 * To make progress observable at the page's one poll a second, the real handlers are slowed
 * (each embed call by 700 ms, each request clearing 25 flags by 2 s), and one run's merge is made to fail.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PermanentError } from '../../aws/errors.ts';
import { localObservability } from '../../lambda-host/observability.ts';
import { type LocalStack, startLocalStack } from '../../local-stack/stack.ts';
import { createIndexerHandlers, indexerStages } from '../../tasks/indexer-handlers.ts';
import { ensureModelPublished, localStackProps } from '../../workflow/local-stack-props.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir, testConfig } from '../helpers/local-stack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts');
const MERGE_FAILURE = 'the shard store is unreachable (injected by the test)';

/** The fields of an ASL state that draw edges. */
interface StateEdges {
  readonly Next?: string;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly Catch?: readonly { readonly Next: string }[];
}

describe('monitor (headless Chromium)', () => {
  const dir = tempDir();
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  let failMerge = false;
  let holdEmbed = false;
  /** The last question the page asked (every action is confirmed; the test says yes). */
  let asked = '';
  /** What the test types into the next prompt (the default text when unset). */
  let answer: string | undefined;
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `monitor-${name}.png`), fullPage: true });
  /** A picture of a run's page for the docs (`docs/monitor-run-*.png`): 1,400 px wide, the first screenful. */
  const runShot = async (kind: 'succeeded' | 'failed' | 'skipped'): Promise<void> => {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(ARTIFACTS, `monitor-run-${kind}.png`) });
    await page.setViewportSize({ width: 1500, height: 1000 });
  };
  const base = () => stack.info.endpoints.http;
  /** Opens a run's page from its row of the list, as a user clicks its link. @returns its name */
  const openRow = async (row: string): Promise<string> => {
    await page.goto(`${base()}/`);
    await page.waitForSelector(row, { timeout: 60_000 });
    const name = (await page.locator(row).first().getAttribute('data-name'))!;
    await page.locator(`${row} a`).first().click();
    await page.waitForURL(`**/executions/${name}`);
    await page.waitForFunction(
      (expected) => document.getElementById('execution-heading')?.textContent === expected,
      name,
    );
    return name;
  };
  let firstRun = '';
  /** Waits until the page shows the run's outcome as `status`. */
  const outcomeShown = (status: string, timeout = 30_000) =>
    page.waitForFunction((expected) => document.getElementById('execution-status')?.textContent === expected, status, {
      timeout,
    });
  const importItems = async (name: string, lines: string[]) => {
    writeFileSync(path.join(dir.path, name), lines.join('\n'));
    const imported = await runCli(['import', path.join(dir.path, name), '--data-dir', dir.path]);
    assert.equal(imported.code, 0, imported.stderr);
  };
  const definition = (): { States: Record<string, StateEdges> } =>
    JSON.parse(
      stack.stepFunctions.DescribeStateMachine({ stateMachineArn: stack.info.stateMachineArn })['definition'] as string,
    ) as { States: Record<string, StateEdges> };

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is expected at ${CHROMIUM} (scripts/install-system-deps.sh --browser installs it)`,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    // The folder shows this run's screenshots only.
    for (const file of readdirSync(ARTIFACTS)) if (/^monitor-.*\.png$/.test(file)) rmSync(path.join(ARTIFACTS, file));
    const config = testConfig(dir.path, { 'batch-size': '40' });
    stack = await startLocalStack({
      ...localStackProps(config),
      createHandlers: (context) => {
        // Each request clearing flags (25 at a time) is slowed, so the clear stage lasts a few seconds.
        context.clients.dynamodb.middlewareStack.add(
          (next, info) => async (args) => {
            if (info.commandName === 'BatchExecuteStatementCommand') await sleep(2_000);
            return next(args);
          },
          { step: 'initialize', name: 'slowFlagClears' },
        );
        const real = indexerStages(context);
        const stages = {
          ...real,
          embed: async (event: Parameters<typeof real.embed>[0]) => {
            await sleep(holdEmbed ? 15_000 : 700);
            return real.embed(event);
          },
          merge: async (event: Parameters<typeof real.merge>[0]) => {
            if (failMerge) throw new PermanentError(MERGE_FAILURE);
            return real.merge(event);
          },
        };
        return createIndexerHandlers(context, localObservability({ dataDir: dir.path, logLevel: 'SILENT' }), stages);
      },
    });
    await ensureModelPublished(stack.clients.s3, config);
    await importItems(
      'items.jsonl',
      [
        'A chef is chopping onions in the kitchen.',
        'Two dogs are running on the beach.',
        'A man is playing a guitar on stage.',
        'The train arrives at the station.',
      ].flatMap((text, i) =>
        Array.from({ length: 60 }, (_, j) =>
          JSON.stringify({
            id: `item-${i}-${j}`,
            group: 'web',
            content: j === 0 ? text : `${text} Take ${j}.`,
            take: j,
          }),
        ),
      ),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    page.on('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept(dialog.type() === 'prompt' ? (answer ?? dialog.defaultValue()) : undefined);
      answer = undefined;
    });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    dir.remove();
  });

  it('draws the state machine from the ASL: every state, every transition and Catch path, the Map inside', async () => {
    // Prepare: what the graph must show, counted from the deployed definition
    const { States: states } = definition();
    const transitions = Object.values(states).flatMap((state) => [
      ...new Set([state.Next, state.Default, ...(state.Choices ?? []).map((choice) => choice.Next)].filter(Boolean)),
    ]);
    const caughtBy = Object.entries(states).filter(([, state]) => (state.Catch ?? []).length > 0);
    // Act
    await page.goto(`${stack.info.endpoints.http}/`);
    await page.waitForSelector('[data-stage="Embed batches"]');
    // Assess
    assert.equal(await page.locator('[data-state]').count(), Object.keys(states).length);
    assert.equal(await page.locator('path.edge:not(.catch)').count(), transitions.length);
    assert.equal(
      await page.locator('path.edge.catch:not([data-from="Embed batch"])').count(),
      caughtBy.reduce((n, [, state]) => n + new Set(state.Catch!.map((c) => c.Next)).size, 0),
    );
    assert.deepEqual(caughtBy.map(([name]) => name).sort(), ['Compact index', 'Record failure']);
    assert.equal(await page.locator('[data-state="Embed batches"] [data-inner-state]').count(), 2);
    assert.equal(await page.locator('path.edge.catch[data-from="Embed batch"][data-to="Batch failed"]').count(), 1);
    await page.waitForFunction(() => document.getElementById('pending')?.textContent === '240');
    await shot('1-ready');
  });

  it('starts a run and shows live progress inside the embed and clear stages, then each stage green', async () => {
    // Act
    await page.click('#start-run');
    // Assess: progress seen part-way, not only "running"
    await page.waitForFunction(
      () =>
        /^[1-5]\/6$/.test(
          (document.querySelector('[data-stage="Embed batches"]') as HTMLElement)?.dataset['progress'] ?? '',
        ),
      undefined,
      { timeout: 30_000 },
    );
    assert.match(
      await page.locator('[data-stage="Embed batches"] [data-detail]').innerText(),
      /running · [1-5] of 6 batches embedded/,
    );
    await shot('2-embed-progress');
    await page.waitForFunction(
      () => {
        const box = document.querySelector('[data-stage="Clear pending flags"]') as HTMLElement | null;
        const [done, total] = (box?.dataset['progress'] ?? '').split('/').map(Number);
        return box?.dataset['status'] === 'running' && total === 240 && done! > 0 && done! < 240;
      },
      undefined,
      { timeout: 30_000 },
    );
    assert.match(
      await page.locator('[data-stage="Clear pending flags"] [data-detail]').innerText(),
      /^\d+ of 240 flags cleared$/,
    );
    await shot('3-clear-progress');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-stage]')].every(
          (box) => (box as HTMLElement).dataset['status'] === 'succeeded',
        ),
      undefined,
      { timeout: 60_000 },
    );
    assert.match(await page.locator('[data-stage="Plan batches"] [data-detail]').innerText(), /240 items in 6 batches/);
    assert.match(
      await page.locator('[data-stage="Merge into index"] [data-detail]').innerText(),
      /generation 1: 240 items \(240 added, 0 replaced, 0 removed/,
    );
    assert.equal(await page.locator('[data-inner-state="Embed batch"] [data-count]').innerText(), '6');
    assert.match(await page.locator('[data-state="Embed batches"] [data-iterations]').innerText(), /6 of 6 iterations/);
    assert.ok(await page.locator('path.edge.taken[data-from="Merge into index"][data-to="More to merge?"]').count());
    assert.ok(await page.locator('path.edge.taken[data-from="More to merge?"][data-to="Compact index"]').count());
    assert.match(
      await page.locator('[data-stage="Compact index"] [data-detail]').innerText(),
      /nothing to compact \(1 segment\)/,
    );
    assert.equal(await page.locator('path.edge.catch.taken').count(), 0);
    await page.waitForFunction(
      () =>
        document.getElementById('index-vectors')?.textContent === '240' &&
        document.getElementById('pending')?.textContent === '0',
    );
  });

  it('searches and shows an imported item with its score', async () => {
    await page.fill('#search-q', 'Two dogs are running on the beach.');
    await page.click('#search-form button');
    await page.waitForSelector('#search-results li[data-id]');
    assert.equal(await page.locator('#search-results li[data-id]').first().getAttribute('data-id'), 'item-1-0');
    assert.match(await page.locator('#search-results li').first().innerText(), /^1\.000/);
    assert.match(await page.locator('#score-note').innerText(), /cosine similarity/);
    // Act: within a group, with an attribute shown on each hit
    await page.fill('#search-group', 'web');
    await page.fill('#search-attributes', 'take');
    await page.click('#search-form button');
    await page.waitForSelector('#search-results li[data-id] .hit-attributes');
    // Assess
    assert.equal(await page.locator('#search-results li[data-id] .hit-attributes').first().innerText(), 'take: 0');
    await page.fill('#search-group', '');
    await page.fill('#search-attributes', '');
    await shot('4-search');
  });

  it('ranks by the chosen mode within a filter, and shows more like a hit', async () => {
    // Act: lexical ranking of the dog sentences, only takes 1 to 3
    await page.fill('#search-q', 'dogs running');
    await page.selectOption('#search-mode', 'lexical');
    await page.fill('#search-filter', '{"take": {"gte": 1, "lte": 3}}');
    await page.click('#search-form button');
    await page.waitForFunction(() =>
      /lexical ranking/.test(document.getElementById('search-caption')?.textContent ?? ''),
    );
    assert.match(await page.locator('#score-note').innerText(), /^Scores are BM25/);
    const lexical = await page
      .locator('#search-results li[data-id]')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-id')));
    // Act: more like the first hit, within the same filter
    await page.locator('#search-results button.similar').first().click();
    await page.waitForFunction(() =>
      /^items like web\/item-1-\d: \d+ hits/.test(document.getElementById('search-caption')?.textContent ?? ''),
    );
    const similar = await page
      .locator('#search-results li[data-id]')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-id')));
    await shot('4-search-similar');
    // Assess
    assert.deepEqual([...lexical].sort(), ['item-1-1', 'item-1-2', 'item-1-3']);
    assert.equal(similar.length, 10, 'k of the eleven others within the filter');
    assert.ok(!similar.includes(lexical[0]!), 'never the item itself');
    assert.deepEqual(
      similar.slice(0, 2).map((id) => id!.slice(0, 7)),
      ['item-1-', 'item-1-'],
      'the other dog sentences first',
    );
    assert.ok(
      similar.every((id) => /^item-\d-[123]$/.test(id!)),
      'all within the filter',
    );
    await page.selectOption('#search-mode', 'vector');
    await page.fill('#search-filter', '');
  });

  it('charts the backlog, the run (duration, items/s) and search latency p50/p99 from the published metrics', async () => {
    // Act: two more searches, then wait for the charts' next refresh
    for (const q of ['a chef in the kitchen', 'a train at the station']) {
      await page.fill('#search-q', q);
      await page.click('#search-form button');
    }
    await page.waitForFunction(
      () =>
        Number(document.getElementById('chart-runs')?.dataset['points']) === 1 &&
        Number(document.getElementById('chart-search')?.dataset['points']) >= 1 &&
        Number(document.getElementById('chart-backlog')?.dataset['points']) >= 2,
      undefined,
      { timeout: 20_000 },
    );
    // Assess: each chart drew a canvas with its series
    for (const id of ['chart-backlog', 'chart-runs', 'chart-search'])
      assert.equal(await page.locator(`#${id} canvas`).count(), 1, `${id} has no canvas`);
    assert.match(await page.locator('#chart-search').innerText(), /p50 \(ms\)[\s\S]*p99 \(ms\)/);
    await page.locator('#chart-runs').scrollIntoViewIfNeeded();
    // Assess: the legend shows the run under the pointer (its duration and pace), not "--"
    await page.locator('#chart-runs .u-over').hover();
    const legend = await page.locator('#chart-runs .u-legend .u-value').allInnerTexts();
    assert.match(legend[1] ?? '', /^\d+\.\d s$/, legend.join(' | '));
    assert.match(legend[2] ?? '', /^\d+\.\d$/, legend.join(' | '));
    await shot('5-charts');
  });

  it('starts a backfill after confirmation, shows it succeed, and filters the list by mode', async () => {
    asked = '';
    await page.click('#start-backfill');
    await page.waitForFunction(
      () => document.querySelector('tr.execution[data-origin="backfill"] td.status-SUCCEEDED') !== null,
      undefined,
      { timeout: 60_000 },
    );
    await page.waitForFunction(() => document.getElementById('index-generation')?.textContent === '2');
    assert.match(asked, /Rebuild the whole index/);
    assert.equal(await page.locator('#index-change').innerText(), '0 added, 240 replaced, 0 removed');
    // Act: filter by mode
    await page.selectOption('#filter-mode', 'backfill');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('tr.execution')].length === 1 &&
        (document.querySelector('tr.execution') as HTMLElement).dataset['origin'] === 'backfill',
    );
    await page.selectOption('#filter-mode', '');
    await page.waitForFunction(() => document.querySelectorAll('tr.execution').length === 2);
  });

  it("opens a run's own page from its row: outcome, timeline, events, Map Run batches; a reload and back work", async () => {
    // Act: the first run is the oldest manual one
    firstRun = await openRow('tr.execution[data-origin="manual"][data-status="SUCCEEDED"]:last-child');
    await page.waitForSelector('#events tr[data-type="ExecutionSucceeded"]');
    // Assess: the outcome, what it changed, a span per state, the batches, the events with their data
    assert.equal(await page.locator('#execution-status').innerText(), 'SUCCEEDED');
    assert.equal(await page.locator('#execution-outcome').innerText(), '240 items indexed');
    assert.match(
      await page.locator('#execution-change').innerText(),
      /^Generation 1: 240 added, 0 replaced, 0 removed/,
    );
    assert.notEqual(await page.locator('#execution-ended').innerText(), 'ended\nstill running');
    for (const state of [
      'Take writer lease',
      'Plan batches',
      'Embed batches',
      'Merge into index',
      'Clear pending flags',
    ])
      assert.equal(await page.locator(`.span-row[data-span="${state}"] .span-bar`).count(), 1, state);
    assert.equal(await page.locator('#batches tr.batch[data-status="embedded"]').count(), 6);
    assert.equal(await page.locator('[data-count-of="succeeded"]').innerText(), 'succeeded: 6');
    const mergeEntered = page.locator('#events tr[data-type="TaskStateEntered"]', { hasText: 'Merge into index' });
    assert.equal(await mergeEntered.count(), 1);
    await mergeEntered.locator('summary').first().click();
    assert.match(await mergeEntered.locator('pre').first().innerText(), /"embedResults"/);
    await shot('7-run-page');
    await runShot('succeeded');
    // Act: reload the link
    await page.reload();
    await page.waitForSelector('#events tr[data-type="ExecutionSucceeded"]');
    // Assess
    assert.equal(await page.locator('#execution-heading').innerText(), firstRun);
    assert.equal(await page.locator('#dashboard-view').isHidden(), true);
    // Act: back to the list
    await page.goBack();
    await page.waitForFunction(() => !document.getElementById('dashboard-view')!.hidden);
    assert.equal(new URL(page.url()).pathname, '/');
  });

  it('shows a run that found nothing pending as SKIPPED, in the list and on its page', async () => {
    // Act
    await page.goto(`${base()}/`);
    await page.click('#start-run');
    const name = await openRow('tr.execution[data-status="SKIPPED"]');
    // Assess
    await outcomeShown('SKIPPED');
    assert.equal(await page.locator('#execution-outcome').innerText(), 'nothing pending');
    assert.equal(await page.locator('#execution-failure').count(), 0);
    assert.ok(name.startsWith('manual-'));
    await runShot('skipped');
  });

  it("shows a failed run's error beside the stage that failed, where the run ended", async () => {
    // Prepare
    failMerge = true;
    await importItems('more.jsonl', [JSON.stringify({ id: 'late-1', group: 'web', content: 'A late item.' })]);
    // Act
    await page.click('#start-run');
    await page.waitForSelector('.callout[data-error-for="Merge into index"]', { timeout: 60_000 });
    // Assess
    assert.equal(await page.locator('.callout').innerText(), `PermanentError: ${MERGE_FAILURE}`);
    await outcomeShown('FAILED');
    assert.equal(await page.locator('[data-stage="Merge into index"]').getAttribute('data-status'), 'failed');
    assert.equal(await page.locator('[data-state="Compact index"]').getAttribute('data-status'), 'waiting');
    assert.equal(await page.locator('path.edge.taken[data-from="Merge into index"]').count(), 0);
    await shot('6-failed-run');
  });

  it("shows a failed run's page: why, in words first, with its failed stage on the timeline and in the events", async () => {
    // Act
    await openRow('tr.execution[data-status="FAILED"]');
    await page.waitForSelector('#execution-failure');
    // Assess
    assert.equal(await page.locator('#execution-failure b').innerText(), `Merge into index failed: ${MERGE_FAILURE}`);
    assert.equal(
      await page.locator('.span-row[data-span="Merge into index"] .span-bar').getAttribute('data-status'),
      'failed',
    );
    const merge = page.locator('[data-stage="Merge into index"]');
    assert.equal(await merge.evaluate((box) => getComputedStyle(box).borderTopColor), 'rgb(198, 40, 40)');
    assert.equal(
      await page.locator('#events tr[data-type="LambdaFunctionFailed"] .error').first().innerText(),
      `PermanentError: ${MERGE_FAILURE}`,
    );
    assert.equal(await page.locator('#redrive-run').isVisible(), true);
    await runShot('failed');
  });

  it('redrives the failed run from its failed stage after confirmation; it succeeds without running the rest again', async () => {
    // Prepare: the merge mended; the failed run's page open
    failMerge = false;
    const name = await openRow('tr.execution[data-status="FAILED"]');
    asked = '';
    // Act
    await page.click('#redrive-run');
    await outcomeShown('SUCCEEDED', 60_000);
    await page.waitForSelector('#events tr[data-type="ExecutionSucceeded"]');
    // Assess: asked first; went on from the merge; the item it had left pending is indexed
    assert.equal(asked, `Redrive ${name} from Merge into index? The states that succeeded are not run again.`);
    assert.equal(await page.locator('#events tr[data-type="ExecutionRedriven"]').count(), 1);
    assert.equal(
      await page.locator('.span-row[data-span="Merge into index"]').count(),
      2,
      'the failed try and the redrive',
    );
    assert.equal(await page.locator('.span-row[data-span="Plan batches"]').count(), 1, 'not planned again');
    assert.match(await page.locator('#execution-detail').innerText(), /redriven\s+1 times/);
    assert.equal(await page.locator('#execution-outcome').innerText(), '1 item indexed');
    assert.equal(await page.locator('#redrive-run').isVisible(), false);
    assert.equal(await page.locator('#execution-failure').count(), 0);
  });

  it('shows a stopped run as aborted, not failed: its stage cut short, the reason given', async () => {
    // Prepare: an item to index, whose embedding is held, so the run is stopped mid-stage
    await importItems('late.jsonl', [JSON.stringify({ id: 'late-2', group: 'web', content: 'Another late item.' })]);
    holdEmbed = true;
    await page.goto(`${base()}/`);
    await page.click('#start-run');
    await page.waitForFunction(
      () =>
        (document.querySelector('[data-stage="Embed batches"]') as HTMLElement | null)?.dataset['status'] === 'running',
      undefined,
      { timeout: 60_000 },
    );
    // Act
    asked = '';
    await page.click('#stop-run');
    await outcomeShown('ABORTED');
    // Assess
    assert.match(asked, /^Stop manual-/);
    assert.equal(await page.locator('[data-stage="Embed batches"]').getAttribute('data-status'), 'aborted');
    assert.match(
      await page.locator('#execution-failure b').innerText(),
      /^Stopped during Embed batches: stopped from the monitor\.$/,
    );
    holdEmbed = false;
  });

  it('starts a run with the input typed, and refuses one the workflow would reject, naming what is wrong', async () => {
    // Act: a mode the workflow does not know
    await page.goto(`${base()}/`);
    answer = '{"mode": "hourly"}';
    await page.click('#start-with-input');
    await page.waitForFunction(() =>
      /input\.mode must be/.test(document.getElementById('action-error')?.textContent ?? ''),
    );
    await page.waitForTimeout(1_500); // a poll or two later, it is still up
    assert.equal(await page.locator('#action-error').isVisible(), true);
    // Act: a backfill, by its input
    answer = '{"mode": "backfill"}';
    await page.click('#start-with-input');
    // Assess
    assert.match(asked, /^Start a run with this input/);
    await page.waitForFunction(
      () => document.querySelectorAll('tr.execution[data-origin="backfill"]').length === 2,
      undefined,
      { timeout: 30_000 },
    );
  });

  for (const width of [390, 900, 1400]) {
    it(`fits ${width} px: no horizontal scroll, and no box outside its card`, async () => {
      await page.setViewportSize({ width, height: 900 });
      for (const where of ['/', `/executions/${firstRun}`]) {
        // Act
        await page.goto(`${base()}${where}`);
        await page.waitForFunction(() => document.getElementById('execution-status') !== null);
        await page.waitForTimeout(300);
        // Assess
        const overflow = await page.evaluate(() => ({
          by: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          // What sticks out (a wide table scrolls inside its own frame, so its cells are not counted).
          past: [...document.querySelectorAll('body *')]
            .filter((element) => !element.closest('.table-wrap, .graph-frame'))
            .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map((element) => `${element.tagName}#${element.id}.${element.className}`),
        }));
        assert.equal(overflow.by, 0, `${where} scrolls sideways at ${width} px: ${overflow.past.join(', ')}`);
        const spilled = await page.evaluate(() =>
          [...document.querySelectorAll('section')].flatMap((section) => {
            const card = section.getBoundingClientRect();
            // A wide table, or the graph on a narrow card, scrolls inside its own frame: the frame is what must fit.
            return [
              ...section.querySelectorAll(
                '.state, .callout, button, input, select, .table-wrap, .graph-frame, canvas, .summary',
              ),
            ]
              .filter((element) => !element.parentElement?.closest('.table-wrap, .graph-frame'))
              .filter((element) => {
                const box = element.getBoundingClientRect();
                return box.width > 0 && (box.right > card.right + 1 || box.left < card.left - 1);
              })
              .map((element) => element.getAttribute('data-state') ?? element.id ?? element.tagName);
          }),
        );
        assert.deepEqual(spilled, [], `${where} at ${width} px`);
        // The graph stays legible: a narrow card scrolls it inside its frame rather than shrinking it further.
        assert.ok(Number(await page.locator('#graph').getAttribute('data-scale')) >= 0.55);
        // A stage's details wrap inside its box: none runs past its border.
        const overflowing = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLElement>('.state[data-stage]')]
            .filter((box) => box.scrollHeight > box.clientHeight + 1)
            .map((box) => `${box.dataset['stage']} (${box.scrollHeight} > ${box.clientHeight} px): ${box.innerText}`),
        );
        assert.deepEqual(overflowing, [], `${where} at ${width} px`);
      }
      await shot(`width-${width}`);
    });
  }
});
