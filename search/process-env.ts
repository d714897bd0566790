/**
 * What a search process's environment holds before it loads faiss-node (its OpenMP runtime reads
 * it once, as it loads): OpenMP's idle workers sleep at once (`PASSIVE`) instead of spinning,
 * as libgomp's do by default for a while after each parallel region. A search runs one short
 * parallel region a query (`faiss.searchEach`, the segments side by side), then reads: the
 * re-rank's rows, then the table's items. Spinning workers held the cores those reads and the
 * table (locally, DynamoDB Local) needed: on this 2-core machine, with another process busy on
 * both cores, a 300,000-item index's embed + index + read-back p50 was 10.7-12.8 ms spinning,
 * 8.5-9.0 passive (index 2.5-3.1 ms against 1.8; a /tmp script, not a bench). The search
 * function (infra) and the scale bench's search process are started with it; the local stack's
 * search, which shares its process with the runs, is not.
 *
 * @example
 * ```ts
 * spawn(process.execPath, [script], { env: { ...process.env, ...SEARCH_PROCESS_ENV } });
 * ```
 */
export const SEARCH_PROCESS_ENV: Readonly<Record<string, string>> = { OMP_WAIT_POLICY: 'PASSIVE' };
