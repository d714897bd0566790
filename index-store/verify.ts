/**
 * Verification of the published index, file by file: what `ddb-faiss verify` runs. Every file a
 * generation lists is read whole and checked against its recorded size and SHA-256, the vectors
 * file row by row against its row checksums; files that decode (key maps, attributes, lexical
 * index, faiss index) are decoded too. Every problem is collected, not only the first, with the
 * live items of each damaged segment: what a backfill rebuilds from the table.
 *
 * @example
 * ```ts
 * const report = verifyIndex('/mnt/efs', 'global');
 * if (report.problems.length > 0) console.log(report.problems.map((p) => `${p.file}: ${p.problem}`));
 * ```
 */
import faiss from 'faiss-node';
import type { IndexLayout } from '../config/config.ts';
import { type GenerationMeta, GenerationStore, indexedGroups, type SegmentRef } from './generations.ts';
import { AttributeColumns } from './attribute-columns.ts';
import { IndexDamagedError } from './integrity.ts';
import { LexicalIndex } from './lexical-index.ts';
import { SCAN_CHUNK_ROWS, SEGMENT_FILES, type SegmentInfo } from './segment.ts';
import { KeyFilter } from './key-filter.ts';
import { SegmentKeys } from './segment-keys.ts';

/** A damaged file. */
export interface IndexProblem {
  /** The file, relative to the EFS root. */
  readonly file: string;
  readonly problem: string;
  /** The segment it belongs to, when it is a segment's. */
  readonly segment?: string;
}

/** What verifying one index (the global one, or a group's own) found. */
export interface IndexVerification {
  /** The content group whose own index this is (per-group layout); absent for the global index. */
  readonly group?: string;
  /** The generation checked; absent when not even its manifest could be read. */
  readonly generation?: number;
  readonly segments: number;
  readonly files: number;
  readonly bytes: number;
  /** Segments written before checksums: read and decoded, but with nothing to compare against. */
  readonly unchecked: readonly string[];
  readonly problems: readonly IndexProblem[];
  /** Live items of the damaged segments (all of the index's, when its manifest is damaged). */
  readonly itemsInDamagedSegments: number;
}

/** What verifying every published index found. */
export interface VerificationReport {
  readonly indexes: readonly IndexVerification[];
  readonly problems: readonly IndexProblem[];
  readonly files: number;
  readonly bytes: number;
}

/** Runs one check; a damaged file becomes a problem, anything else (an I/O error) is thrown. */
function attempt(problems: IndexProblem[], check: () => void): boolean {
  try {
    check();
    return true;
  } catch (error) {
    if (!(error instanceof IndexDamagedError)) throw error;
    problems.push({ file: error.file, problem: error.problem, ...(error.segment ? { segment: error.segment } : {}) });
    return false;
  }
}

/** Verifies one segment's files, counting what it reads. */
function verifySegment(
  store: GenerationStore,
  ref: SegmentRef,
  problems: IndexProblem[],
  count: { files: number; bytes: number },
): void {
  const files = store.segmentFiles(ref);
  const tally = (bytes: number): void => {
    count.files += 1;
    count.bytes += bytes;
  };
  // Each file read whole (checked against its checksum) and decoded as a reader would.
  const check = <T>(name: string, decode: (bytes: Buffer) => T): void =>
    void attempt(problems, () =>
      files.decode(name, (bytes) => {
        tally(bytes.byteLength);
        return decode(bytes);
      }),
    );
  let info: SegmentInfo | undefined;
  attempt(problems, () => {
    info = files.info();
    tally(0);
  });
  check(SEGMENT_FILES.keys, (bytes) => SegmentKeys.decode(bytes));
  // What a search checks each page of the key map against, as it reads the pages it needs.
  if (files.has(SEGMENT_FILES.keyPageChecksums)) check(SEGMENT_FILES.keyPageChecksums, (bytes) => bytes);
  if (files.has(SEGMENT_FILES.keyFilter)) check(SEGMENT_FILES.keyFilter, (bytes) => KeyFilter.decode(bytes));
  // Without a checksum, decoding is the only check there is; with one, the bytes are known good.
  // A flat segment written since its vectors file became its index has no index.faiss.
  if (ref.kind === 'ivf' || files.has(SEGMENT_FILES.index))
    check(SEGMENT_FILES.index, (bytes) => (ref.checksums ? bytes : faiss.Index.fromBuffer(bytes)));
  if (files.has(SEGMENT_FILES.attributes)) check(SEGMENT_FILES.attributes, (bytes) => AttributeColumns.decode(bytes));
  if (files.has(SEGMENT_FILES.lexical)) check(SEGMENT_FILES.lexical, (bytes) => LexicalIndex.decode(bytes));
  if (ref.kind === 'ivf' && files.has(SEGMENT_FILES.trained)) check(SEGMENT_FILES.trained, (bytes) => bytes);
  if (info) {
    const { rows, dimensions } = info;
    attempt(problems, () => {
      const vectors = files.vectors({ rows, dimensions });
      try {
        for (let from = 0; from < rows; from += SCAN_CHUNK_ROWS)
          vectors.read(from, Math.min(rows, from + SCAN_CHUNK_ROWS));
      } finally {
        vectors.close();
      }
      tally(rows * dimensions * 4);
      if (ref.checksums) tally(rows * 4); // vectors.sum
    });
  }
  if (ref.tombstones.length > 0)
    attempt(problems, () => {
      store.deadRows(ref);
      for (const file of ref.tombstones) tally(ref.tombstoneChecksums?.[file]?.bytes ?? 0);
    });
}

/** Verifies one index's current generation. */
function verifyScope(store: GenerationStore): IndexVerification | undefined {
  const problems: IndexProblem[] = [];
  const group = store.group !== undefined ? { group: store.group } : {};
  let meta: GenerationMeta | undefined;
  let pointerRead = false;
  attempt(problems, () => {
    const pointer = store.current();
    pointerRead = true;
    if (pointer) meta = store.meta(pointer);
  });
  if (pointerRead && !meta && problems.length === 0) return undefined; // nothing published
  if (!meta) return { ...group, segments: 0, files: 0, bytes: 0, unchecked: [], problems, itemsInDamagedSegments: 0 };
  const count = { files: 2, bytes: 0 };
  let damagedItems = 0;
  for (const ref of meta.segments) {
    const before = problems.length;
    verifySegment(store, ref, problems, count);
    if (problems.length > before) damagedItems += ref.items - ref.deadItems;
  }
  return {
    ...group,
    generation: meta.generation,
    segments: meta.segments.length,
    files: count.files,
    bytes: count.bytes,
    unchecked: meta.segments.filter((ref) => !ref.checksums).map((ref) => ref.id),
    problems,
    itemsInDamagedSegments: damagedItems,
  };
}

/**
 * Verifies every file of the published index: the global index, or every group's own.
 * @param layout the index layout (`per-group` checks each group's index)
 */
export function verifyIndex(efsRoot: string, layout: IndexLayout): VerificationReport {
  const stores =
    layout === 'per-group'
      ? indexedGroups(efsRoot).map((group) => new GenerationStore(efsRoot, group))
      : [new GenerationStore(efsRoot)];
  const indexes = stores.map(verifyScope).filter((scope): scope is IndexVerification => scope !== undefined);
  return {
    indexes,
    problems: indexes.flatMap((scope) => scope.problems),
    files: indexes.reduce((sum, scope) => sum + scope.files, 0),
    bytes: indexes.reduce((sum, scope) => sum + scope.bytes, 0),
  };
}
