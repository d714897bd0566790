/**
 * Captures the ddb-faiss log lines a piece of work writes: Powertools Logger's JSON lines, which
 * go to stdout (DEBUG, INFO) and stderr (WARN, ERROR).
 */

export type LogLine = Record<string, unknown>;

/** Runs `act` while collecting the ddb-faiss log lines it writes (everything else passes through). */
export async function captureLogLines(act: () => Promise<void>): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  const restore = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = String(chunk);
      if (text.startsWith('{"level"')) {
        for (const line of text.trim().split('\n')) lines.push(JSON.parse(line) as LogLine);
        return true;
      }
      return write(chunk, ...rest);
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
  return lines;
}
