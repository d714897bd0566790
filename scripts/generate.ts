/**
 * `npm run generate`: writes the files derived from a single definition, which tests keep
 * equal to it: `asl/indexer.asl.json` (from `asl/tasks.ts` and `asl/indexer.ts`) and the
 * README's configuration table (from `config/settings.ts`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { INDEXER_ASL_FILE, indexerDefinitionText } from '../asl/indexer.ts';
import { withSettingsTable } from '../config/readme-table.ts';

writeFileSync(INDEXER_ASL_FILE, indexerDefinitionText());
console.log(`wrote ${INDEXER_ASL_FILE.pathname}`);
const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withSettingsTable(readFileSync(readme, 'utf8')));
console.log(`wrote the configuration table in ${readme.pathname}`);
