import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { DEMO_FILTERED, DEMO_QUERIES } from '../../workflow/cli/demo.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/local-stack.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('ddb-faiss demo (what npm start runs)', () => {
  it('imports, indexes, searches and reports status on the embedded stack, then stops', async () => {
    // Prepare
    const dir = tempDir();
    // Act
    const run = await runCli(['demo', '--items', '300', '--data-dir', dir.path]);
    // Assess
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /imported 300 items/);
    // The run clears the 300 flags; or, on a busy machine, the captured run the import's stream
    // started holds the index first, and this one waits for it and finds nothing left to do.
    assert.match(
      run.stdout,
      /\+ Clear pending flags\s+succeeded 300 flags cleared|waiting: another run \(captured-[^)]+\) holds the index[^]*SKIPPED in [\d.]+ s: nothing pending/,
    );
    // Real text: passages of State of the Union addresses, each hit naming its president and year.
    assert.match(run.stdout, /import sotu\.jsonl --data-dir \S+ {3}\(300 passages of State of the Union addresses/);
    // Each search shown as the command it is, its hits naming president and year.
    const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const query of DEMO_QUERIES) {
      assert.match(
        run.stdout,
        new RegExp(
          `\\$ ddb-faiss search '${quote(query)}' -k 3 --data-dir \\S+\\n3 hits \\(generation 1, model default; ` +
            `scores are cosine similarity, -1 to 1\\)\\n\\d\\.\\d{3} {2}[A-Z][\\w. ]+/\\d{4}-\\d{3}`,
        ),
      );
    }
    // A search narrowed to passages from 1945 on (their year attribute), ranked by both rankings.
    const filtered = run.stdout.split(`$ ddb-faiss search '${DEMO_FILTERED.text}' -k 3 --mode hybrid`)[1]!;
    const years = [...filtered.split('$ ddb-faiss status')[0]!.matchAll(/^ +year=(\d{4})/gm)].map((m) => Number(m[1]));
    assert.equal(years.length, 3, filtered);
    for (const year of years) assert.ok(year >= 1945, String(year));
    // What to do next: commands that run as printed, with real values.
    assert.match(run.stdout, /\n {2}ddb-faiss similar '[A-Z][\w. ]+' \d{4}-\d{3} -k 3 --data-dir \S+\n/);
    assert.match(run.stdout, /the stack stops when the demo ends: --keep keeps it/, 'no terminal here: it stops');
    assert.doesNotMatch(run.stdout, /A (man|woman|dog) is \w+ing .* \(\d+\)\./, 'no generated filler text');
    assert.match(run.stdout, /monitor: http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(run.stdout, /pending {4}0 items/);
    dir.remove();
  });

  it('with --keep, keeps the stack up after the demo, the monitor answering, until Ctrl-C', async () => {
    // Prepare
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/ddb-faiss.js'), 'demo', '--items', '100', '--keep', '--data-dir', dir.path],
      { cwd: root },
    );
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    // Act: wait for the demo to end and say the stack is up
    const up = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "stack is up" within 120 s:\n${out}`)), 120_000);
      child.stdout.on('data', () => {
        const match = /The stack is up: the monitor at (\S+), .* Ctrl-C stops it\./.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const monitor = await fetch(up);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    // Assess
    assert.equal(monitor.status, 200);
    assert.equal(await exited, 0);
    dir.remove();
  });

  it('rejects a bad --items value', async () => {
    const run = await runCli(['demo', '--items', 'lots']);
    assert.equal(run.code, 2, 'a usage error');
    assert.match(run.stderr, /--items must be a positive integer/);
  });
});
