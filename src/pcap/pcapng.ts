/**
 * pcapng framing: pure decoders over whole, contiguous blocks, each given as a DataView and
 * the position of the block in it (so that a block inside an input chunk is read in place).
 * Buffering across chunks is the job of the state machine in reader.ts.
 *
 * Byte order: each section (SHB and the blocks after it) has its own order, announced by
 * the on-disk order of the SHB's byte-order magic 0x1A2B3C4D. Captured bytes are untouched.
 *
 * Every block:
 *
 *    0               4               8                                total-4         total
 *   +---------------+---------------+-------------------------------+---------------+
 *   | block_type    | total_length  | body (+ options, 4-aligned)   | total_length  |
 *   +---------------+---------------+-------------------------------+---------------+
 *
 * Bodies (offsets from the block start):
 *   SHB 0x0A0D0D0A  8 byte-order magic, 12 u16 major (1), 14 u16 minor, 16 s64 section length, 24 options
 *   IDB 1           8 u16 linktype, 10 u16 reserved, 12 u32 snaplen, 16 options
 *                   (if_tsresol 9: 1 byte, bit 7 clear = 10^-n s, set = 2^-n s, default 10^-6;
 *                    if_tsoffset 14: s64 seconds added to every timestamp)
 *   EPB 6           8 u32 interface, 12 ts high, 16 ts low, 20 caplen, 24 origlen, 28 data (padded), options
 *   PB  2           8 u16 interface, 10 u16 drops, then as EPB from offset 12 (obsolete)
 *   SPB 3           8 u32 origlen, 12 data; interface 0; caplen = min(origlen, snaplen); no timestamp
 *
 * Options: u16 code, u16 length, value padded to 4; code 0 ends the list.
 */
import { PcapError } from './errors.js';
import { InterfaceClock, ZERO_CLOCK, type RawRecord } from './record.js';

/** Section Header Block type; a palindrome, so it reads the same in both byte orders. */
export const PCAPNG_BLOCK_SHB = 0x0a0d0d0a;
/** Interface Description Block type. */
export const PCAPNG_BLOCK_IDB = 0x00000001;
/** Obsolete Packet Block type. */
export const PCAPNG_BLOCK_PB = 0x00000002;
/** Simple Packet Block type. */
export const PCAPNG_BLOCK_SPB = 0x00000003;
/** Enhanced Packet Block type. */
export const PCAPNG_BLOCK_EPB = 0x00000006;
/** SHB byte-order magic; the order in which it reads correctly is the section's order. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const NS_PER_SECOND = 1_000_000_000n;

/** Smallest legal block_total_length per block type (12 for any other type). */
function minimumBlockLength(type: number): number {
  switch (type) {
    case PCAPNG_BLOCK_SHB:
      return 28;
    case PCAPNG_BLOCK_IDB:
      return 20;
    case PCAPNG_BLOCK_PB:
      return 32;
    case PCAPNG_BLOCK_SPB:
      return 16;
    case PCAPNG_BLOCK_EPB:
      return 32;
    default:
      return 12;
  }
}

/** An interface (IDB) of the current section, with its timestamp conversion folded in. */
export interface NgInterface {
  linktype: number;
  /** 0 = no limit. */
  snaplen: number;
  /** Timestamp units per second (10^n or 2^n, from if_tsresol). */
  unitsPerSecond: bigint;
  /** if_tsoffset, converted to nanoseconds. */
  offsetNs: bigint;
  /** Converts the two timestamp words of this interface's packets to nanoseconds. */
  clock: InterfaceClock;
}

/** State of the current section: its byte order and the interfaces declared so far. */
export interface NgSection {
  littleEndian: boolean;
  interfaces: NgInterface[];
}

/** Rounds up to a multiple of 4 without 32-bit bitwise wrap-around (lengths are u32). */
function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * True for the block types of the pcapng specification and its registry: SHB, IDB, PB,
 * SPB, NRB 4, ISB 5, EPB, IRIG 7, AFDX 8, systemd journal 9, DSB 0x0A, custom 0x0BAD and
 * 0x40000BAD, and the local-use range (top bit set). Other types are skipped, and
 * reported by a reader that reports (a corrupted type hides a packet).
 */
export function isKnownBlockType(type: number): boolean {
  return (type >= 1 && type <= 10) || type === PCAPNG_BLOCK_SHB || type === 0x0bad || type === 0x40000bad || type >= 0x8000_0000;
}

/** True for the block types that carry a packet (EPB, SPB, PB). */
export function isPacketBlock(type: number): boolean {
  return type === PCAPNG_BLOCK_EPB || type === PCAPNG_BLOCK_SPB || type === PCAPNG_BLOCK_PB;
}

/**
 * Byte order of the section whose SHB starts at `base` in `view` (file offset `offset`),
 * from the block's first 12 bytes.
 * Throws PcapError (offset of the magic) when the byte-order magic reads wrong both ways.
 */
