/** Seeded pseudo-random numbers for the benches: every run builds the same data. */

/** Numbers in [0, 1) from a linear congruential generator seeded with `seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => (state = (state * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32;
}

/** `count` unit vectors of `dimensions` pseudo-random components, row after row. */
export function randomUnitVectors(count: number, dimensions: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const vectors = new Float32Array(count * dimensions).map(() => random() - 0.5);
  for (let row = 0; row < count; row++) {
    const vector = vectors.subarray(row * dimensions, (row + 1) * dimensions);
    const scale = 1 / Math.hypot(...vector);
    for (let col = 0; col < dimensions; col++) vector[col]! *= scale;
  }
  return vectors;
}
