// faiss-node as ddb-faiss builds it (scripts/faiss-node-binding.js, FLOAT32_PATCH): `add` and
// `train` also take a Float32Array, read in place instead of copied value by value.
import 'faiss-node';

declare module 'faiss-node' {
  interface Index {
    add(x: number[] | Float32Array): void;
    train(x: number[] | Float32Array): void;
  }
}
