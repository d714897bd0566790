/**
 * Progress output for long commands: on a terminal, a bar redrawn in place; elsewhere (CI,
 * pipes), plain lines, one per change, so logs stay readable.
 */
export interface ProgressOutput {
  /** A line that stays (a finished stage). */
  line(text: string): void;
  /** The current state of the work in progress, e.g. a bar; replaced by the next call. `unit`: what is counted. */
  live(label: string, done: number, total: number, unit?: string): void;
  /** Ends the live line. */
  done(): void;
}

const BAR_WIDTH = 24;

/** `3/8`, or `3/8 batches` with what is counted. */
const counted = (done: number, total: number, unit?: string): string => `${done}/${total}${unit ? ` ${unit}` : ''}`;

export function progressBar(done: number, total: number, unit?: string): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * BAR_WIDTH) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${counted(done, total, unit)}`;
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
      live: (label, done, total, unit) => {
        clear();
        stream.write(`${label} ${progressBar(done, total, unit)}`);
        live = true;
      },
      done: clear,
    };
  }
  let last = '';
  return {
    line: (text) => stream.write(`${text}\n`),
    live: (label, done, total, unit) => {
      const text = `${label} ${counted(done, total, unit)}`;
      if (text !== last) stream.write(`${text}\n`);
      last = text;
    },
    done: () => {},
  };
}
