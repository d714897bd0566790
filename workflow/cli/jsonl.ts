/**
 * Reading a JSON-lines file as its bytes say, line by line: each line decoded as strict UTF-8
 * (a line with an invalid byte is reported, never read with U+FFFD in its place), a byte order
 * mark before the first line dropped, `\r\n` endings taken as `\n`.
 *
 * @example
 * ```ts
 * for await (const line of readJsonLines('items.jsonl')) {
 *   if (line.text === undefined) console.error(`line ${line.number}: ${line.problem}`);
 * }
 * ```
 */
import { createReadStream } from 'node:fs';

/** One line of the file: its text, or why it has none. */
export interface FileLine {
  /** Its number, from 1. */
  readonly number: number;
  /** Its text, without the line ending; undefined when it is not valid UTF-8. */
  readonly text?: string;
  /** Why there is no text. */
  readonly problem?: string;
  /** Bytes of the file read up to the end of this line. */
  readonly bytesRead: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

/** The lines of a file, decoded strictly. */
export async function* readJsonLines(file: string): AsyncGenerator<FileLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let carry: Buffer = Buffer.alloc(0);
  let number = 0;
  let bytesRead = 0;
  const lineOf = (bytes: Buffer): FileLine => {
    number += 1;
    bytesRead += bytes.length + 1;
    let body = bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes;
    if (number === 1 && BYTE_ORDER_MARK.every((byte, i) => body[i] === byte)) body = body.subarray(3);
    try {
      return { number, text: decoder.decode(body), bytesRead };
    } catch {
      return { number, problem: `not valid UTF-8 (${invalidAt(body)})`, bytesRead };
    }
  };
  for await (const chunk of createReadStream(file)) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    for (let end = data.indexOf(NEWLINE); end >= 0; end = data.indexOf(NEWLINE)) {
      yield lineOf(data.subarray(0, end));
      data = data.subarray(end + 1);
    }
    carry = Buffer.from(data);
  }
  if (carry.length > 0) yield lineOf(carry);
}

/** Where the first invalid byte sequence of a line starts, said for a person: "byte 17 of the line, 0xe9". */
function invalidAt(bytes: Buffer): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // Fed a byte at a time: a character starts after each byte that completes one.
  let charStart = 0;
  for (let at = 0; at < bytes.length; at++) {
    try {
      if (decoder.decode(bytes.subarray(at, at + 1), { stream: true }) !== '') charStart = at + 1;
    } catch {
      return `byte ${charStart + 1} of the line, 0x${bytes[charStart]!.toString(16).padStart(2, '0')}`;
    }
  }
  return 'the line ends inside a character';
}
