/**
 * Capture reader: one push/pull state machine ({@link CaptureParser}) for classic pcap and
 * pcapng, fed with chunks of any size, and drivers over it: {@link parseCapture}
 * (synchronous, whole file in memory), {@link readCaptureBatches} (streaming, constant
 * memory, one array of records per input chunk) and {@link readCapture} (the same, one
 * record per step).
 *
 * Pending bytes live in a queue of the caller's chunks. A record lying inside one chunk is
 * returned as a view into that chunk, its header read in place through one DataView per
 * chunk; only a record straddling chunks is copied. Memory is therefore bounded by one
 * chunk plus the largest record, never by the file size.
 *
 *   chunks:   [.......|rec 5 hdr|rec 5 da][ta|rec 6 ....|rec 7 ...]
 *                                  ^ rec 5 straddles: copied   ^ rec 6, 7: views, no copy
 */
import { open } from 'node:fs/promises';
import {
  checkClassicRecordHeader,
  classicMagic,
  decodeClassicHeader,
  isKuznetzovMagic,
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
  type ClassicHeader,
} from './classic.js';
import { PCAPNG_BLOCK_SLACK, PCAPNG_META_BOUND, recordBound } from './bound.js';
import { PcapError } from './errors.js';
import {
  checkBlockLength,
  checkTrailer,
  decodeInterface,
  decodePacketBlock,
  decodeSectionHeader,
  isKnownBlockType,
  isPacketBlock,
  PCAPNG_BLOCK_IDB,
  PCAPNG_BLOCK_SHB,
  sectionLittleEndian,
  type NgSection,
} from './pcapng.js';
import {
  MICROSECOND_CLOCK,
  NANOSECOND_CLOCK,
  ParsedRecord,
  RawRecord,
  viewAt,
  type TimestampClock,
} from './record.js';

/** One captured packet, from a classic record or a pcapng EPB/SPB/PB. */
export interface CaptureRecord {
  /** 0-based record number in the file (all sections together). */
  index: number;
  /** Byte offset of the record header (pcap) or block (pcapng) in the file. */
  fileOffset: number;
  /**
   * Nanoseconds since the epoch (0n for a pcapng SPB, which carries no timestamp). In the
   * records the readers return this is a getter that computes the value when read (so it
   * is not an own property: `{ ...rec }` does not copy it); it may be assigned.
   */
  timestampNs: bigint;
  /** LINKTYPE_* of the record's interface. */
  linktype: number;
  /** Captured bytes including the link-layer header. Borrowed view into the input chunk. */
  data: Uint8Array;
  /** Length of the packet on the wire (may exceed data.length when truncated by snaplen). */
  originalLength: number;
}

/** What {@link readCapture} accepts: a file path, or a stream / async iterable of byte chunks. */
export type CaptureSource = string | AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/** Container format detected from the magic. */
export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * Size of the chunks {@link readCapture} and the batch readers read from a file path: 64 KiB.
 * Small enough that a chunk is usually released before the young-generation collections
 * that would promote it (then only a full collection frees it), large enough that the read
 * calls cost little: memory stays flat at no loss of speed.
 */
export const READ_CHUNK_SIZE = 64 * 1024;

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

/**
 * FIFO of input chunks with contiguous peeks; copies only when a peek spans chunks. The
 * chunk holding the next unconsumed byte is exposed as `cur` (with one DataView over it
 * and the read position `pos`) so that the parser can read what lies inside it in place.
 */
