// The exact answers of `npm run bench -- --scale` for one part of the live vectors, in a fresh
// process: rows [from, to) of the live vectors file searched exactly (faiss's flat inner product,
// all queries at once) for each query's ten best. A process a part, so that the part's memory
// (its rows and faiss's copy of them) is returned when it exits: a faiss index's memory is not
// seen by the garbage collector, and at 10M rows a few parts kept alive exhaust the machine.
// Prints one JSON line: each query's ten best as [row, score] pairs.
// Arguments: <live vectors file> <dimensions> <from> <to> <query vectors file>
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import faiss from 'faiss-node';

export type TruthPart = [row: number, score: number][][];

const [liveFile, dArg, fromArg, toArg, queriesFile] = process.argv.slice(2) as [string, string, string, string, string];
const [d, from, to] = [Number(dArg), Number(fromArg), Number(toArg)];
const queryBytes = readFileSync(queriesFile);
const queries = new Float32Array(queryBytes.buffer, queryBytes.byteOffset, queryBytes.byteLength / 4);
const k = 10;

const rows = Buffer.allocUnsafe((to - from) * d * 4);
const fd = openSync(liveFile, 'r');
for (let done = 0; done < rows.length;) done += readSync(fd, rows, done, rows.length - done, from * d * 4 + done);
closeSync(fd);
const flat = new faiss.IndexFlatIP(d);
flat.add(new Float32Array(rows.buffer, rows.byteOffset, rows.length / 4));
const { labels, distances } = flat.search(Array.from(queries), k);
const part: TruthPart = Array.from({ length: queries.length / d }, (_, q) =>
  Array.from({ length: k }, (_, i): [number, number] => [from + labels[q * k + i]!, distances[q * k + i]!]).filter(
    ([row]) => row >= from,
  ),
);
console.log(JSON.stringify(part));
