import { GetObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyBundle } from '../../embedding/bundle.ts';
import { runCli } from '../helpers/cli.ts';
import { FREE_PORT_FLAGS, tempDir, useTestStack } from '../helpers/local-stack.ts';
import { TINY_VOCAB, tinyBertReference, writeTinyBert } from '../helpers/tiny-bert.ts';

describe('ddb-faiss embed', () => {
  it('prints one JSON vector per input line, in order, including for empty lines', async () => {
    // Act
    const run = await runCli(
      ['embed', '--model', 'default'],
      'A man is playing a guitar.\n\nA man plays the guitar.\nStocks fell.\n',
    );
    // Assess
    assert.equal(run.code, 0, run.stderr);
    const vectors = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as number[]);
    assert.equal(vectors.length, 4);
    assert.ok(vectors.every((vector) => vector.length === 356));
    const dot = (a: number[], b: number[]): number => a.reduce((sum, value, i) => sum + value * b[i]!, 0);
    assert.ok(
      dot(vectors[0]!, vectors[2]!) > dot(vectors[0]!, vectors[3]!),
      'the paraphrase is nearer than the unrelated line',
    );
    assert.ok(vectors[1]!.every((value) => value === 0));
  });

  it('names an unknown model clearly', async () => {
    const run = await runCli(['embed', '--model', 'nobody/nothing'], 'x\n');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no model "nobody\/nothing".*model fetch/);
  });
});

describe('ddb-faiss model fetch (against a local hub)', () => {
  const fixtures = tempDir();
  const out = tempDir();
  let server: Server;
  let hubUrl = '';
  const requests: string[] = [];

  before(async () => {
    // A hub layout: <repo>/resolve/<revision>/<file>, serving a tiny BERT export.
    const model = path.join(fixtures.path, 'bundle');
    await writeTinyBert(model, 16);
    const files: Record<string, Buffer> = {
      'onnx/model.onnx': readFileSync(path.join(model, 'model.onnx')),
      'tokenizer.json': readFileSync(path.join(model, 'tokenizer.json')),
      'config.json': Buffer.from(JSON.stringify({ hidden_size: 8, max_position_embeddings: 512 })),
      'sentence_bert_config.json': Buffer.from(JSON.stringify({ max_seq_length: 16 })),
      '1_Pooling/config.json': Buffer.from(
        JSON.stringify({ word_embedding_dimension: 8, pooling_mode_mean_tokens: true }),
      ),
    };
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const match = /^\/test-org\/tiny-bert\/resolve\/main\/(.+)$/.exec(request.url ?? '');
      const body = match ? files[match[1]!] : undefined;
      if (body) response.writeHead(200).end(body);
      else response.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    hubUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.close();
    fixtures.remove();
    out.remove();
  });

  it('downloads the ONNX export and tokenizer into a verified bundle that embeds like the model', async () => {
    // Act
    const run = await runCli([
      'model',
      'fetch',
      'test-org/tiny-bert',
      '--hub-url',
      hubUrl,
      '--out',
      out.path,
      '--json',
    ]);
    // Assess
    assert.equal(run.code, 0, run.stderr);
    const manifest = await verifyBundle(out.path);
    assert.equal(manifest.name, 'test-org/tiny-bert');
    assert.equal(manifest.dimensions, 8);
    assert.equal(manifest.maxTokens, 16);
    assert.equal(manifest.pooling, 'mean');
    assert.ok(requests.includes('/test-org/tiny-bert/resolve/main/onnx/model.onnx'));
    const embedded = await runCli(['embed', '--model', out.path], 'the cat\n');
    const vector = JSON.parse(embedded.stdout) as number[];
    const expected = tinyBertReference(['[CLS]', 'the', 'cat', '[SEP]'].map((token) => TINY_VOCAB.indexOf(token)));
    vector.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-5));
  });

  it('fails clearly for a repository the hub does not have', async () => {
    const run = await runCli([
      'model',
      'fetch',
      'test-org/missing',
      '--hub-url',
      hubUrl,
      '--out',
      path.join(out.path, 'x'),
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /fetching .*test-org\/missing\/resolve\/main\/onnx\/model\.onnx failed: HTTP 404/);
  });
});

describe('ddb-faiss model publish', () => {
  const local = useTestStack();

  it('uploads a bundle to the assets bucket where bootstrap finds it', async () => {
    // Prepare
    const { stack, dataDir } = local;
    const bundle = path.join(dataDir, 'tiny');
    const manifest = await writeTinyBert(bundle);
    // Act
    const run = await runCli(['model', 'publish', bundle, '--name', 'tiny', '--data-dir', dataDir, ...FREE_PORT_FLAGS]);
    // Assess
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /published s3:\/\/ddb-faiss-assets\/models\/tiny\//);
    const object = await stack.clients.s3.send(
      new GetObjectCommand({ Bucket: stack.config.bucketName, Key: 'models/tiny/manifest.json' }),
    );
    assert.equal(JSON.parse(await object.Body!.transformToString()).checksum, manifest.checksum);
    const model = await stack.clients.s3.send(
      new GetObjectCommand({ Bucket: stack.config.bucketName, Key: 'models/tiny/model.onnx' }),
    );
    assert.deepEqual(
      Buffer.from(await model.Body!.transformToByteArray()),
      readFileSync(path.join(bundle, 'model.onnx')),
    );
  });
});
