/**
 * Classic pcap writer for netlink datagrams, byte-compatible with what libpcap (tcpdump -w)
 * writes for an nlmon device: LINKTYPE_NETLINK, snaplen 262144, and in every record the
 * 16-byte cooked header {pkttype 4, hatype 824, halen 0, addr 0, protocol} before the datagram.
 *
 * Byte order: pcap header fields in the host's order by default (as libpcap does); the
 * cooked header big-endian; the datagram copied as given (host order of its producer).
 *
 *   global header (24) | ts_sec ts_frac incl orig | cooked (16) | nlmsghdr... | next record...
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS } from './classic.js';
import { MAX_RECORD_LENGTH, PcapError } from './errors.js';
import { ARPHRD_NETLINK, LINKTYPE_NETLINK, SLL_HEADER_LENGTH } from './linktypes.js';

/** Default snaplen, the value libpcap uses (MAXIMUM_SNAPLEN). */
export const PCAP_DEFAULT_SNAPLEN = 262144;

const PACKET_OUTGOING = 4;
const NETLINK_NETFILTER = 12;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const MAX_TS_SECONDS = 0xffff_ffffn;

/** Anything with a `write(bytes)` method: a fs.WriteStream, a socket, an in-memory collector. */
export interface PcapSink {
  write(chunk: Uint8Array): unknown;
}

/** Options of {@link PcapWriter} and {@link openPcapFile}. */
export interface PcapWriterOptions {
  /** Write nanosecond timestamps (magic 0xA1B23C4D) instead of microseconds. Default false. */
  nanosecond?: boolean;
  /** Byte order of the pcap header fields. Default: the host's, as libpcap writes. */
  littleEndian?: boolean;
  /** Snapshot length; longer datagrams are truncated to it. Default 262144. */
  snaplen?: number;
}

let epochAnchorNs: bigint | undefined;

/** Wall-clock nanoseconds since the epoch, with the resolution of the monotonic clock. */
function nowNs(): bigint {
  epochAnchorNs ??= BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return process.hrtime.bigint() + epochAnchorNs;
}

/**
 * Writes netlink datagrams as a classic pcap stream. Each call hands the sink exactly one
 * chunk (the global header, or one complete record). Argument errors throw PcapError
 * carrying the output offset where the record would have gone.
 */
export class PcapWriter {
  /** Timestamps carry nanoseconds (magic 0xA1B23C4D). */
  readonly nanosecond: boolean;
  /** Byte order of the pcap header fields. */
  readonly littleEndian: boolean;
  /** Snapshot length written in the header; records are truncated to it. */
  readonly snaplen: number;
  private headerWritten = false;
  /** Bytes handed to the sink so far. */
  bytesWritten = 0;
  /** Records written so far. */
  records = 0;

  constructor(
    private readonly sink: PcapSink,
    opts: PcapWriterOptions = {},
  ) {
    this.nanosecond = opts.nanosecond ?? false;
    this.littleEndian = opts.littleEndian ?? HOST_LITTLE_ENDIAN;
    this.snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    if (!Number.isInteger(this.snaplen) || this.snaplen < SLL_HEADER_LENGTH || this.snaplen > MAX_RECORD_LENGTH) {
      throw new PcapError(`snaplen ${this.snaplen} outside ${SLL_HEADER_LENGTH}..${MAX_RECORD_LENGTH}`, 0);
    }
  }

  /**
   * Writes the 24-byte global header; once only (later calls do nothing). Called
   * automatically before the first record. Returns false if the sink asked to back off.
   */
  writeHeader(): boolean {
    if (this.headerWritten) return true;
    const bytes = new Uint8Array(GLOBAL_HEADER_LENGTH);
    const dv = new DataView(bytes.buffer);
    const le = this.littleEndian;
    dv.setUint32(0, this.nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, le);
    dv.setUint16(4, 2, le); // version 2.4
    dv.setUint16(6, 4, le);
    // 8 thiszone, 12 sigfigs: 0
    dv.setUint32(16, this.snaplen, le);
    dv.setUint32(20, LINKTYPE_NETLINK, le);
    this.headerWritten = true;
    return this.emit(bytes);
  }

