/**
 * Standard output and error for the ctevents executable, with Node's stream made only when
 * it must be (start-up, issue 14).
 *
 * Node builds process.stdout / process.stderr on first access: for a pipe a net.Socket and
 * the whole stream stack (28 internal modules), for a file or /dev/null a SyncWriteStream
 * (20 modules), 2-4 ms either way. An empty `ctevents dump` writes nothing to stdout and one
 * summary line to stderr; `ctevents stats > /dev/null` writes a few lines to a file.
 *
 * StdioOut (one per fd) is the OutStream the CLI is given (cli/ctevents.ts):
 *
 * - Nothing is touched before the first write (or isTTY, columns, rows, a listener other
 *   than 'error'); 'error' listeners added before Node's stream exists are attached to it
 *   when it is made.
 * - stdout: what the fd is decides, once, at the first write (fstat):
 *     a regular file, or /dev/null      written with fs.writeSync: what Node's own stream
 *                                       for it (SyncWriteStream) does, minus the stream;
 *     anything else (a pipe, a socket,  Node's stream, made at the first write and used
 *     a TTY, another character device)  from then on: a pipe carries a dump's chunks and
 *                                       keeps Node's non-blocking stream and backpressure.
 * - stderr (`lines`: a summary, an error, a warning) is written with fs.writeSync whatever
 *   the fd is (a shell pipeline gives a pipe, a parent's spawn() a unix socket), as a C
 *   tool writes it, without even an fstat, while each write is taken whole; isTTY (the live
 *   rate line) makes Node's stream for a character device, which then takes every write.
 * - A direct write that fails or writes short (EAGAIN on a non-blocking pipe, EPIPE,
 *   ENOSPC, ...) hands the unwritten rest to Node's stream, and every later write goes
 *   there too: failures are reported exactly as before (the stream's 'error' event, a
 *   closed pipe ending the run quietly). A direct write is complete when writeSync
 *   returns, so output order is kept across the switch.
 * - isTTY never makes a stream for a file, /dev/null, a pipe or a socket (none can be a
 *   terminal).
 * - The one-shot commands end without Node's teardown when no stream was made
 *   (cli/fast-exit.ts): every byte went out through writeSync.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
import type { OutStream } from './output.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** How a descriptor is written before Node's stream exists. */
const enum Kind {
  /** Not looked at yet. */
  Unknown,
  /** A regular file or /dev/null: fs.writeSync, always. */
  File,
  /** stderr not yet looked at, a pipe or a socket: fs.writeSync while it takes whole writes. */
  Pipe,
  /** Node's stream. */
  Stream,
}

/** st_rdev of /dev/null (undefined where it cannot be read). */
function devNullRdev(): number | undefined {
  try {
    return statSync('/dev/null').rdev;
  } catch {
    return undefined;
  }
}

/**
 * What `fd` is, for writing (see the header): 'tty' is any character device other than
 * /dev/null (a terminal or not: Node's stream tells).
 */
export function stdioKind(fd: number, lines: boolean): 'file' | 'pipe' | 'tty' | 'stream' {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return 'stream';
  }
  if (st.isFile()) return 'file';
  if (st.isCharacterDevice()) return st.rdev === devNullRdev() ? 'file' : 'tty';
  if (st.isFIFO() || st.isSocket()) return lines ? 'pipe' : 'stream';
  return 'stream';
}

export class StdioOut implements OutStream {
  private readonly fd: number;
  private readonly make: () => NodeJS.WriteStream;
  private readonly lines: boolean;
  private kind = Kind.Unknown;
  /** A character device other than /dev/null: only such a descriptor can be a terminal. */
  private maybeTTY = false;
  private stream: NodeJS.WriteStream | undefined;
  /** 'error' listeners added before the stream was made. */
  private errorListeners: Listener[] = [];

  /**
   * `make` returns Node's stream for `fd` (() => process.stdout); `lines`: write any fd
   * directly too (stderr: single lines), see the header.
   */
  constructor(fd: number, make: () => NodeJS.WriteStream, opts: { lines?: boolean } = {}) {
    this.fd = fd;
    this.make = make;
    this.lines = opts.lines === true;
  }

  /** Whether Node's stream has been made (tests, the start-up probe). */
  get streamMade(): boolean {
    return this.stream !== undefined;
  }

  /** Node's stream, made now if it was not yet. */
  nodeStream(): NodeJS.WriteStream {
    let s = this.stream;
    if (s === undefined) {
      s = this.stream = this.make();
      this.kind = Kind.Stream;
      for (const l of this.errorListeners) s.on('error', l);
      this.errorListeners = [];
    }
    return s;
  }

  private resolveKind(): Kind {
    const k = stdioKind(this.fd, this.lines);
    this.maybeTTY = k === 'tty';
    return (this.kind = k === 'file' ? Kind.File : k === 'pipe' ? Kind.Pipe : Kind.Stream);
  }

  write(chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean {
    let kind = this.kind;
    // stderr is written directly until a write fails, without looking at the fd first.
    if (kind === Kind.Unknown) kind = this.lines ? Kind.Pipe : this.resolveKind();
    if (kind === Kind.Stream) return cb ? this.nodeStream().write(chunk, cb) : this.nodeStream().write(chunk);
    const total = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    let done = 0;
    try {
      if (total > 0) done = typeof chunk === 'string' ? writeSync(this.fd, chunk) : writeSync(this.fd, chunk);
      // A regular file may take less (a signal, a quota): go on from there, as Node's stream would not.
      while (kind === Kind.File && done > 0 && done < total) done += writeSync(this.fd, toBytes(chunk).subarray(done));
    } catch {
      // Node's stream writes the rest (below) and reports the failure its own way.
    }
    if (done === total) {
      if (cb) process.nextTick(cb, null);
      return true;
    }
    const rest = toBytes(chunk).subarray(done);
    const s = this.nodeStream();
    return cb ? s.write(rest, cb) : s.write(rest);
  }

  on(event: string, cb: Listener): this {
    if (this.stream === undefined && event === 'error') this.errorListeners.push(cb);
    else this.nodeStream().on(event, cb);
    return this;
  }

  once(event: string, cb: Listener): this {
    this.nodeStream().once(event, cb);
    return this;
  }

  removeListener(event: string, cb: Listener): this {
    if (this.stream !== undefined) this.stream.removeListener(event, cb);
    else if (event === 'error') this.errorListeners = this.errorListeners.filter((l) => l !== cb);
    return this;
  }

  /** Only a character device other than /dev/null can be a terminal: Node's stream is made for it alone. */
  get isTTY(): boolean {
    if (this.stream !== undefined) return this.stream.isTTY === true;
    if (this.kind === Kind.Unknown) this.resolveKind();
    return this.maybeTTY && this.nodeStream().isTTY === true;
  }

  get columns(): number | undefined {
    return this.nodeStream().columns;
  }

  get rows(): number | undefined {
    return this.nodeStream().rows;
  }
}

function toBytes(chunk: string | Uint8Array): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

let stdout: StdioOut | undefined;
let stderr: StdioOut | undefined;

/** The executable's stdout (fd 1): files and /dev/null written directly, anything else through process.stdout. */
export function lazyStdout(): StdioOut {
  return (stdout ??= new StdioOut(1, () => process.stdout));
}

/** The executable's stderr (fd 2): written directly (Node's stream only for a terminal's rate line, or after a failed write). */
export function lazyStderr(): StdioOut {
  return (stderr ??= new StdioOut(2, () => process.stderr, { lines: true }));
}
