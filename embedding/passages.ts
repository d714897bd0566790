/**
 * Long content, split into passages the model can read whole. A model sees at most its bundle's
 * `maxTokens`; a longer text used to be cut there (or refused), so whatever its end said was
 * never searchable. Here the text is cut into overlapping passages on sentence boundaries
 * (Intl.Segmenter), each within the token budget, and each passage is embedded on its own; an
 * item is then found by its best passage.
 *
 * A sentence longer than the budget is cut between words; a word longer than the budget (a
 * long token-less blob) between characters. Consecutive passages share their boundary sentence
 * (when it is short enough) so a topic that straddles a cut is still whole in one of them.
 */

/** One passage of a text: its characters `[start, end)` and those characters. */
export interface Passage {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** How to split: the token budget per passage, and how to count a piece's tokens. */
export interface PassageBudget {
  /** Tokens a passage may hold, special tokens excluded. */
  readonly maxTokens: number;
  /** The tokens of a piece of text, without special tokens. */
  readonly countTokens: (text: string) => number;
}

/** A span of the text with its token count. */
interface Piece {
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
}

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });
const WORD_START = /\S+\s*/g;

/**
 * Splits a text into passages of at most `maxTokens` tokens each, on sentence boundaries where
 * possible. A text within the budget is one passage, the whole text.
 *
 * @example
 * ```ts
 * const passages = splitPassages(article, { maxTokens: 254, countTokens: (text) => text.split(/\s+/).length });
 * passages[3]; // { start: 4012, end: 5480, text: '...' }
 * ```
 */
export function splitPassages(text: string, budget: PassageBudget): Passage[] {
  const { maxTokens, countTokens } = budget;
  // A text within the budget is counted once and kept whole (the common case: short content).
  if (text.length <= maxTokens * 2 && countTokens(text) <= maxTokens) return [{ start: 0, end: text.length, text }];
  const pieces: Piece[] = [];
  for (const { index, segment } of sentences.segment(text)) {
    if (segment.trim() === '') continue;
    const tokens = countTokens(segment);
    if (tokens <= maxTokens) pieces.push({ start: index, end: index + segment.length, tokens });
    else for (const piece of splitSentence(text, index, index + segment.length, budget)) pieces.push(piece);
  }
  if (pieces.length <= 1 && pieces[0]?.start === 0 && pieces[0].end === text.length)
    return [{ start: 0, end: text.length, text }];

  const passages: Passage[] = [];
  let first = 0;
  while (first < pieces.length) {
    let last = first;
    let tokens = pieces[first]!.tokens;
    while (last + 1 < pieces.length && tokens + pieces[last + 1]!.tokens <= maxTokens) tokens += pieces[++last]!.tokens;
    const start = pieces[first]!.start;
    const end = pieces[last]!.end;
    passages.push({ start, end, text: text.slice(start, end) });
    if (last + 1 >= pieces.length) break;
    // The next passage repeats this one's last sentence when it is short (overlap), never all of it.
    first = last > first && pieces[last]!.tokens <= maxTokens / 3 ? last : last + 1;
  }
  return passages;
}

/** Cuts one over-long sentence `[start, end)` between words, and an over-long word between characters. */
function splitSentence(text: string, start: number, end: number, budget: PassageBudget): Piece[] {
  const pieces: Piece[] = [];
  let pieceStart = start;
  let pieceTokens = 0;
  let at = start;
  const push = (to: number, tokens: number): void => {
    if (to > pieceStart) pieces.push({ start: pieceStart, end: to, tokens });
    pieceStart = to;
  };
  const words = text.slice(start, end);
  for (const match of words.matchAll(WORD_START)) {
    const wordStart = start + match.index;
    const wordEnd = wordStart + match[0].length;
    const tokens = budget.countTokens(match[0]);
    if (tokens > budget.maxTokens) {
      push(wordStart, pieceTokens);
      for (const piece of splitWord(text, wordStart, wordEnd, budget)) pieces.push(piece);
      pieceStart = wordEnd;
      pieceTokens = 0;
    } else if (pieceTokens + tokens > budget.maxTokens) {
      push(wordStart, pieceTokens);
      pieceTokens = tokens;
    } else {
      pieceTokens += tokens;
    }
    at = wordEnd;
  }
  push(Math.max(at, end), pieceTokens);
  return pieces;
}

/** Cuts a word with more tokens than the budget into runs of characters that fit. */
function splitWord(text: string, start: number, end: number, budget: PassageBudget): Piece[] {
  const pieces: Piece[] = [];
  let from = start;
  while (from < end) {
    // Halve the run until it fits; tokenizers give at least one token per few characters.
    let to = Math.min(end, from + budget.maxTokens * 4);
    let tokens = budget.countTokens(text.slice(from, to));
    while (tokens > budget.maxTokens && to - from > 1) {
      to = from + Math.ceil((to - from) / 2);
      tokens = budget.countTokens(text.slice(from, to));
    }
    pieces.push({ start: from, end: to, tokens });
    from = to;
  }
  return pieces;
}