  /**
   * Appends one record: the cooked header for `protocol` (default 12, NETLINK_NETFILTER)
   * followed by `data`, one netlink datagram. `timestampNs` defaults to now. A datagram
   * longer than snaplen is truncated (orig_len keeps its full length), as libpcap does.
   * Returns false if the sink asked to back off (its write() returned false).
   */
  writeDatagram(data: Uint8Array, timestampNs: bigint = nowNs(), protocol: number = NETLINK_NETFILTER): boolean {
    this.writeHeader();
    const at = this.bytesWritten;
    if (timestampNs < 0n || timestampNs / 1_000_000_000n > MAX_TS_SECONDS) {
      throw new PcapError(`timestamp ${timestampNs} ns not representable in classic pcap`, at, this.records);
    }
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xffff) {
      throw new PcapError(`netlink protocol ${protocol} is not a u16`, at, this.records);
    }
    const originalLength = SLL_HEADER_LENGTH + data.byteLength;
    if (originalLength > 0xffff_ffff) throw new PcapError(`datagram of ${data.byteLength} bytes too long`, at, this.records);
    const included = Math.min(originalLength, this.snaplen);
    const bytes = new Uint8Array(RECORD_HEADER_LENGTH + included);
    const dv = new DataView(bytes.buffer);
    const le = this.littleEndian;
    const fractionNs = timestampNs % 1_000_000_000n;
    dv.setUint32(0, Number(timestampNs / 1_000_000_000n), le);
    dv.setUint32(4, Number(this.nanosecond ? fractionNs : fractionNs / 1000n), le);
    dv.setUint32(8, included, le);
    dv.setUint32(12, originalLength, le);
    dv.setUint16(16, PACKET_OUTGOING, false); // cooked header: big-endian
    dv.setUint16(18, ARPHRD_NETLINK, false);
    // 20 halen 0, 22..29 address: zero
    dv.setUint16(30, protocol, false);
    bytes.set(data.subarray(0, included - SLL_HEADER_LENGTH), RECORD_HEADER_LENGTH + SLL_HEADER_LENGTH);
    this.records++;
    return this.emit(bytes);
  }

  private emit(bytes: Uint8Array): boolean {
    this.bytesWritten += bytes.byteLength;
    return this.sink.write(bytes) !== false;
  }
}

/** A pcap file being written by {@link openPcapFile}. */
export interface PcapFile {
  writer: PcapWriter;
  /** Resolves once the file stream has room again (at once if it has). Rejects on I/O error. */
  drain(): Promise<void>;
  /** Flushes, closes the file and resolves once it is on disk; rejects on I/O error. Idempotent. */
  close(): Promise<void>;
}

/** Batch size of {@link openPcapFile}: records are gathered into chunks of about this size. */
export const PCAP_FILE_BATCH_SIZE = 64 * 1024;
const FILE_HIGH_WATER_MARK = 1 << 20;
const FLUSH_DELAY_MS = 50;

/**
 * Gathers small records into ~64 KiB chunks for an fs stream, flushing when a chunk is full,
 * FLUSH_DELAY_MS after the first unflushed record, and on close. write() returns false
 * while the stream holds more than its high-water mark, so a producer can await drain().
 */
class BatchingFileSink implements PcapSink {
  private batch = new Uint8Array(PCAP_FILE_BATCH_SIZE);
  private used = 0;
  private timer: NodeJS.Timeout | undefined;
  private error: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly stream: WriteStream) {
    stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  write(chunk: Uint8Array): boolean {
    if (this.error !== undefined) throw this.error;
    if (this.closing !== undefined) throw new PcapError('write after close', this.stream.bytesWritten + this.stream.writableLength);
    if (this.used + chunk.byteLength > this.batch.byteLength) this.flush();
    if (chunk.byteLength >= this.batch.byteLength) {
      this.stream.write(chunk);
    } else {
      this.batch.set(chunk, this.used);
      this.used += chunk.byteLength;
      this.timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    }
    return !this.stream.writableNeedDrain;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0 || this.error !== undefined) return;
    this.stream.write(this.batch.subarray(0, this.used));
    this.batch = new Uint8Array(PCAP_FILE_BATCH_SIZE); // the stream keeps the old one until written
    this.used = 0;
  }

  async drain(): Promise<void> {
    if (this.error !== undefined) throw this.error;
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.error !== undefined) throw this.error;
      this.flush();
      this.stream.end();
      await finished(this.stream);
      if (this.error !== undefined) throw this.error;
    })();
    return this.closing;
  }
}

/**
 * Creates (truncates) a pcap file at `path` and writes its global header. Records are
 * batched into ~64 KiB writes; when `writer.writeDatagram` returns false the producer should
 * `await drain()` so that records cannot pile up in memory faster than the disk takes them.
 * Rejects if the file cannot be opened.
 */
export async function openPcapFile(path: string, opts: PcapWriterOptions = {}): Promise<PcapFile> {
  let sink: BatchingFileSink | undefined;
  // Built first so that bad options throw before a file is created.
  const writer = new PcapWriter({ write: (chunk) => sink!.write(chunk) }, opts);
  const stream = createWriteStream(path, { highWaterMark: FILE_HIGH_WATER_MARK });
  await once(stream, 'open');
  sink = new BatchingFileSink(stream);
  writer.writeHeader();
  const opened = sink;
  return { writer, drain: () => opened.drain(), close: () => opened.close() };
}
