import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { progressBar, progressOutput } from '../../workflow/cli/progress.ts';

function capture(tty: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stream.isTTY = true;
  let text = '';
  stream.on('data', (chunk) => (text += chunk));
  return { stream, text: () => text };
}

describe('progress output', () => {
  it('draws a bar', () => {
    assert.equal(progressBar(3, 12), `[${'#'.repeat(6)}${'-'.repeat(18)}] 3/12`);
    assert.equal(progressBar(0, 0), `[${'-'.repeat(24)}] 0/0`);
    assert.equal(
      progressBar(3, 8, 'batches'),
      `[${'#'.repeat(9)}${'-'.repeat(15)}] 3/8 batches`,
      'with what it counts',
    );
  });

  it('redraws one line in place on a terminal', () => {
    const out = capture(true);
    const progress = progressOutput(out.stream);
    progress.live('embed', 1, 4);
    progress.live('embed', 2, 4);
    progress.line('+ Embed batches succeeded');
    assert.equal(
      out.text(),
      `embed ${progressBar(1, 4)}\r\x1b[Kembed ${progressBar(2, 4)}\r\x1b[K+ Embed batches succeeded\n`,
    );
  });

  it('prints plain lines, once per change, when not a terminal', () => {
    const out = capture(false);
    const progress = progressOutput(out.stream);
    progress.live('embed', 1, 4);
    progress.live('embed', 1, 4);
    progress.live('embed', 2, 4);
    progress.line('done');
    assert.equal(out.text(), 'embed 1/4\nembed 2/4\ndone\n');
    assert.ok(!out.text().includes('\r') && !out.text().includes('\u001b'), 'no carriage returns or escape codes');
  });
});