class ByteQueue {
  /** Chunks with unconsumed bytes from index `head` on; chunks[head] is `cur`. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** The chunk of the next unconsumed byte (EMPTY when nothing is pending). */
  cur: Uint8Array = EMPTY;
  /** A DataView over the whole of `cur`. */
  view: DataView = EMPTY_VIEW;
  /** Position of the next unconsumed byte in `cur`. */
  pos = 0;
  /** Bytes pushed and not yet skipped. */
  available = 0;
  /** File offset of the first unconsumed byte. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.byteLength;
    if (this.chunks.length - this.head === 1) this.setCurrent(chunk);
  }

  private setCurrent(chunk: Uint8Array): void {
    this.cur = chunk;
    this.view = chunk.byteLength === 0 ? EMPTY_VIEW : new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }

  /** `n` contiguous bytes starting `from` bytes ahead, or undefined if not all there yet. */
  peek(n: number, from = 0): Uint8Array | undefined {
    if (this.available < from + n) return undefined;
    if (n === 0) return EMPTY;
    let i = this.head;
    let p = this.pos + from;
    while (p >= this.chunks[i]!.byteLength) p -= this.chunks[i++]!.byteLength;
    const first = this.chunks[i]!;
    if (first.byteLength - p >= n) return first.subarray(p, p + n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[i++]!;
      const take = Math.min(c.byteLength - p, n - filled);
      out.set(c.subarray(p, p + take), filled);
      filled += take;
      p = 0;
    }
    return out;
  }

  /** Consumes `n` bytes (n <= available), releasing chunks that are fully consumed. */
  skip(n: number): void {
    this.available -= n;
    this.offset += n;
    let p = this.pos + n;
    if (p < this.cur.byteLength) {
      this.pos = p; // still inside the current chunk: the common case
      return;
    }
    while (this.head < this.chunks.length && p >= this.chunks[this.head]!.byteLength) {
      p -= this.chunks[this.head]!.byteLength;
      this.chunks[this.head++] = EMPTY; // drop our reference now; records may still view it
    }
    this.pos = p;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
      this.setCurrent(EMPTY);
    } else {
      if (this.head >= 64) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
      this.setCurrent(this.chunks[this.head]!);
    }
  }
}

/** What the parser waits for, to name it if the input ends there. */
interface Pending {
  what: string;
  offset: number;
  need: number;
  recordIndex?: number;
}

type State =
  | { kind: 'start' }
  | { kind: 'pcap'; header: ClassicHeader }
  | { kind: 'pcapng'; section: NgSection };

/** Options of {@link CaptureParser}. */
export interface CaptureParserOptions {
  /**
   * Called for each fault the parser can step over: a record or packet block whose
   * framing is intact but whose content cannot be used (over the length bound, a missing
   * interface, a captured length overrunning its block; the record is skipped, and
   * keeps its record number), an unknown pcapng block type (skipped), an IDB option of
   * an unexpected length (ignored). The parser then goes on. Without it, the record
   * faults throw and the others pass silently. Faults that lose the framing (bad magic,
   * truncated input, a block length that is not a multiple of 4...) always throw.
   */
  onMalformed?: (e: PcapError) => void;
}

const MODE_START = 0;
const MODE_PCAP = 1;
const MODE_PCAPNG = 2;

/**
 * Incremental capture parser. Feed chunks with {@link push}; call {@link next} until it
 * returns undefined (more input needed); call {@link end} once the input is exhausted.
 * Every step either returns, waits for input, or consumes at least 12 bytes.
 */
export class CaptureParser {
  private readonly queue = new ByteQueue();
  private state: State = { kind: 'start' };
  /** state.kind as a number, for the per-record dispatch. */
  private mode = MODE_START;
  private pending: Pending = { what: 'capture header', offset: 0, need: 4 };
  private index = 0;
  /** Classic pcap: the global header and the clock of its timestamps. */
  private classic: ClassicHeader = { littleEndian: true, nanosecond: false, snaplen: 0, linktype: 0 };
  private clock: TimestampClock = MICROSECOND_CLOCK;
  /** pcapng: the current section. */
  private section: NgSection = { littleEndian: true, interfaces: [] };
  private readonly raw = new RawRecord();
  private readonly onMalformed: ((e: PcapError) => void) | undefined;
  /** Bytes of a skipped (over-long) record still to be dropped as they arrive, unbuffered. */
  private discard = 0;
  /** Largest packet block accepted in the current pcapng section. */
  private blockBound = recordBound(0) + PCAPNG_BLOCK_SLACK;
  /** Largest record accepted in a classic file. */
  private classicBound = recordBound(0);
  /** For the IDB decoder: reports an option fault. */
  private readonly warn = (e: PcapError): void => this.onMalformed?.(e);

  constructor(opts: CaptureParserOptions = {}) {
    this.onMalformed = opts.onMalformed;
  }

