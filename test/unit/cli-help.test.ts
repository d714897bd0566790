/**
 * The CLI's help, made from each command's declaration: every flag with a sentence, examples,
 * the configuration flags that matter to the command, `help settings` with all of them; and a
 * mistyped command or flag answered with the one likely meant.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFlagOptions } from '../../config/config.ts';
import { searchCommand } from '../../workflow/cli/search.ts';
import { runCli } from '../helpers/cli.ts';
import { COMMANDS } from '../../workflow/cli/main.ts';

const COMMAND_NAMES = COMMANDS.map((command) => command.name);

describe('the CLI help', () => {
  it('describes `search`: every flag with its sentence, the configuration flags it reads, and examples', async () => {
    // Act
    const help = await runCli(['search', '--help']);
    // Assess
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^USAGE\n {2}ddb-faiss search "<text>" \[flags\]$/m);
    for (const [name, option] of Object.entries(searchCommand.options ?? {})) {
      const line = help.stdout.split('\n').find((text) => text.includes(`--${name}`));
      assert.ok(line, `--${name} is listed`);
      const firstWords = option.description.split(' ').slice(0, 3).join(' ');
      assert.ok(help.stdout.includes(firstWords), `--${name} is described`);
    }
    assert.match(help.stdout, /^ {2}-k, --k N {2,}how many hits, 1 to 100 \(default 10\)$/m);
    assert.match(help.stdout, /CONFIGURATION FLAGS\n {6}--target VALUE/);
    assert.match(help.stdout, /EXAMPLES\n {2}# .+\n {2}\$ ddb-faiss search "a man playing music" -k 5/);
    assert.ok(
      help.stdout.split('\n').every((line) => line.length <= 100),
      'lines fit 100 columns',
    );
  });

  it('has help for every command, each naming only configuration flags that exist', async () => {
    for (const name of COMMAND_NAMES) {
      const help = await runCli([name, '--help']);
      assert.equal(help.code, 0, `${name}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`USAGE\\n {2}ddb-faiss ${name}`));
      assert.match(help.stdout, /EXAMPLES\n/, `${name} shows examples`);
      const wide = help.stdout.split('\n').filter((line) => line.length > 100);
      assert.deepEqual(wide, [], `${name}: lines fit 100 columns`);
      assert.equal((await runCli(['help', name])).stdout, help.stdout, '`help <command>` says the same');
    }
  });

  it('lists every configuration flag with `help settings`', async () => {
    const help = await runCli(['help', 'settings']);
    assert.equal(help.code, 0);
    for (const flag of Object.keys(configFlagOptions())) assert.match(help.stdout, new RegExp(`--${flag} `), flag);
  });

  it('suggests the command or flag a typo meant', async () => {
    const command = await runCli(['serach', 'a red bus']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command "serach"; did you mean "search"\?/);
    const flag = await runCli(['search', 'a red bus', '--fitler', 'year>=2000']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown flag --fitler; did you mean --filter\?/);
    assert.match(flag.stderr, /usage: ddb-faiss search "<text>" \[flags\] {2}\(`ddb-faiss help search` says more\)/);
    const far = await runCli(['frobnicate']);
    assert.doesNotMatch(far.stderr, /did you mean/, 'nothing is suggested for a word unlike any command');
  });
});
