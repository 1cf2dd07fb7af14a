/**
 * `--write FILE|-`: recording the raw datagrams of a live run as a pcap (LINKTYPE_NETLINK).
 *
 * When the file is touched: {@link prepareRecording} only checks (before any socket is
 * opened) that an existing FILE is not overwritten without --force; {@link Recording.open},
 * called once the sockets are open, creates the file. So a typo in --netns, a missing
 * privilege or a missing addon leave an existing capture as it was. Without --force the
 * file is created exclusively (O_EXCL: a file that appeared meanwhile is not clobbered
 * either); with --force the capture is created under a temporary name in the same
 * directory (`.NAME.ctevents-PID.tmp`) and renamed over FILE as soon as it is open and
 * its header written: the old capture is replaced in one step, and only by a run that
 * started. `-` writes the pcap to stdout; the event lines are then not printed (stdout is
 * the capture), the summary still goes to stderr.
 *
 * When the bytes reach the kernel: records are gathered into one ~64 KiB batch and written
 * with write(2) (writeSync) before any line of output goes to stdout (the line writer's
 * beforeWrite hook), when the batch is full, 50 ms after the first record that is not yet
 * written, and on close. A SIGKILL therefore never loses from the pcap an event that was
 * already printed: the printed line is written after its datagram.
 *
 *   datagram in -> batch -> [line printed?  flush first] -> write(fd) -> line write(stdout)
 */
import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PcapWriter } from '../pcap/writer.js';
import { UsageError } from './args.js';
import type { Session } from './session.js';

const BATCH = 64 * 1024;
const FLUSH_DELAY_MS = 50;

export interface Recording {
  /** The client's onDatagram: appends a record (written at the latest before the next line). */
  record(data: Uint8Array, timestampNs: bigint): void;
  /** Creates the output (after the sockets are open) and writes what was recorded so far. */
  open(): void;
  /** Writes the gathered records to the file descriptor now. */
  flush(): void;
  /** Flushes and closes; throws the first write error, if any. Idempotent. */
  close(): void;
}

/** Checks --write before anything is opened; undefined without --write. */
export function prepareRecording(s: Session): Recording | undefined {
  const path = s.opts.write;
  if (path === undefined) return undefined;
  if (path !== '-' && !s.opts.force && existsSync(path)) {
    throw new UsageError(`--write: ${path} exists; add --force to replace it`);
  }
  return new FileRecording(s, path);
}

class FileRecording implements Recording {
  private batch = new Uint8Array(BATCH);
  private used = 0;
  private fd: number | undefined;
  private opened = false;
  private closed = false;
  private error: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Records made before open() (the output does not exist yet). */
  private early: Uint8Array[] = [];
  private readonly writer: PcapWriter;

  constructor(
    private readonly s: Session,
    private readonly path: string,
  ) {
    this.writer = new PcapWriter({ write: (chunk) => this.append(chunk) });
  }

  record(data: Uint8Array, timestampNs: bigint): void {
    if (this.closed || this.error !== undefined) return;
    this.writer.writeDatagram(data, timestampNs);
  }

  private append(chunk: Uint8Array): boolean {
    if (!this.opened) {
      this.early.push(chunk.slice());
      return true;
    }
    if (this.used + chunk.byteLength > this.batch.byteLength) this.flush();
    if (chunk.byteLength > this.batch.byteLength) {
      this.out(chunk);
      return true;
    }
    this.batch.set(chunk, this.used);
    this.used += chunk.byteLength;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
      this.timer.unref();
    }
    return true;
  }

  open(): void {
    const path = this.path;
    if (path === '-') {
      const stdout = this.s.io.stdout as unknown as NodeJS.WritableStream;
      stdout.on('error', (e: NodeJS.ErrnoException) => this.fail(e));
    } else if (!this.s.opts.force) {
      this.fd = openSync(path, 'wx');
    } else {
      const tmp = join(dirname(path), `.${basename(path)}.ctevents-${process.pid}.tmp`);
      this.fd = openSync(tmp, 'wx');
      try {
        this.writer.writeHeader();
        this.writeEarly();
        if (this.error !== undefined) throw this.error;
        renameSync(tmp, path);
      } catch (e) {
        closeSync(this.fd);
        this.fd = undefined;
        try {
          unlinkSync(tmp);
        } catch {
          /* already gone */
        }
        throw e;
      }
    }
    this.writer.writeHeader();
    this.writeEarly();
    // Printed lines wait for their datagrams to be written.
    this.s.out.beforeWrite = () => this.flush();
    this.flush();
  }

  /** Marks the output open and writes the header and the records made before. */
  private writeEarly(): void {
    if (this.opened) return;
    this.opened = true;
    const early = this.early;
    this.early = [];
    for (const c of early) this.append(c);
    this.flush();
  }

  private out(bytes: Uint8Array): void {
    if (this.fd === undefined) {
      (this.s.io.stdout as unknown as NodeJS.WritableStream).write(bytes);
      return;
    }
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.opened || this.used === 0 || this.error !== undefined) return;
    const bytes = this.batch.subarray(0, this.used);
    this.used = 0;
    try {
      this.out(bytes);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** A write failed: stop the run; close() reports it (unless it is a reader gone away from `-`). */
  private fail(e: NodeJS.ErrnoException): void {
    if (this.path === '-' && (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED')) {
      this.closed = true;
    } else {
      this.error ??= new Error(`--write ${this.path}: ${e.message}`);
    }
    this.s.stop.abort('recording failed');
  }

  close(): void {
    if (this.closed && this.fd === undefined) {
      if (this.error !== undefined) throw this.error;
      return;
    }
    this.flush();
    this.closed = true;
    this.s.out.beforeWrite = undefined;
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    if (this.error !== undefined) throw this.error;
  }
}
