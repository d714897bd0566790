/**
 * Errors meant for a person share one base class (`config/errors.ts`): the CLI prints any of them
 * as its message and hint, without a stack trace, whatever its name, and keeps the stack of
 * anything else (a defect); the search API answers a request error with its status and code.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { TableSetupError } from '../../table/existing-table.ts';
import { RequestError, UserFacingError } from '../../config/errors.ts';
import { IndexDamagedError } from '../../index-store/integrity.ts';
import { TableBusyError } from '../../search/results.ts';
import { type Command, executeCommand } from '../../workflow/cli/command.ts';

/** Runs a command that throws `error`; what it printed and its exit code. */
async function failWith(error: unknown): Promise<{ code: number; stderr: string }> {
  const command: Command = {
    name: 'try',
    summary: 'throws',
    async run() {
      throw error;
    },
  };
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const code = await executeCommand(command, [], { stdout: new PassThrough(), stderr, stdin: Readable.from([]) });
  return { code, stderr: text };
}

describe('user-facing errors in the CLI', () => {
  it('prints any subclass as its message and hint, without a stack trace, though no list names it', async () => {
    // Prepare: a class made here, which nothing in the CLI knows by name
    class FreshError extends UserFacingError {
      override readonly name = 'FreshError';
      readonly code = 'fresh';
    }
    // Act
    const fresh = await failWith(new FreshError('the widget is missing', { hint: 'add one with --widget' }));
    const table = await failWith(new TableSetupError('table orders is keyed by tenant and order_id'));
    // Assess
    assert.equal(fresh.code, 1);
    assert.equal(fresh.stderr, 'ddb-faiss try: the widget is missing\nadd one with --widget\n');
    assert.equal(table.stderr, 'ddb-faiss try: table orders is keyed by tenant and order_id\n');
  });

  it('keeps the stack trace of any other error: it is a defect to be reported', async () => {
    // Act
    const { code, stderr } = await failWith(new TypeError('cannot read properties of undefined'));
    // Assess
    assert.equal(code, 1);
    assert.match(stderr, /^ddb-faiss try: TypeError: cannot read properties of undefined\n {4}at /);
  });
});

describe('request errors', () => {
  it('carry the status, code and headers the search API answers with', () => {
    // Act
    const busy = new TableBusyError('the table is throttling reads');
    const damaged = new IndexDamagedError('index/segments/s1/keys.bin', 'is 1,024 bytes; its manifest says 4,096');
    // Assess
    assert.ok(busy instanceof RequestError && damaged instanceof RequestError);
    assert.deepEqual([busy.status, busy.code, busy.headers], [503, 'table-busy', { 'Retry-After': '1' }]);
    assert.deepEqual([damaged.status, damaged.code, damaged.headers], [503, 'index-damaged', {}]);
  });
});