  /** A record-level fault: reported (then the caller skips the record) or thrown. */
  private fault(e: PcapError): void {
    if (this.onMalformed === undefined) throw e;
    this.onMalformed(e);
  }

  private unknownBlock(type: number, total: number, offset: number): void {
    this.onMalformed?.(new PcapError(`unknown pcapng block type 0x${type.toString(16)} of ${total} bytes; skipped`, offset));
  }

  /** Drops what has arrived of a skipped record; true once it is all gone. */
  private dropDiscarded(): boolean {
    const n = Math.min(this.discard, this.queue.available);
    this.queue.skip(n);
    this.discard -= n;
    if (this.discard > 0) {
      this.pending = { what: 'skipped record', offset: this.queue.offset, need: this.discard };
      return false;
    }
    return true;
  }

  /** Detected container format, once the magic has been read. */
  get format(): CaptureFormat | undefined {
    return this.state.kind === 'start' ? undefined : this.state.kind;
  }

  /** Appends a chunk of input. The chunk is borrowed: it must not be modified afterwards. */
  push(chunk: Uint8Array): void {
    this.queue.push(chunk);
  }

  /** The next complete record, or undefined when more input is needed. Throws PcapError. */
  next(): CaptureRecord | undefined {
    const r = this.advance();
    if (r === undefined) return undefined;
    const data = viewAt(r.buf, r.start, r.length);
    return new ParsedRecord(r.index, r.fileOffset, r.linktype, data, r.originalLength, r.tsHigh, r.tsLow, r.clock);
  }

  /**
   * Frames the next complete record like {@link next}, but describes it in place instead of
   * allocating: the returned cursor is the same object every time and is overwritten by the
   * next call. Its `buf` is borrowed like a record's data. For the readers of this module.
   * @internal
   */
  advance(): RawRecord | undefined {
    if (this.discard > 0 && !this.dropDiscarded()) return undefined;
    if (this.mode === MODE_PCAP) return this.nextClassic();
    if (this.mode === MODE_START && !this.start()) return undefined;
    return this.mode === MODE_PCAP ? this.nextClassic() : this.nextBlock();
  }

  /** Declares the end of input. Throws PcapError if it cut a header, record or block short. */
  end(): void {
    if (this.state.kind !== 'start' && this.queue.available === 0 && this.discard === 0) return;
    const p = this.pending;
    const got = this.queue.available;
    const reason =
      this.discard > 0
        ? `truncated skipped record: input ends ${this.discard} bytes before its end`
        : got === 0
          ? `empty input, no ${p.what}`
          : `truncated ${p.what}: input ends after ${got} of ${p.need} bytes`;
    throw new PcapError(reason, p.offset, p.recordIndex);
  }

  private wait(what: string, offset: number, need: number, recordIndex?: number): undefined {
    this.pending = { what, offset, need, recordIndex };
    return undefined;
  }

  /** Reads the magic (and for classic pcap the global header); false when waiting. */
  private start(): boolean {
    const magic = this.queue.peek(4);
    if (magic === undefined) return false;
    if (sectionMagic(magic)) {
      this.section = { littleEndian: true, interfaces: [] };
      this.state = { kind: 'pcapng', section: this.section };
      this.mode = MODE_PCAPNG;
      return true;
    }
    if (classicMagic(magic) === undefined) {
      const reason = isKuznetzovMagic(magic) ? 'Kuznetzov patched pcap is not supported' : 'unknown magic';
      throw new PcapError(reason, 0);
    }
    const bytes = this.queue.peek(PCAP_GLOBAL_HEADER_LENGTH);
    if (bytes === undefined) {
      this.wait('global header', 0, PCAP_GLOBAL_HEADER_LENGTH);
      return false;
    }
    this.classic = decodeClassicHeader(bytes);
    this.clock = this.classic.nanosecond ? NANOSECOND_CLOCK : MICROSECOND_CLOCK;
    this.classicBound = recordBound(this.classic.snaplen);
    this.state = { kind: 'pcap', header: this.classic };
    this.mode = MODE_PCAP;
    this.queue.skip(PCAP_GLOBAL_HEADER_LENGTH);
    return true;
  }

