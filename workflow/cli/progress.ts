/**
 * Progress output for long commands: on a terminal, a bar redrawn in place; elsewhere (CI,
 * pipes), plain lines, one per change, so logs stay readable.
 */
export interface ProgressOutput {
  /** A line that stays (a finished stage). */
  line(text: string): void;
  /** The current state of the work in progress, e.g. a bar; replaced by the next call. */
  live(label: string, done: number, total: number): void;
  /** Ends the live line. */
  done(): void;
}

const BAR_WIDTH = 24;

export function progressBar(done: number, total: number): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * BAR_WIDTH) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

export function progressOutput(stream: NodeJS.WritableStream & { isTTY?: boolean }): ProgressOutput {
  if (stream.isTTY) {
    let live = false;
    const clear = (): void => {
      if (live) stream.write('\r\x1b[K');
      live = false;
    };
    return {
      line: (text) => {
        clear();
        stream.write(`${text}\n`);
      },
      live: (label, done, total) => {
        clear();
        stream.write(`${label} ${progressBar(done, total)}`);
        live = true;
      },
      done: clear,
    };
  }
  let last = '';
  return {
    line: (text) => stream.write(`${text}\n`),
    live: (label, done, total) => {
      const text = `${label} ${done}/${total}`;
      if (text !== last) stream.write(`${text}\n`);
      last = text;
    },
    done: () => {},
  };
}
