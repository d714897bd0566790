import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BundleError, readManifest, verifyBundle } from '../../embedding/bundle.ts';
import { Embedder } from '../../embedding/runtime.ts';
import { tempDir } from '../helpers/local-stack.ts';
import { TINY_VOCAB, tinyBertReference, writeTinyBert } from '../helpers/tiny-bert.ts';

const id = (token: string): number => TINY_VOCAB.indexOf(token);
const close = (actual: Float32Array, expected: number[]): void => {
  assert.equal(actual.length, expected.length);
  expected.forEach((value, i) =>
    assert.ok(Math.abs(actual[i]! - value) < 1e-5, `dimension ${i}: ${actual[i]} vs ${value}`),
  );
};

describe('model bundle', () => {
  it('records every file with its hash and verifies an intact bundle', async () => {
    const dir = tempDir();
    const written = await writeTinyBert(dir.path);
    const verified = await verifyBundle(dir.path);
    assert.equal(verified.checksum, written.checksum);
    assert.deepEqual(Object.keys(verified.files).sort(), ['model.onnx', 'tokenizer.json']);
    assert.match(verified.checksum, /^[0-9a-f]{64}$/);
    dir.remove();
  });

  it('rejects a bundle whose file changed, or whose manifest is malformed', async () => {
    const dir = tempDir();
    await writeTinyBert(dir.path);
    writeFileSync(path.join(dir.path, 'tokenizer.json'), '{}');
    await assert.rejects(
      verifyBundle(dir.path),
      (error: unknown) =>
        error instanceof BundleError && /tokenizer\.json does not match its manifest/.test(error.message),
    );
    writeFileSync(path.join(dir.path, 'manifest.json'), JSON.stringify({ format: 'other', dimensions: 0 }));
    assert.throws(() => readManifest(dir.path), /format must be.*dimensions must be a positive integer/);
    dir.remove();
  });
});

describe('embedding runtime on a BERT-shaped model', () => {
  it('pools token vectors with the attention mask exactly like the reference', async () => {
    // Prepare
    const dir = tempDir();
    await writeTinyBert(dir.path);
    const embedder = await Embedder.create(dir.path, {});
    // Act: a short text batched with a long one, so the short one is padded
    const [short, long] = await embedder.embed(['the cat', 'the dogs ran on a mat .']);
    // Assess: padding changes nothing; [CLS] and [SEP] count as tokens, as in sentence-transformers
    assert.ok(short?.ok && long?.ok);
    close(short.vector, tinyBertReference([id('[CLS]'), id('the'), id('cat'), id('[SEP]')]));
    close(
      long.vector,
      tinyBertReference(['[CLS]', 'the', 'dog', '##s', 'ran', 'on', 'a', 'mat', '.', '[SEP]'].map(id)),
    );
    const [alone] = await embedder.embed(['the cat']);
    assert.ok(alone?.ok);
    close(alone.vector, Array.from(short.vector));
    dir.remove();
  });

  it('truncates at the bundle max tokens and keeps the closing [SEP]', async () => {
    const dir = tempDir();
    await writeTinyBert(dir.path, 6);
    const embedder = await Embedder.create(dir.path, {});
    const [result] = await embedder.embed(['the cat sat on the mat the cat sat']);
    assert.ok(result?.ok);
    assert.equal(result.tokens, 6);
    assert.equal(result.truncated, true);
    close(result.vector, tinyBertReference(['[CLS]', 'the', 'cat', 'sat', 'on', '[SEP]'].map(id)));
    dir.remove();
  });

  it('gives every bad item a vector or its own error, never failing the batch', async () => {
    const dir = tempDir();
    await writeTinyBert(dir.path);
    const embedder = await Embedder.create(dir.path, {});
    const inputs: unknown[] = [
      '',
      '   ',
      'x'.repeat(100_000),
      '😀🎉',
      '東京 Москва',
      'a\u0000b\u0007c',
      'zyzzyva qwxp',
      42,
      null,
      'the cat',
    ];
    const results = await embedder.embed(inputs);
    assert.equal(results.length, inputs.length);
    results.slice(0, 7).forEach((result, i) => {
      assert.ok(result.ok, `item ${i} should get a vector`);
      assert.equal(result.vector.length, 8);
      assert.ok(result.vector.every(Number.isFinite));
    });
    assert.deepEqual(
      results.slice(7, 9).map((result) => (result.ok ? 'ok' : result.error)),
      ['expected a string, got number', 'expected a string, got null'],
    );
    assert.ok(results[2]!.ok && results[2]!.truncated);
    assert.ok(results[9]!.ok);
    dir.remove();
  });
});
