/** How AWS SDK errors are recognised where one kind of failure is expected and handled. */

/**
 * Whether S3 answered "no such bucket or key" (404): HeadBucket and HeadObject raise
 * `NotFound`, GetObject `NoSuchKey`. Access denied, throttling or an unreachable endpoint are
 * not "missing" and must be reported.
 */
export function isS3NotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
