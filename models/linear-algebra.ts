/** The little dense linear algebra the default model needs (100x100 matrices). */

/**
 * Eigen-decomposition of a symmetric n x n matrix (row-major) by cyclic Jacobi rotations.
 * @returns eigenvalues descending, with unit eigenvectors as rows in the same order
 */
export function symmetricEigen(input: Float64Array, n: number): { values: number[]; vectors: Float64Array[] } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  return {
    values: order.map((i) => a[i * n + i]!),
    vectors: order.map((i) => Float64Array.from({ length: n }, (_, k) => v[k * n + i]!)),
  };
}

/** X^T X for rows of width n. */
export function gram(rows: Iterable<ArrayLike<number>>, n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (const row of rows) {
    for (let i = 0; i < n; i++) {
      const ri = row[i]!;
      if (ri === 0) continue;
      for (let j = i; j < n; j++) g[i * n + j]! += ri * row[j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[i * n + j] = g[j * n + i]!;
  return g;
}

/** Removes the components along `directions` (unit, orthogonal) from a vector, in place. */
export function removeDirections(vector: Float64Array | Float32Array, directions: readonly ArrayLike<number>[]): void {
  for (const u of directions) {
    let dot = 0;
    for (let d = 0; d < vector.length; d++) dot += vector[d]! * u[d]!;
    for (let d = 0; d < vector.length; d++) vector[d]! -= dot * u[d]!;
  }
}