  private nextClassic(): RawRecord | undefined {
    for (;;) {
      const r = this.classicStep();
      if (r !== SKIPPED) return r;
      if (this.discard > 0 && !this.dropDiscarded()) return undefined;
    }
  }

  /** One classic record: the record, undefined (waiting) or SKIPPED (reported, skipped). */
  private classicStep(): RawRecord | undefined | typeof SKIPPED {
    const q = this.queue;
    const header = this.classic;
    const le = header.littleEndian;
    const offset = q.offset;
    // Read the record header in place when it lies in the current chunk, else from a copy.
    let view = q.view;
    let at = q.pos;
    const room = q.cur.byteLength - at;
    if (room < PCAP_RECORD_HEADER_LENGTH) {
      const bytes = q.peek(PCAP_RECORD_HEADER_LENGTH);
      if (bytes === undefined) return this.wait('record header', offset, PCAP_RECORD_HEADER_LENGTH, this.index);
      view = new DataView(bytes.buffer, bytes.byteOffset, PCAP_RECORD_HEADER_LENGTH);
      at = 0;
    }
    const seconds = view.getUint32(at, le);
    const fraction = view.getUint32(at + 4, le);
    const includedLength = view.getUint32(at + 8, le);
    const originalLength = view.getUint32(at + 12, le);
    if (includedLength > this.classicBound) {
      // Reported and dropped as it arrives: never buffered.
      const index = this.index++;
      this.discard = PCAP_RECORD_HEADER_LENGTH + includedLength;
      this.fault(new PcapError(`record length ${includedLength} over the bound ${this.classicBound} for a netlink capture of snaplen ${header.snaplen}; record skipped`, offset + 8, index));
      return SKIPPED;
    }
    checkClassicRecordHeader(header, fraction, includedLength, offset, this.index);
    const total = PCAP_RECORD_HEADER_LENGTH + includedLength;
    const r = this.raw;
    if (room >= total) {
      r.buf = q.cur;
      r.start = q.pos + PCAP_RECORD_HEADER_LENGTH;
    } else {
      const data = q.peek(includedLength, PCAP_RECORD_HEADER_LENGTH);
      if (data === undefined) return this.wait('record', offset, total, this.index);
      r.buf = data;
      r.start = 0;
    }
    q.skip(total);
    r.length = includedLength;
    r.index = this.index++;
    r.fileOffset = offset;
    r.linktype = header.linktype;
    r.originalLength = originalLength;
    r.tsHigh = seconds;
    r.tsLow = fraction;
    r.clock = this.clock;
    return r;
  }

