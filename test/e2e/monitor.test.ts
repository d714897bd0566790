/**
 * The monitor in headless Chromium (Debian's chromium driven by playwright-core): start a
 * run, watch the stages turn green, search for an imported item, start and confirm a
 * backfill. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { type LocalStack, startLocalStack } from '../../local-stack/stack.ts';
import { ensureModelPublished, localStackProps } from '../../workflow/local-stack-props.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir, testConfig } from '../helpers/local-stack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts');

describe('monitor (headless Chromium)', () => {
  const dir = tempDir();
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `monitor-${name}.png`), fullPage: true });

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is expected at ${CHROMIUM} (scripts/install-system-deps.sh --browser installs it)`,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const config = testConfig(dir.path, { 'batch-size': '100' });
    stack = await startLocalStack(localStackProps(config));
    await ensureModelPublished(stack.clients.s3, config);
    const items = [
      'A chef is chopping onions in the kitchen.',
      'Two dogs are running on the beach.',
      'A man is playing a guitar on stage.',
      'The train arrives at the station.',
    ].flatMap((text, i) =>
      Array.from({ length: 60 }, (_, j) =>
        JSON.stringify({ id: `item-${i}-${j}`, group: 'web', content: j === 0 ? text : `${text} Take ${j}.` }),
      ),
    );
    writeFileSync(path.join(dir.path, 'items.jsonl'), items.join('\n'));
    const imported = await runCli(['import', path.join(dir.path, 'items.jsonl'), '--data-dir', dir.path]);
    assert.equal(imported.code, 0, imported.stderr);
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
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    dir.remove();
  });

  it('draws the state machine from the ASL and shows the pending backlog', async () => {
    await page.goto(`${stack.info.endpoints.http}/`);
    await page.waitForSelector('[data-stage="Embed batches"]');
    assert.equal(
      await page.locator('[data-state]').count(),
      Object.keys(
        JSON.parse(
          stack.stepFunctions.DescribeStateMachine({ stateMachineArn: stack.info.stateMachineArn })[
            'definition'
          ] as string,
        ).States,
      ).length,
    );
    await page.waitForFunction(() => document.getElementById('pending')?.textContent === '240');
    await shot('1-ready');
  });

  it('starts a run and shows each stage turn green with counts', async () => {
    await page.click('#start-run');
    await page.waitForFunction(() => document.querySelector('tr.execution[data-origin="manual"]') !== null);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-stage]')].every(
          (box) => (box as HTMLElement).dataset['status'] === 'succeeded',
        ),
      undefined,
      { timeout: 60_000 },
    );
    assert.match(await page.locator('[data-stage="Plan batches"] small').innerText(), /240 items in 3 batches/);
    assert.match(
      await page.locator('[data-stage="Merge into index"] small').innerText(),
      /generation 1: 240 vectors \(240 added, 0 replaced, 0 removed/,
    );
    await page.waitForFunction(
      () =>
        document.getElementById('index-vectors')?.textContent === '240' &&
        document.getElementById('pending')?.textContent === '0',
    );
    await shot('2-run-succeeded');
  });

  it('searches and shows an imported item with its score', async () => {
    await page.fill('#search-q', 'Two dogs are running on the beach.');
    await page.click('#search-form button');
    await page.waitForSelector('#search-results li[data-id]');
    assert.equal(await page.locator('#search-results li[data-id]').first().getAttribute('data-id'), 'item-1-0');
    assert.match(await page.locator('#search-results li').first().innerText(), /^1\.000/);
    await shot('3-search');
  });

  it('starts a backfill after confirmation and shows it succeed', async () => {
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.click('#start-backfill');
    await page.waitForFunction(
      () => document.querySelector('tr.execution[data-origin="backfill"] td.status-SUCCEEDED') !== null,
      undefined,
      { timeout: 60_000 },
    );
    await page.waitForFunction(() => document.getElementById('index-generation')?.textContent === '2');
    assert.match(asked, /Rebuild the whole index/);
    assert.equal(await page.locator('#index-change').innerText(), '0 added, 240 replaced, 0 removed');
    await shot('4-backfill');
  });
});
