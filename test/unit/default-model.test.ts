import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { verifyBundle } from '../../embedding/bundle.ts';
import { ensureDefaultBundle } from '../../models/default-model/build.ts';
import { type Embedder, loadEmbedder } from '../../embedding/runtime.ts';
import { readSts, stsDir, stsSpearman } from '../../models/sts.ts';
import { SENTENCE_END, sotuPassages } from '../../workflow/demo-corpus.ts';

const STS_DEV = path.join(stsDir(), 'sts-dev.csv');
/** Most similarity a sentence may keep with a reordering of its words (0.1's model: 1.0000; now 0.991-0.993). */
const ORDER_MAX_SIMILARITY = 0.999;
/** How much less a negation must score than a paraphrase (0.1's model: more; now at least 0.19 less). */
const NEGATION_MARGIN = 0.1;
const dot = (x: Float32Array, y: Float32Array): number => x.reduce((sum, value, i) => sum + value * y[i]!, 0);
/**
 * The STS Benchmark carries third-party licences, so the repository does not ship it. Where it
 * is absent the quality check is skipped with that reason; CI has it, and there (CI=true) a
 * missing split fails the check instead of skipping it.
 */
const stsAbsent =
  !existsSync(STS_DEV) && !process.env['CI']
    ? `the STS Benchmark dev split is not at ${STS_DEV} (shared/data/stsb beside the checkout, or DDB_FAISS_STS_DIR)`
    : false;

describe('the default model', () => {
  let dir = '';
  let embedder: Embedder;
  before(async () => {
    dir = await ensureDefaultBundle();
    embedder = await loadEmbedder(dir);
  });

  it('is a verified bundle under 60 MB', async () => {
    const manifest = await verifyBundle(dir);
    const bytes = ['model.onnx', 'tokenizer.json', 'manifest.json'].reduce(
      (sum, file) => sum + statSync(path.join(dir, file)).size,
      0,
    );
    assert.ok(bytes < 60e6, `bundle is ${(bytes / 1e6).toFixed(1)} MB`);
    assert.equal(manifest.name, 'default');
    assert.equal(manifest.dimensions, 356);
  });

  it('reaches Spearman x100 >= 79 on the STS Benchmark dev split', { skip: stsAbsent }, async () => {
    assert.ok(
      existsSync(STS_DEV),
      `the STS Benchmark dev split is expected at ${STS_DEV} (shared/data/stsb beside the checkout); ` +
        'set DDB_FAISS_STS_DIR to its folder',
    );
    const score = await stsSpearman(embedder, readSts(STS_DEV));
    assert.ok(score >= 79, `STS dev Spearman ${score.toFixed(2)}`);
  });

  it('finds a State of the Union passage from one of its sentences among 4,000 (data the repository ships)', async () => {
    // Prepare: the demo's passages (public domain, delivered by npm); each 20th passage's middle sentence is a query
    const passages = sotuPassages(4000);
    const queries = passages
      .map((passage, row) => ({ row, text: passage.content.split(SENTENCE_END)[1] ?? '' }))
      .filter((query, i) => i % 20 === 7 && query.text.split(' ').length >= 6);
    // Act: rank every passage by cosine (the vectors are unit length) for each query
    const vectors = (await embedder.embed(passages.map((passage) => passage.content))).map((result) =>
      result.ok ? result.vector : new Float32Array(356),
    );
    const queryVectors = await embedder.embed(queries.map((query) => query.text));
    const ranks = queries.map((query, i) => {
      const q = queryVectors[i]!;
      assert.ok(q.ok);
      const score = (v: Float32Array) => v.reduce((sum, value, k) => sum + value * q.vector[k]!, 0);
      const own = score(vectors[query.row]!);
      // A tie counts against the passage: a model that maps everything alike finds nothing
      return vectors.filter((vector, row) => row !== query.row && score(vector) >= own).length;
    });
    // Assess: measured here 0.913 at 1 and 0.964 in the top 10 (196 queries; 0.1: 0.918 and 0.969); a model that lost
    // its vocabulary or its normalisation falls far below
    const recallAt = (k: number) => ranks.filter((rank) => rank < k).length / ranks.length;
    assert.ok(queries.length > 150, `${queries.length} queries`);
    assert.ok(recallAt(1) >= 0.85, `recall@1 ${recallAt(1).toFixed(3)}`);
    assert.ok(recallAt(10) >= 0.93, `recall@10 ${recallAt(10).toFixed(3)}`);
  });

  it('counts word order: a sentence and its reordering differ, and each finds itself first', async () => {
    // Prepare: sentences whose words are the same, in another order that changes the meaning
    const pairs = [
      ['the dog bit the man', 'the man bit the dog'],
      ['Alice sold the car to Bob.', 'Bob sold the car to Alice.'],
      ['The cat chased the mouse around the house.', 'The mouse chased the cat around the house.'],
    ];
    for (const [sentence, reordered] of pairs) {
      // Act
      const [a, b] = await embedder.embed([sentence, reordered]);
      // Assess: the query's exact sentence outranks its reordering (1 against less than 1)
      assert.ok(a?.ok && b?.ok);
      const similarity = dot(a.vector, b.vector);
      assert.ok(similarity < ORDER_MAX_SIMILARITY, `${sentence} / ${reordered}: ${similarity.toFixed(4)}`);
    }
  });

  it('scores a sentence and its negation clearly lower than a sentence and its paraphrase', async () => {
    // Prepare: a sentence, a paraphrase, and its negation
    const triples = [
      ['the man is happy', 'the man is glad', 'the man is not happy'],
      ['A man is playing a guitar.', 'A man plays the guitar.', 'A man is not playing a guitar.'],
      ['The store is open on Sundays.', 'The shop opens on Sundays.', "The store isn't open on Sundays."],
      ['She likes the new movie.', 'She enjoys the new film.', 'She never likes the new movie.'],
      [
        'The children are playing in the park.',
        'Kids are playing in the park.',
        'The children are not playing in the park.',
      ],
      ['The train arrived on time.', 'The train came on time.', 'The train did not arrive on time.'],
    ];
    for (const [sentence, paraphrase, negation] of triples) {
      // Act
      const [a, p, n] = await embedder.embed([sentence, paraphrase, negation]);
      assert.ok(a?.ok && p?.ok && n?.ok);
      // Assess
      const paraphraseSimilarity = dot(a.vector, p.vector);
      const negationSimilarity = dot(a.vector, n.vector);
      assert.ok(
        negationSimilarity < paraphraseSimilarity - NEGATION_MARGIN,
        `${sentence}: paraphrase ${paraphraseSimilarity.toFixed(4)}, negation ${negationSimilarity.toFixed(4)}`,
      );
    }
  });

  it('handles case, punctuation and unknown words sensibly', async () => {
    const [a, b, c, unknown, empty] = await embedder.embed([
      'The Cat sat.',
      'the cat sat',
      'Stock markets fell sharply today',
      'qwzxv',
      '',
    ]);
    assert.ok(a?.ok && b?.ok && c?.ok && unknown?.ok && empty?.ok);
    assert.ok(dot(a.vector, b.vector) > 0.95, 'case and a final full stop barely matter');
    assert.ok(dot(a.vector, c.vector) < 0.5, 'unrelated sentences are far apart');
    assert.ok(
      unknown.vector.every((value) => value === 0),
      'an unknown word gives the zero vector, not noise',
    );
    assert.ok(empty.vector.every((value) => value === 0));
  });
});
