/**
 * Line output with backpressure: lines are gathered into chunks of about 64 KiB, each
 * handed to the stream in one write. When the stream cannot take more (write() returned
 * false), `blocked` is true until 'drain', and flush() waits for it, so a slow reader slows
 * the event loop down (and the socket's own buffer absorbs bursts) instead of memory
 * growing without bound.
 *
 * Lines never wait long: whatever is gathered is written as soon as the event loop turns
 * (setImmediate), i.e. when the producer pauses for input, even if nobody calls flush().
 * A closed pipe (EPIPE, e.g. `| head`) is not an error: it ends the run quietly.
 */
export interface OutStream {
  write(chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean;
  once(event: 'drain' | 'error' | 'close', cb: (...args: unknown[]) => void): unknown;
  on(event: 'error', cb: (err: Error & { code?: string }) => void): unknown;
  removeListener(event: string, cb: (...args: unknown[]) => void): unknown;
  isTTY?: boolean;
}

const CHUNK = 64 * 1024;
/** Room past CHUNK in a byte chunk, so that a line never has to be split. */
const BYTES_SLACK = 8 * 1024;
const encoder = new TextEncoder();

export class LineWriter {
  private readonly out: OutStream;
  /** The gathered lines, newlines included (one string: appending is cheaper than an array join). */
  private buf = '';
  /** The reader went away (EPIPE); nothing more will be written. */
  closed = false;
  private onClosed: (() => void) | undefined;
  /** Set while the stream wants us to wait: resolves on 'drain', 'close' or EPIPE. */
  private drained: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private scheduled = false;
  /** Lines by kind in `buf` (line(s, kind)), not yet handed to the stream. */
  private pending: Record<string, number> = {};
  private pendingAny = false;
  /**
   * Lines by kind handed to the stream and not refused: a chunk whose write fails (the
   * reader closed the pipe) is taken back, and lines formatted after that are never
   * counted, so the summary counts what went out.
   */
  readonly written: Record<string, number> = {};
  /** Called around every chunk (a live rate line on the same terminal clears and redraws). */
  around: { before(): void; after(): void } | undefined;
  /** Called before each chunk is handed to the stream (--write flushes the capture first). */
  beforeWrite: (() => void) | undefined;
  private readonly tick = (): void => {
    this.scheduled = false;
    this.push();
  };

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
    this.buf = '';
    this.bytes = undefined;
    this.bytesStart = this.bytesPos = 0;
    this.pending = {};
    this.pendingAny = false;
    this.runKind = undefined;
    this.runCount = 0;
    this.release?.();
    const cb = this.onClosed;
    this.onClosed = undefined;
    cb?.();
  }

  /**
   * Byte mode (the lean path, cli/lean.ts): lines written as bytes straight into `bytes`
   * (see room()), and every later string line encoded into the same chunk, in order.
   */
  private bytes: Uint8Array | undefined;
  /**
   * [bytesStart, bytesPos) of `bytes`: gathered, not yet written. What was written before
   * bytesStart is never touched again (the stream may still be sending it), so a trickle
   * of lines fills one buffer instead of taking a new one per write.
   */
  private bytesStart = 0;
  bytesPos = 0;
  private byteMode = false;

  /**
   * The byte chunk, with at least `need` bytes free from `bytesPos` (need <= 8 KiB): write
   * whole lines there, then call bytesLine() after each.
   */
  room(need: number): Uint8Array {
    this.byteMode = true;
    if (this.buf.length > 0) this.push(); // string lines gathered before go first
    const b = this.bytes;
    if (b !== undefined && this.bytesPos + need <= b.length) return b;
    if (this.bytesPos > this.bytesStart) this.push();
    this.bytesStart = this.bytesPos = 0;
    return (this.bytes = Buffer.allocUnsafe(CHUNK + BYTES_SLACK));
  }

  /** bytesLine's current run of lines of one kind, not yet in `pending`. */
  private runKind: string | undefined;
  private runCount = 0;

  private endRun(): void {
    if (this.runCount > 0) this.pending[this.runKind!] = (this.pending[this.runKind!] ?? 0) + this.runCount;
    this.runKind = undefined;
    this.runCount = 0;
  }

  /** One line (newline included) was written into the byte chunk, ending at `end`. */
  bytesLine(end: number, kind?: string): void {
    if (this.closed) return;
    this.bytesPos = end;
    if (kind !== undefined) {
      // A run of one kind is counted in runCount and added to `pending` when the kind
      // changes or the chunk goes out (a keyed store per line costs more than the rest).
      if (kind === this.runKind) this.runCount++;
      else {
        this.endRun();
        this.runKind = kind;
        this.runCount = 1;
      }
      this.pendingAny = true;
    }
    if (end - this.bytesStart >= CHUNK) this.push();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.tick);
    }
  }

  /** Gather one line (without its newline). */
  line(s: string, kind?: string): void {
    if (this.closed) return;
    if (this.byteMode && s.length <= 2048) {
      // Byte mode: encoded into the chunk after the byte lines (UTF-8: at most 3 bytes a unit).
      const b = this.room(s.length * 3 + 1);
      const n = encoder.encodeInto(s, b.subarray(this.bytesPos)).written;
      b[this.bytesPos + n] = 10;
      this.bytesLine(this.bytesPos + n + 1, kind);
      return;
    }
    if (this.bytesPos > this.bytesStart) this.push(); // byte lines gathered before go first
    this.buf += s + '\n';
    if (kind !== undefined) {
      this.pending[kind] = (this.pending[kind] ?? 0) + 1;
      this.pendingAny = true;
    }
    if (this.buf.length >= CHUNK) this.push();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.tick);
    }
  }

  /** True while the stream has asked us to wait for 'drain' (await flush() then). */
  get blocked(): boolean {
    return this.drained !== undefined;
  }

  /** Hand the gathered lines to the stream. */
  private push(): void {
    if ((this.buf.length === 0 && this.bytesPos === this.bytesStart) || this.closed) return;
    this.beforeWrite?.();
    let chunk: string | Uint8Array;
    if (this.bytesPos > this.bytesStart) {
      // The chunk goes to the stream as it is (a Buffer: string sinks read it as text); the
      // next byte lines follow it in the same buffer while there is room.
      chunk = (this.bytes as Buffer).subarray(this.bytesStart, this.bytesPos);
      this.bytesStart = this.bytesPos;
    } else {
      chunk = this.buf;
      this.buf = '';
    }
    let cb: ((err?: Error | null) => void) | undefined;
    if (this.pendingAny) {
      this.endRun();
      const tally = this.pending;
      this.pending = {};
      this.pendingAny = false;
      for (const k in tally) this.written[k] = (this.written[k] ?? 0) + tally[k]!;
      cb = (err) => {
        if (err) for (const k in tally) this.written[k]! -= tally[k]!;
      };
    }
    let ok: boolean;
    this.around?.before();
    try {
      ok = cb ? this.out.write(chunk, cb) : this.out.write(chunk);
    } catch {
      cb?.(new Error('write failed'));
      this.markClosed();
      return;
    } finally {
      this.around?.after();
    }
    if (!ok && this.drained === undefined && !this.closed) {
      this.drained = new Promise<void>((res) => {
        const done = () => {
          this.out.removeListener('drain', done);
          this.out.removeListener('close', done);
          this.drained = undefined;
          this.release = undefined;
          res();
        };
        this.release = done;
        this.out.once('drain', done);
        this.out.once('close', done);
      });
    }
  }

  /** Write what is gathered and wait until the stream can take more. */
  async flush(): Promise<void> {
    this.push();
    if (this.drained !== undefined) await this.drained;
  }
}
