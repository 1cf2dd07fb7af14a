/**
 * Capture reader: one push/pull state machine ({@link CaptureParser}) for classic pcap and
 * pcapng, fed with chunks of any size, and drivers over it (reader.ts): {@link parseCapture}
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
import { ByteQueue } from './byte-queue.js';
import type { CaptureFormat, CaptureRecord } from './capture-record.js';
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
