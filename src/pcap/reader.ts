/**
 * Capture reader: one push/pull state machine ({@link CaptureParser}) for classic pcap and
 * pcapng, fed with chunks of any size, and two drivers over it: {@link parseCapture}
 * (synchronous, whole file in memory) and {@link readCapture} (streaming, constant memory).
 *
 * Pending bytes live in a queue of the caller's chunks. A record lying inside one chunk is
 * returned as a view into that chunk; only a record straddling chunks is copied. Memory is
 * therefore bounded by one chunk plus the largest record, never by the file size.
 *
 *   chunks:   [.......|rec 5 hdr|rec 5 da][ta|rec 6 ....|rec 7 ...]
 *                                  ^ rec 5 straddles: copied   ^ rec 6, 7: views, no copy
 */
import { open } from 'node:fs/promises';
import {
  classicMagic,
  decodeClassicHeader,
  decodeClassicRecordHeader,
  isKuznetzovMagic,
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
  type ClassicHeader,
} from './classic.js';
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

/** One captured packet, from a classic record or a pcapng EPB/SPB/PB. */
export interface CaptureRecord {
  /** 0-based record number in the file (all sections together). */
  index: number;
  /** Byte offset of the record header (pcap) or block (pcapng) in the file. */
  fileOffset: number;
  /** Nanoseconds since the epoch (0n for a pcapng SPB, which carries no timestamp). */
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

/** Size of the chunks {@link readCapture} reads from a file path. */
export const READ_CHUNK_SIZE = 1 << 20;

const EMPTY = new Uint8Array(0);

/** FIFO of input chunks with contiguous peeks; copies only when a peek spans chunks. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private pos = 0;
  /** Bytes pushed and not yet skipped. */
  available = 0;
  /** File offset of the first unconsumed byte. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.byteLength;
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
    while (this.head < this.chunks.length && p >= this.chunks[this.head]!.byteLength) {
      p -= this.chunks[this.head]!.byteLength;
      this.chunks[this.head++] = EMPTY; // drop our reference now; records may still view it
    }
    this.pos = p;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
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

/**
 * Incremental capture parser. Feed chunks with {@link push}; call {@link next} until it
 * returns undefined (more input needed); call {@link end} once the input is exhausted.
 * Every step either returns, waits for input, or consumes at least 12 bytes.
 */
export class CaptureParser {
  private readonly queue = new ByteQueue();
  private state: State = { kind: 'start' };
  private pending: Pending = { what: 'capture header', offset: 0, need: 4 };
  private index = 0;

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
    if (this.state.kind === 'start' && !this.start()) return undefined;
    return this.state.kind === 'pcap' ? this.nextClassic(this.state.header) : this.nextBlock();
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
      this.state = { kind: 'pcapng', section: { littleEndian: true, interfaces: [] } };
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
    this.state = { kind: 'pcap', header: decodeClassicHeader(bytes) };
    this.queue.skip(PCAP_GLOBAL_HEADER_LENGTH);
    return true;
  }

  private nextClassic(header: ClassicHeader): CaptureRecord | undefined {
    const q = this.queue;
    const offset = q.offset;
    const bytes = q.peek(PCAP_RECORD_HEADER_LENGTH);
    if (bytes === undefined) return this.wait('record header', offset, PCAP_RECORD_HEADER_LENGTH, this.index);
    const rec = decodeClassicRecordHeader(bytes, header, offset, this.index);
    const total = PCAP_RECORD_HEADER_LENGTH + rec.includedLength;
    const data = q.peek(rec.includedLength, PCAP_RECORD_HEADER_LENGTH);
    if (data === undefined) return this.wait('record', offset, total, this.index);
    q.skip(total);
    const { timestampNs, originalLength } = rec;
    return { index: this.index++, fileOffset: offset, timestampNs, linktype: header.linktype, data, originalLength };
  }

  private nextBlock(): CaptureRecord | undefined {
    const q = this.queue;
    for (;;) {
      const offset = q.offset;
      const head = q.peek(8);
      if (head === undefined) return this.wait('block header', offset, 8);
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const type = dv.getUint32(0, true); // SHB type is a palindrome; others re-read below
      let le: boolean;
      if (type === PCAPNG_BLOCK_SHB) {
        const first12 = q.peek(12);
        if (first12 === undefined) return this.wait('section header', offset, 12);
        le = sectionLittleEndian(first12, offset);
      } else {
        le = this.section().littleEndian;
      }
      const blockType = dv.getUint32(0, le);
      const total = dv.getUint32(4, le);
      const recordIndex = isPacketBlock(blockType) ? this.index : undefined;
      checkBlockLength(blockType, total, offset, recordIndex);
      if (q.available < total) return this.wait('block', offset, total, recordIndex);
      checkTrailer(q.peek(4, total - 4)!, total, le, offset, recordIndex);
      if (blockType === PCAPNG_BLOCK_SHB) {
        this.state = { kind: 'pcapng', section: decodeSectionHeader(q.peek(total)!, offset) };
      } else if (blockType === PCAPNG_BLOCK_IDB) {
        this.section().interfaces.push(decodeInterface(q.peek(total)!, le, offset));
      } else if (recordIndex !== undefined) {
        const pkt = decodePacketBlock(blockType, q.peek(total)!, this.section(), offset, recordIndex);
        q.skip(total);
        const { linktype, timestampNs, data, originalLength } = pkt;
        return { index: this.index++, fileOffset: offset, timestampNs, linktype, data, originalLength };
      }
      // SHB, IDB and blocks of other types (NRB, ISB, DSB, custom...) end here: skip them.
      q.skip(total);
    }
  }

  private section(): NgSection {
    if (this.state.kind !== 'pcapng') throw new Error('unreachable: not in a pcapng section');
    return this.state.section;
  }
}

function sectionMagic(first4: Uint8Array): boolean {
  return new DataView(first4.buffer, first4.byteOffset, 4).getUint32(0, true) === PCAPNG_BLOCK_SHB;
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
 * Throws PcapError on malformed or truncated input; file system errors pass through.
 */
export async function* readCapture(source: CaptureSource): AsyncGenerator<CaptureRecord> {
  const parser = new CaptureParser();
  for await (const chunk of chunksOf(source)) {
    parser.push(chunk);
    for (let rec = parser.next(); rec !== undefined; rec = parser.next()) yield rec;
  }
  parser.end();
}

async function* chunksOf(source: CaptureSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string') {
    const file = await open(source, 'r');
    try {
      for (;;) {
        // A fresh buffer per read: records handed out earlier may still view the old one.
        const buf = new Uint8Array(READ_CHUNK_SIZE);
        const { bytesRead } = await file.read(buf, 0, READ_CHUNK_SIZE, null);
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }
  yield* streamChunks(source);
}

async function* streamChunks(source: AsyncIterable<unknown> | NodeJS.ReadableStream): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) {
      throw new PcapError(`input chunk is a ${typeof chunk}, not bytes (was an encoding set on the stream?)`, offset);
    }
    offset += chunk.byteLength;
    yield chunk;
  }
}
