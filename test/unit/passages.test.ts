import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitPassages } from '../../embedding/passages.ts';

/** One token per word, the way a word-level tokenizer counts. */
const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;
const budget = { maxTokens: 20, countTokens: words };

describe('splitting long content into passages', () => {
  it('keeps content within the budget whole', () => {
    // Act
    const passages = splitPassages('A short text. Two sentences.', budget);
    // Assess
    assert.deepEqual(passages, [{ start: 0, end: 28, text: 'A short text. Two sentences.' }]);
  });

  it('cuts long content on sentence boundaries into passages within the budget, covering every sentence', () => {
    // Prepare: 40 sentences of 6 words
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} has six words. `);
    const text = sentences.join('');
    // Act
    const passages = splitPassages(text, budget);
    // Assess
    assert.ok(passages.length > 10);
    for (const passage of passages) {
      assert.ok(words(passage.text) <= 20, `${words(passage.text)} tokens`);
      assert.equal(passage.text, text.slice(passage.start, passage.end));
      assert.match(passage.text, /^Sentence number \d+ has six words\./, 'starts on a sentence');
      assert.match(passage.text, /words\. $/, 'ends on one');
    }
    for (let i = 0; i < 40; i++)
      assert.ok(
        passages.some((passage) => passage.text.includes(`number ${i} `)),
        `sentence ${i} is in a passage`,
      );
    assert.ok(
      passages.slice(1).every((passage, i) => passage.start < passages[i]!.end),
      'consecutive passages overlap by a sentence',
    );
  });

  it('cuts a sentence longer than the budget between words, and a word longer than it between characters', () => {
    // Prepare
    const long = `${Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ')}.`;
    const blob = 'x'.repeat(500);
    const chars = { maxTokens: 20, countTokens: (text: string) => Math.ceil(text.trim().length / 10) };
    // Act
    const byWords = splitPassages(long, budget);
    const byChars = splitPassages(blob, chars);
    // Assess
    assert.ok(byWords.length >= 3);
    assert.ok(byWords.every((passage) => words(passage.text) <= 20));
    assert.equal(byWords.map((passage) => passage.text.trim()).join(' '), long, 'every word once, in order');
    assert.ok(byChars.every((passage) => chars.countTokens(passage.text) <= 20));
    assert.equal(byChars.map((passage) => passage.text).join(''), blob);
  });
});
