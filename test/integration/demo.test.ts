import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/local-stack.ts';

describe('ddb-faiss demo (what npm start runs)', () => {
  it('imports, indexes, searches and reports status on the embedded stack, then stops', async () => {
    // Prepare
    const dir = tempDir();
    // Act
    const run = await runCli(['demo', '--items', '300', '--data-dir', dir.path]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /imported 300 items/);
    assert.match(run.stdout, /\+ Clear pending flags\s+succeeded 300 flags cleared/);
    assert.match(run.stdout, /search "a man is playing music" \(generation 1, model default\)\n {2}\d\.\d{3} {2}\S/);
    assert.match(run.stdout, /pending {4}0 items/);
    dir.remove();
  });

  it('rejects a bad --items value', async () => {
    const run = await runCli(['demo', '--items', 'lots']);
    assert.equal(run.code, 2, 'a usage error');
    assert.match(run.stderr, /--items must be a positive integer/);
  });
});
