// Learns the default model's common sentence directions from the STS Benchmark *train*
// split and writes models/default-model/learned.json (then commit it).
//   npm run learn-default-model [-- path/to/sts-train.csv]
import { writeFileSync } from 'node:fs';
import { LEARNED_FILE, learnSentenceDirections } from '../models/default-model/build.ts';
import path from 'node:path';
import { readSts, stsDir } from '../models/sts.ts';

const trainFile = process.argv[2] ?? path.join(stsDir(), 'sts-train.csv');
const pairs = readSts(trainFile);
const learned = learnSentenceDirections(pairs.flatMap((pair) => [pair.first, pair.second]));
writeFileSync(LEARNED_FILE, `${JSON.stringify(learned, null, 1)}\n`);
console.log(
  `learned ${learned.sentenceDirections.length} directions from ${pairs.length} train pairs -> ${LEARNED_FILE}`,
);
