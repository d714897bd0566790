/**
 * Takes the README's picture of the monitor: `node --import tsx scripts/screenshot-monitor.ts URL
 * [docs/monitor.png] [chromium]`, with a stack the demo kept up (`npm start -- --keep`) and Debian's
 * Chromium (or the one named). It waits for the monitor's first reads to be drawn.
 */
import { chromium } from 'playwright-core';

const [url, file = 'docs/monitor.png', executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
if (!url) {
  console.error('usage: screenshot-monitor.ts <monitor URL> [file.png]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1800, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(url, { waitUntil: 'networkidle' });
  await page.waitForTimeout(3_000); // the charts draw from the first reads
  await page.screenshot({ path: file, fullPage: false });
  console.log(`wrote ${file}`);
} finally {
  await browser.close();
}