  private nextBlock(): RawRecord | undefined {
    const q = this.queue;
    for (;;) {
      const offset = q.offset;
      let view = q.view;
      let at = q.pos;
      const room = q.cur.byteLength - at;
      if (room < 8) {
        const head = q.peek(8);
        if (head === undefined) return this.wait('block header', offset, 8);
        view = new DataView(head.buffer, head.byteOffset, 8);
        at = 0;
      }
      const type = view.getUint32(at, true); // SHB type is a palindrome; others re-read below
      let le: boolean;
      if (type === PCAPNG_BLOCK_SHB) {
        const first12 = q.peek(12);
        if (first12 === undefined) return this.wait('section header', offset, 12);
        le = sectionLittleEndian(new DataView(first12.buffer, first12.byteOffset, 12), 0, offset);
      } else {
        le = this.section.littleEndian;
      }
      const blockType = view.getUint32(at, le);
      const total = view.getUint32(at + 4, le);
      const recordIndex = isPacketBlock(blockType) ? this.index : undefined;
      checkBlockLength(blockType, total, offset, recordIndex);
      const meta = blockType === PCAPNG_BLOCK_SHB || blockType === PCAPNG_BLOCK_IDB;
      if (total > (meta ? PCAPNG_META_BOUND : this.blockBound)) {
        if (meta) throw new PcapError(`block_total_length ${total} over the bound ${PCAPNG_META_BOUND} for a section or interface block`, offset + 4);
        // Dropped as it arrives, never buffered; a packet block is reported and keeps its number.
        this.discard = total;
        if (!isKnownBlockType(blockType)) this.unknownBlock(blockType, total, offset);
        if (recordIndex !== undefined) {
          this.index++;
          this.fault(new PcapError(`block_total_length ${total} over the bound ${this.blockBound} for this section; record skipped`, offset + 4, recordIndex));
        }
        if (!this.dropDiscarded()) return undefined;
        continue;
      }
      if (q.available < total) return this.wait('block', offset, total, recordIndex);
      // The block is all there; in the current chunk (read in place) or straddling chunks.
      const inPlace = room >= total;
      const trailing = inPlace ? q.view.getUint32(q.pos + total - 4, le) : u32(q.peek(4, total - 4)!, le);
      checkTrailer(trailing, total, offset, recordIndex);
      if (blockType === PCAPNG_BLOCK_SHB || blockType === PCAPNG_BLOCK_IDB || recordIndex !== undefined) {
        let buf = q.cur;
        let bview = q.view;
        let base = q.pos;
        if (!inPlace) {
          buf = q.peek(total)!;
          bview = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
          base = 0;
        }
        if (blockType === PCAPNG_BLOCK_SHB) {
          this.section = decodeSectionHeader(bview, base, offset);
          this.state = { kind: 'pcapng', section: this.section };
          this.blockBound = recordBound(0) + PCAPNG_BLOCK_SLACK;
        } else if (blockType === PCAPNG_BLOCK_IDB) {
          const iface = decodeInterface(bview, base, total, le, offset, this.warn);
          this.section.interfaces.push(iface);
          this.blockBound = Math.max(this.blockBound, recordBound(iface.snaplen) + PCAPNG_BLOCK_SLACK);
        } else {
          let ok = true;
          try {
            decodePacketBlock(blockType, buf, bview, base, total, this.section, offset, this.index, this.raw);
          } catch (e) {
            if (!(e instanceof PcapError)) throw e;
            ok = false;
            q.skip(total);
            this.index++;
            this.fault(e);
          }
          if (ok) {
            q.skip(total);
            this.index++;
            return this.raw;
          }
          continue;
        }
      }
      // SHB, IDB and blocks of other types (NRB, ISB, DSB, custom...) end here: skip them.
      q.skip(total);
      if (!isKnownBlockType(blockType)) this.unknownBlock(blockType, total, offset);
    }
  }
}

/** What a step returns for a record it reported and skipped. */
const SKIPPED = Symbol('skipped');

function u32(bytes: Uint8Array, le: boolean): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, le);
}

function sectionMagic(first4: Uint8Array): boolean {
  return u32(first4, true) === PCAPNG_BLOCK_SHB;
}

/**
 * Parses a whole capture held in memory. Record data are views into `bytes`.
 * Throws PcapError on malformed or truncated input (after yielding the good records before it).
 */
export function* parseCapture(bytes: Uint8Array): Generator<CaptureRecord> {
  const parser = new CaptureParser();
  parser.push(bytes);
  for (let rec = parser.next(); rec !== undefined; rec = parser.next()) yield rec;
  parser.end();
}

/**
 * Streams the records of a capture file (path, read in {@link READ_CHUNK_SIZE} chunks) or of
 * a byte stream (e.g. process.stdin) without holding the file in memory. Record data are
 * views into the chunk they arrived in (copies when they straddle chunks).
 * Throws PcapError on malformed or truncated input (after yielding the good records before
 * it); file system errors pass through.
 *
 * One record per step; {@link readCaptureBatches} is the faster way to stream a large file.
 */
export function readCapture(source: CaptureSource): AsyncGenerator<CaptureRecord, void, undefined> {
  return flattenBatches(readCaptureBatches(source));
}

/**
 * Streams a capture like {@link readCapture}, but a batch at a time: every input chunk
 * (64 KiB read from a path, or one chunk of a stream) gives one array holding the records
 * completed by that chunk, in file order; chunks completing no record give no batch, so a
 * batch is never empty. The async iteration cost is paid once per chunk instead of once
 * per record. The arrays are the caller's to keep; record data are views into the input
 * chunks (copies for records straddling chunks), as with readCapture.
 *
 * On malformed or truncated input the records before the fault are yielded first (as a
 * last, possibly short batch), then the PcapError is thrown; file system errors pass through.
 */
