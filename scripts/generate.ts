/**
 * `npm run generate`: writes the files derived from a single definition, which tests keep equal
 * to it: `asl/indexer.asl.json` (from `asl/tasks.ts` and `asl/indexer.ts`) and the generated
 * sections of `docs/` (`scripts/doc-sections.ts`: the settings table, the workflow's diagram and
 * states, the benchmark tables).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INDEXER_ASL_FILE, indexerDefinitionText } from '../asl/indexer.ts';
import { PROJECT_ROOT } from '../config/project.ts';
import { GENERATED_SECTIONS, withGeneratedSections } from './doc-sections.ts';

writeFileSync(INDEXER_ASL_FILE, indexerDefinitionText());
console.log(`wrote ${INDEXER_ASL_FILE.pathname}`);
for (const page of Object.keys(GENERATED_SECTIONS)) {
  const file = path.join(PROJECT_ROOT, page);
  writeFileSync(file, withGeneratedSections(page, readFileSync(file, 'utf8')));
  console.log(`wrote the generated sections of ${page}`);
}
