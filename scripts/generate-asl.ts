/** `npm run asl`: writes `asl/indexer.asl.json` from the task definition (`asl/tasks.ts`). */
import { writeFileSync } from 'node:fs';
import { INDEXER_ASL_FILE, indexerDefinitionText } from '../asl/indexer.ts';

writeFileSync(INDEXER_ASL_FILE, indexerDefinitionText());
console.log(`wrote ${INDEXER_ASL_FILE.pathname}`);
