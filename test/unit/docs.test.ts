/**
 * The documentation as a newcomer meets it: a README short enough to start from, every page of
 * `docs/` reachable from it, no link pointing at a file that is not there, and every generated
 * section (settings, the workflow, the benchmark tables) equal to what its source renders today.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../config/project.ts';
import { GENERATED_SECTIONS, withGeneratedSections } from '../../scripts/doc-sections.ts';

const read = (page: string): string => readFileSync(path.join(PROJECT_ROOT, page), 'utf8');

/** The relative links of a markdown page (targets without their #anchor), resolved from the repository root. */
function linksOf(page: string): string[] {
  const text = read(page).replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith('#'))
    .map((target) => path.normalize(path.join(path.dirname(page), target.split('#')[0]!)));
}

const DOCS = readdirSync(path.join(PROJECT_ROOT, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/${file}`);

describe('the documentation', () => {
  it('starts with a README of at most about 200 lines', () => {
    // Act
    const lines = read('README.md').split('\n').length;

    // Assess
    assert.ok(lines <= 210, `README.md has ${lines} lines`);
  });

  it('reaches every page of docs/ from the README, following links', () => {
    // Act
    const reached = new Set<string>(['README.md']);
    const queue = ['README.md'];
    while (queue.length > 0)
      for (const target of linksOf(queue.shift()!))
        if (target.endsWith('.md') && !reached.has(target) && existsSync(path.join(PROJECT_ROOT, target))) {
          reached.add(target);
          queue.push(target);
        }

    // Assess
    assert.deepEqual(
      DOCS.filter((page) => !reached.has(page)),
      [],
    );
  });

  it('links only to files that exist', () => {
    // Act
    const broken = ['README.md', ...DOCS].flatMap((page) =>
      linksOf(page)
        .filter((target) => !existsSync(path.join(PROJECT_ROOT, target)))
        .map((target) => `${page} -> ${target}`),
    );

    // Assess
    assert.deepEqual(broken, []);
  });

  for (const page of Object.keys(GENERATED_SECTIONS))
    it(`holds in ${page} exactly what its generated sections render (npm run generate)`, () => {
      // Prepare
      const text = read(page);

      // Act
      const regenerated = withGeneratedSections(page, text);

      // Assess
      assert.equal(text, regenerated, `${page} is out of date: run \`npm run generate\``);
    });
});
