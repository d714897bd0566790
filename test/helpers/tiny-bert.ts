/**
 * A tiny BERT-shaped model the tests build themselves: a WordPiece tokenizer.json with
 * [CLS]/[SEP] template, and an ONNX graph with BERT's inputs (input_ids, attention_mask,
 * token_type_ids) and output last_hidden_state = tanh((word[id] + type[tt]) W). A plain
 * reference computation mirrors it, so tests can check masking and pooling.
 */
import { specialToken } from '../../models/default-model/word-vectors.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeManifest, type BundleManifest } from '../../embedding/bundle.ts';
import { OnnxGraphBuilder } from '../../models/onnx-graph.ts';

export const TINY_VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'the',
  'cat',
  'sat',
  'on',
  'mat',
  'dog',
  'ran',
  '##s',
  'a',
  '.',
];
export const TINY_DIM = 8;

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 4294967296;
    return state / 4294967296 - 0.5;
  };
}

export interface TinyBert {
  readonly word: Float32Array;
  readonly type: Float32Array;
  readonly weight: Float32Array;
}

export function tinyBertWeights(): TinyBert {
  const random = seeded(42);
  return {
    word: Float32Array.from({ length: TINY_VOCAB.length * TINY_DIM }, random),
    type: Float32Array.from({ length: 2 * TINY_DIM }, random),
    weight: Float32Array.from({ length: TINY_DIM * TINY_DIM }, random),
  };
}

export function tinyBertTokenizer(): Record<string, unknown> {
  const vocab = Object.fromEntries(TINY_VOCAB.map((token, id) => [token, id]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2, 3].map((id) => specialToken(id, TINY_VOCAB[id]!)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** Writes the tiny model as a bundle; `files` lets a test write only the raw files (for fetch). */
export async function writeTinyBert(dir: string, maxTokens = 16): Promise<BundleManifest> {
  const weights = tinyBertWeights();
  const g = new OnnxGraphBuilder();
  const word = g.constant('word_embeddings', weights.word, [TINY_VOCAB.length, TINY_DIM]);
  const type = g.constant('token_type_embeddings', weights.type, [2, TINY_DIM]);
  const w = g.constant('dense', weights.weight, [TINY_DIM, TINY_DIM]);
  const sum = g.node('Add', [
    g.node('Gather', [word, 'input_ids'], { axis: 0 }),
    g.node('Gather', [type, 'token_type_ids'], { axis: 0 }),
  ]);
  g.node('Tanh', [g.node('MatMul', [sum, w])], {}, 'last_hidden_state');
  const model = g.build(
    ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({
      name,
      type: 'int64' as const,
      shape: ['batch', 'sequence'],
    })),
    [{ name: 'last_hidden_state', type: 'float', shape: ['batch', 'sequence', TINY_DIM] }],
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), model);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyBertTokenizer()));
  return writeManifest(dir, {
    name: 'tiny-bert',
    version: 'test',
    dimensions: TINY_DIM,
    pooling: 'mean',
    normalize: true,
    maxTokens,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
    output: 'last_hidden_state',
  });
}

/** Plain reference: masked mean of tanh((word + type0) W) over the given ids, L2-normalised. */
export function tinyBertReference(ids: readonly number[]): number[] {
  const { word, type, weight } = tinyBertWeights();
  const mean = new Array<number>(TINY_DIM).fill(0);
  for (const id of ids) {
    for (let j = 0; j < TINY_DIM; j++) {
      let acc = 0;
      for (let i = 0; i < TINY_DIM; i++) acc += (word[id * TINY_DIM + i]! + type[i]!) * weight[i * TINY_DIM + j]!;
      mean[j]! += Math.tanh(acc) / ids.length;
    }
  }
  const norm = Math.hypot(...mean);
  return mean.map((value) => value / norm);
}
