/**
 * What a hit's score is, by ranking: vector scores and fused ranks are not on one scale. One
 * sentence each, for the CLI's answer line and the monitor's search box; imports nothing at run time
 * (the monitor's page bundles it).
 */
import type { SearchMode } from './results.ts';

export const SCORE_MEANING: Readonly<Record<SearchMode, string>> = {
  vector: 'scores are cosine similarity, -1 to 1',
  lexical: 'scores are BM25, higher is better, unbounded',
  hybrid: 'scores are fused ranks: the sum of 1/(60 + rank) over both rankings, at most 0.033',
};
