/**
 * Direction at load time: a command run against AWS never loads the local stack (the emulator, its
 * engine and DynamoDB Local's launcher). ESLint's zones guard which rooms may import which; this
 * guards what the CLI loads before it knows its target: the static import graph of its entry point
 * (type-only imports are erased, `import()` runs only where it is reached) holds no module of
 * `local-stack/`. Those are loaded with `import()` in the local target's branches.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../config/project.ts';

/** The relative modules a file imports for its runtime, statically (not type-only, not `import()`). */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
      const bindings = statement.importClause?.namedBindings;
      const allInlineTypes =
        !statement.importClause?.name &&
        bindings !== undefined &&
        ts.isNamedImports(bindings) &&
        bindings.elements.length > 0 &&
        bindings.elements.every((element) => element.isTypeOnly);
      if (!allInlineTypes) specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) specifier = statement.moduleSpecifier;
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.'))
      found.push(path.resolve(path.dirname(file), specifier.text));
  }
  return found.filter((resolved) => existsSync(resolved));
}

/** Every module reachable from `entry` through static imports, each with the chain that reached it. */
function staticGraph(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of staticImports(file)) {
      if (reached.has(next)) continue;
      reached.set(next, [...reached.get(file)!, next]);
      queue.push(next);
    }
  }
  return reached;
}

const relative = (file: string): string => path.relative(PROJECT_ROOT, file);

describe('import direction at load time', () => {
  it('the CLI loads no module of local-stack/ before its target asks for one', () => {
    // Prepare
    const entry = path.join(PROJECT_ROOT, 'workflow/cli/main.ts');

    // Act
    const graph = staticGraph(entry);

    // Assess
    for (const command of ['workflow/cli/status.ts', 'workflow/cli/monitor.ts', 'workflow/cli/capture.ts'])
      assert.ok(graph.has(path.join(PROJECT_ROOT, command)), `the walk reached ${command}`);
    const emulator = [...graph].filter(([file]) => relative(file).startsWith('local-stack/'));
    assert.deepEqual(
      emulator.map(([, chain]) => chain.map(relative).join(' -> ')),
      [],
      'these chains load the local stack whatever the target',
    );
  });

  it('the monitor, the capture re-drive and status reach AWS through modules outside local-stack/', () => {
    // Prepare
    const modules = ['workflow/cli/monitor.ts', 'workflow/capture-redrive.ts', 'workflow/capture-status.ts'];

    // Act
    const reached = modules.flatMap((module) => [...staticGraph(path.join(PROJECT_ROOT, module)).keys()]);

    // Assess
    assert.deepEqual(
      reached.map(relative).filter((file) => file.startsWith('local-stack/')),
      [],
    );
  });
});
