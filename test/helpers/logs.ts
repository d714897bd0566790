/**
 * What a piece of work writes to stdout and stderr, and the ddb-faiss log lines among it
 * (Powertools Logger's JSON lines: DEBUG and INFO on stdout, WARN and ERROR on stderr).
 */

export type LogLine = Record<string, unknown>;

/**
 * Runs `act` with stdout and stderr captured: lines `keep` accepts are taken, everything else
 * passes through (every line is taken when there is no `keep`).
 * @returns what was taken from each stream
 */
export async function captureOutput(
  act: () => Promise<unknown>,
  keep: (text: string) => boolean = () => true,
): Promise<{ out: string; err: string }> {
  const captured = { out: '', err: '' };
  const restore = (['out', 'err'] as const).map((name) => {
    const stream = name === 'out' ? process.stdout : process.stderr;
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = String(chunk);
      if (!keep(text)) return write(chunk, ...rest);
      captured[name] += text;
      return true;
    }) as typeof stream.write;
    return () => {
      stream.write = write;
    };
  });
  try {
    await act();
  } finally {
    for (const undo of restore) undo();
  }
  return captured;
}

/** Runs `act` while collecting the ddb-faiss log lines it writes (everything else passes through). */
export async function captureLogLines(act: () => Promise<void>): Promise<LogLine[]> {
  const { out, err } = await captureOutput(act, (text) => text.startsWith('{"level"'));
  return `${out}${err}`
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}