export async function* readCaptureBatches(source: CaptureSource): AsyncGenerator<CaptureRecord[], void, undefined> {
  const parser = new CaptureParser();
  for await (const chunk of captureChunks(source)) {
    parser.push(chunk);
    const batch: CaptureRecord[] = [];
    try {
      fillBatch(parser, batch);
    } catch (e) {
      if (batch.length > 0) yield batch;
      throw e;
    }
    if (batch.length > 0) yield batch;
  }
  parser.end();
}

/** Appends the records the parser can complete to `batch` (a plain function: optimisable). */
function fillBatch(parser: CaptureParser, batch: CaptureRecord[]): void {
  for (let rec = parser.next(); rec !== undefined; rec = parser.next()) batch.push(rec);
}

/**
 * The byte chunks of a source: a path read in {@link READ_CHUNK_SIZE} pieces (each in a
 * buffer of its own, since records handed out may still view the previous ones), or the
 * chunks of a stream / async iterable, checked to be bytes. For the readers of this module.
 * @internal
 */
export async function* captureChunks(source: CaptureSource): AsyncGenerator<Uint8Array, void, undefined> {
  if (typeof source === 'string') {
    const file = await open(source, 'r');
    try {
      for (;;) {
        // A fresh buffer per read: records handed out earlier may still view the old one.
        const buf = new Uint8Array(READ_CHUNK_SIZE);
        const { bytesRead } = await file.read(buf, 0, READ_CHUNK_SIZE, null);
        if (bytesRead === 0) return;
        yield bytesRead === READ_CHUNK_SIZE ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }
  let offset = 0;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new PcapError(`input chunk is a ${typeof chunk}, not bytes (was an encoding set on the stream?)`, offset);
    }
    offset += chunk.byteLength;
    yield chunk;
  }
}

/**
 * An async generator of the items of an async generator of arrays: one item per step, but
 * far cheaper per step than an `async function*` that yields them (no generator machinery,
 * one settled promise per item). Behaves as such a generator would: calls are served in
 * order, return() and throw() close the source (so that a file is closed on `break`), an
 * error of the source is passed on after the items before it, then the iterator is done.
 * @internal
 */
export function flattenBatches<T>(source: AsyncGenerator<T[], void, undefined>): AsyncGenerator<T, void, undefined> {
  return new Flattened(source);
}

class Flattened<T> implements AsyncGenerator<T, void, undefined> {
  private batch: T[] = [];
  private i = 0;
  private done = false;
  /** The last queued operation that awaits the source, while it has not settled. */
  private busy: Promise<unknown> | undefined;

  constructor(private readonly source: AsyncGenerator<T[], void, undefined>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.busy === undefined) {
      if (this.i < this.batch.length) return Promise.resolve({ value: this.batch[this.i++]!, done: false });
      if (this.done) return Promise.resolve({ value: undefined, done: true });
    }
    return this.queue(() => this.fill());
  }

  return(value?: void | PromiseLike<void>): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.close();
      return { value: (await value) as void, done: true };
    });
  }

  throw(error?: unknown): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.close();
      throw error;
    });
  }

  private async fill(): Promise<IteratorResult<T, void>> {
    while (this.i >= this.batch.length) {
      if (this.done) return { value: undefined, done: true };
      let r: IteratorResult<T[], void>;
      try {
        r = await this.source.next();
      } catch (e) {
        this.finish();
        throw e;
      }
      if (r.done) {
        this.finish();
        return { value: undefined, done: true };
      }
      this.batch = r.value;
      this.i = 0;
    }
    return { value: this.batch[this.i++]!, done: false };
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.finish();
    await this.source.return(undefined);
  }

  private finish(): void {
    this.done = true;
    this.batch = [];
    this.i = 0;
  }

  /** Runs `op` once every operation queued before it has settled. */
  private queue<R>(op: () => Promise<R>): Promise<R> {
    const run = this.busy === undefined ? op() : this.busy.then(op, op);
    this.busy = run;
    const settled = () => {
      if (this.busy === run) this.busy = undefined;
    };
    run.then(settled, settled);
    return run;
  }
}
