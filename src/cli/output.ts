/**
 * Line output with backpressure: lines are gathered into chunks; when the stream cannot
 * take more, flush() waits for 'drain', so a slow reader slows the event loop down (and
 * the socket's own buffer absorbs bursts) instead of memory growing without bound.
 * A closed pipe (EPIPE, e.g. `| head`) is not an error: it ends the run quietly.
 */
export interface OutStream {
  write(chunk: string): boolean;
  once(event: 'drain' | 'error' | 'close', cb: (...args: unknown[]) => void): unknown;
  on(event: 'error', cb: (err: Error & { code?: string }) => void): unknown;
  removeListener(event: string, cb: (...args: unknown[]) => void): unknown;
  isTTY?: boolean;
}

const CHUNK = 64 * 1024;

export class LineWriter {
  private readonly out: OutStream;
  private parts: string[] = [];
  private size = 0;
  /** The reader went away (EPIPE); nothing more will be written. */
  closed = false;
  private onClosed: (() => void) | undefined;

  constructor(out: OutStream, onClosed?: () => void) {
    this.out = out;
    this.onClosed = onClosed;
    out.on('error', (err) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') this.markClosed();
    });
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.parts = [];
    this.size = 0;
    const cb = this.onClosed;
    this.onClosed = undefined;
    cb?.();
  }

  line(s: string): void {
    if (this.closed) return;
    this.parts.push(s, '\n');
    this.size += s.length + 1;
    if (this.size >= CHUNK) this.push();
  }

  /** Hand the gathered lines to the stream; returns false when the stream wants us to wait. */
  private push(): boolean {
    if (this.size === 0 || this.closed) return true;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    try {
      return this.out.write(chunk);
    } catch {
      this.markClosed();
      return true;
    }
  }

  /** Write what is gathered and wait until the stream can take more. */
  async flush(): Promise<void> {
    if (this.push() || this.closed) return;
    await new Promise<void>((res) => {
      const done = () => {
        this.out.removeListener('drain', done);
        this.out.removeListener('close', done);
        res();
      };
      this.out.once('drain', done);
      this.out.once('close', done);
    });
  }
}
