import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEMO_FILTERED, DEMO_QUERIES } from '../../workflow/cli/demo.ts';
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
    // Real text: passages of State of the Union addresses, each hit naming its president and year.
    assert.match(run.stdout, /import sotu\.jsonl {3}\(300 passages of State of the Union addresses/);
    for (const query of DEMO_QUERIES) {
      assert.match(
        run.stdout,
        new RegExp(
          `search "${query}" \\(generation 1, model default\\)\\n {2}\\d\\.\\d{3} {2}[A-Z][\\w. ]+, \\d{4}: \\S`,
        ),
      );
    }
    // A search narrowed to passages from 1945 on (their year attribute), ranked by both rankings.
    const filtered = run.stdout
      .split(`search "${DEMO_FILTERED.text}" ${DEMO_FILTERED.cli}`)[1]!
      .split('\n')
      .slice(1, 4);
    assert.equal(filtered.length, 3);
    for (const line of filtered) assert.ok(Number(/, (\d{4}): /.exec(line)?.[1]) >= 1945, line);
    assert.doesNotMatch(run.stdout, /A (man|woman|dog) is \w+ing .* \(\d+\)\./, 'no generated filler text');
    assert.match(run.stdout, /monitor: http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(run.stdout, /pending {4}0 items/);
    dir.remove();
  });

  it('rejects a bad --items value', async () => {
    const run = await runCli(['demo', '--items', 'lots']);
    assert.equal(run.code, 2, 'a usage error');
    assert.match(run.stderr, /--items must be a positive integer/);
  });
});
