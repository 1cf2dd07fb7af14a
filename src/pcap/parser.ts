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
import { ByteQueue } from './byte-queue.js';
import type { CaptureFormat, CaptureRecord } from './capture-record.js';
import { PcapError } from './errors.js';
import {
  checkBlockLength,
  checkTrailer,
  decodeInterface,
  decodePacketBlock,
  decodeSectionHeader,
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
    if (this.mode === MODE_PCAP) return this.nextClassic();
    if (this.mode === MODE_START && !this.start()) return undefined;
    return this.mode === MODE_PCAP ? this.nextClassic() : this.nextBlock();
  }

  /** Declares the end of input. Throws PcapError if it cut a header, record or block short. */
  end(): void {
    if (this.state.kind !== 'start' && this.queue.available === 0) return;
    const p = this.pending;
    const got = this.queue.available;
    const reason = got === 0 ? `empty input, no ${p.what}` : `truncated ${p.what}: input ends after ${got} of ${p.need} bytes`;
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
    this.state = { kind: 'pcap', header: this.classic };
    this.mode = MODE_PCAP;
    this.queue.skip(PCAP_GLOBAL_HEADER_LENGTH);
    return true;
  }

  private nextClassic(): RawRecord | undefined {
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
        } else if (blockType === PCAPNG_BLOCK_IDB) {
          this.section.interfaces.push(decodeInterface(bview, base, total, le, offset));
        } else {
          decodePacketBlock(blockType, buf, bview, base, total, this.section, offset, this.index, this.raw);
          q.skip(total);
          this.index++;
          return this.raw;
        }
      }
      // SHB, IDB and blocks of other types (NRB, ISB, DSB, custom...) end here: skip them.
      q.skip(total);
    }
  }
}

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