export function sectionLittleEndian(view: DataView, base: number, offset: number): boolean {
  if (view.getUint32(base + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) return true;
  if (view.getUint32(base + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) return false;
  throw new PcapError('bad pcapng byte-order magic', offset + 8);
}

/**
 * Validates a block_total_length read at `offset + 4`: a multiple of 4, at least the
 * minimum for the block type. Throws PcapError. (The upper bound is the reader's: see
 * bound.ts.)
 */
export function checkBlockLength(type: number, total: number, offset: number, recordIndex?: number): void {
  const minimum = minimumBlockLength(type);
  if (total % 4 !== 0) {
    throw new PcapError(`block_total_length ${total} is not a multiple of 4`, offset + 4, recordIndex);
  }
  if (total < minimum) {
    throw new PcapError(`block_total_length ${total} below ${minimum} for block type 0x${type.toString(16)}`, offset + 4, recordIndex);
  }
}

/**
 * Checks the trailing copy of block_total_length (the value read at `offset + total - 4`).
 * Throws PcapError at that location on a mismatch.
 */
export function checkTrailer(trailing: number, total: number, offset: number, recordIndex?: number): void {
  if (trailing !== total) {
    throw new PcapError(`trailing block_total_length ${trailing} differs from ${total}`, offset + total - 4, recordIndex);
  }
}

/** Decodes an SHB (whole block at `base` in `view`) and opens a new section with no interfaces. */
export function decodeSectionHeader(view: DataView, base: number, offset: number): NgSection {
  const littleEndian = sectionLittleEndian(view, base, offset);
  const major = view.getUint16(base + 12, littleEndian);
  if (major !== 1) throw new PcapError(`unsupported pcapng major version ${major}`, offset + 12);
  return { littleEndian, interfaces: [] };
}

/**
 * Decodes an IDB (whole block of `total` bytes at `base` in `view`), including the
 * if_tsresol and if_tsoffset options. An option of an unexpected length is ignored (as
 * tshark does) and an option overrunning the block ends the options; each is passed to
 * `warn` (a PcapError at the option), which by default ignores it.
 */
export function decodeInterface(
  view: DataView,
  base: number,
  total: number,
  le: boolean,
  offset: number,
  warn: (e: PcapError) => void = () => {},
): NgInterface {
  let unitsPerSecond = 1_000_000n;
  let offsetNs = 0n;
  const end = total - 4;
  let p = 16;
  // Every step consumes at least the 4-byte option header, so this terminates.
  while (end - p >= 4) {
    const code = view.getUint16(base + p, le);
    const length = view.getUint16(base + p + 2, le);
    if (code === OPT_ENDOFOPT) break;
    if (p + 4 + length > end) {
      warn(new PcapError(`IDB option ${code} of length ${length} overruns its block; the options from here on are ignored`, offset + p));
      break;
    }
    if (code === OPT_IF_TSRESOL) {
      if (length !== 1) {
        warn(new PcapError(`if_tsresol has length ${length}, want 1; ignored (timestamps in microseconds)`, offset + p));
      } else {
        const v = view.getUint8(base + p + 4);
        const exponent = BigInt(v & 0x7f);
        unitsPerSecond = (v & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
      }
    } else if (code === OPT_IF_TSOFFSET) {
      if (length !== 8) warn(new PcapError(`if_tsoffset has length ${length}, want 8; ignored`, offset + p));
      else offsetNs = view.getBigInt64(base + p + 4, le) * NS_PER_SECOND;
    }
    p += 4 + pad4(length);
  }
  return {
    linktype: view.getUint16(base + 8, le),
    snaplen: view.getUint32(base + 12, le),
    unitsPerSecond,
    offsetNs,
    clock: new InterfaceClock(unitsPerSecond, offsetNs),
  };
}

/**
 * Decodes an EPB, SPB or PB (whole block of `total` bytes at `base` in `view`, which views
 * `buf`) of the given section into `out`: the packet data are `buf[out.start, +out.length)`.
 * An SPB has no timestamp: its clock gives 0n.
 * Throws PcapError for a missing interface (offset of the interface field, or of the block
 * for an SPB) or a captured length overrunning the block (offset of the length field). A
 * captured length over the interface's snaplen is accepted, as tshark does.
 */
export function decodePacketBlock(
  type: number,
  buf: Uint8Array,
  view: DataView,
  base: number,
  total: number,
  section: NgSection,
  offset: number,
  index: number,
  out: RawRecord,
): void {
  const le = section.littleEndian;
  const room = total - 4;
  if (type === PCAPNG_BLOCK_SPB) {
    const iface = section.interfaces[0];
    if (iface === undefined) throw new PcapError('SPB without interface 0 in its section', offset, index);
    const originalLength = view.getUint32(base + 8, le);
    const captured = iface.snaplen === 0 ? originalLength : Math.min(originalLength, iface.snaplen);
    if (12 + captured > room) {
      throw new PcapError(`SPB captured length ${captured} overruns its block`, offset + 8, index);
    }
    setPacket(out, buf, base + 12, captured, index, offset, iface.linktype, originalLength);
    out.tsHigh = 0;
    out.tsLow = 0;
    out.clock = ZERO_CLOCK;
    return;
  }
  const interfaceId = type === PCAPNG_BLOCK_PB ? view.getUint16(base + 8, le) : view.getUint32(base + 8, le);
  const iface = section.interfaces[interfaceId];
  if (iface === undefined) {
    const have = section.interfaces.length;
    throw new PcapError(`packet references interface ${interfaceId}, section has ${have}`, offset + 8, index);
  }
  const captured = view.getUint32(base + 20, le);
  const originalLength = view.getUint32(base + 24, le);
  if (28 + pad4(captured) > room) {
    throw new PcapError(`captured length ${captured} overruns its block`, offset + 20, index);
  }
  setPacket(out, buf, base + 28, captured, index, offset, iface.linktype, originalLength);
  out.tsHigh = view.getUint32(base + 12, le);
  out.tsLow = view.getUint32(base + 16, le);
  out.clock = iface.clock;
}

function setPacket(
  out: RawRecord,
  buf: Uint8Array,
  start: number,
  length: number,
  index: number,
  offset: number,
  linktype: number,
  originalLength: number,
): void {
  out.buf = buf;
  out.start = start;
  out.length = length;
  out.index = index;
  out.fileOffset = offset;
  out.linktype = linktype;
  out.originalLength = originalLength;
}
