/**
 * `ddb-faiss verify`: checks every file of the published index against the checksums its
 * generation recorded (the vectors row by row), and says what is damaged and what a backfill
 * would rebuild. It reads the index where it lives, the EFS folder: locally `<data-dir>/efs`; for a
 * deployed stack, run it where the file system is mounted (`--efs-root /mnt/efs`).
 */
import { existsSync } from 'node:fs';
import { type Command, JSON_OPTION, println } from './command.ts';

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check every file of the published index against its checksums; say what a backfill would fix',
  options: { json: JSON_OPTION },
  settings: ['efs-root', 'index-layout'],
  examples: [
    { run: 'ddb-faiss verify', says: "check the local stack's index, every byte" },
    { run: 'ddb-faiss verify --efs-root /mnt/efs', says: 'check a deployed index where its file system is mounted' },
  ],
  async run({ config, values }, io) {
    if (!existsSync(config.efsRoot)) {
      println(
        io.stderr,
        `ddb-faiss verify: no index folder at ${config.efsRoot}: verify reads the EFS file system the index lives ` +
          'on (locally <data-dir>/efs; for a deployed stack, where EFS is mounted: --efs-root /mnt/efs)',
      );
      return 1;
    }
    const { verifyIndex } = await import('../../index-store/verify.ts');
    const { DAMAGE_REMEDY } = await import('../../index-store/integrity.ts');
    const started = performance.now();
    const report = verifyIndex(config.efsRoot, config.indexLayout);
    const seconds = (performance.now() - started) / 1000;
    const damaged = report.problems.length > 0;
    if (values['json']) {
      println(io.stdout, JSON.stringify({ ok: !damaged, seconds, ...report }));
      return damaged ? 1 : 0;
    }
    if (report.indexes.length === 0) {
      println(io.stdout, `no index is published under ${config.efsRoot} yet`);
      return 0;
    }
    for (const index of report.indexes) {
      const name = index.group === undefined ? 'index' : `index of group "${index.group}"`;
      const generation = index.generation === undefined ? 'generation unreadable' : `generation ${index.generation}`;
      const state = index.problems.length === 0 ? 'OK' : `${index.problems.length} damaged`;
      println(
        io.stdout,
        `${name}: ${generation}, ${index.segments} segments, ${index.files} files, ` +
          `${megabytes(index.bytes)} read: ${state}`,
      );
      for (const problem of index.problems) println(io.stdout, `  ${problem.file} ${problem.problem}`);
      if (index.unchecked.length > 0)
        println(
          io.stdout,
          `  ${index.unchecked.length} segments were written before checksums (decoded, nothing to compare against); ` +
            'a backfill writes them with checksums',
        );
    }
    println(io.stdout, `checked ${report.files} files, ${megabytes(report.bytes)}, in ${seconds.toFixed(1)} s`);
    if (!damaged) return 0;
    const items = report.indexes.reduce((sum, index) => sum + index.itemsInDamagedSegments, 0);
    const unreadable = report.indexes.some((index) => index.generation === undefined);
    const held = unreadable ? 'index holds an unknown number of' : `segments hold ${items}`;
    println(io.stdout, `the damaged ${held} items: ${DAMAGE_REMEDY}`);
    return 1;
  },
};
