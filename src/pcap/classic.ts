/**
 * Classic pcap (libpcap "savefile") framing: pure decoders over contiguous byte views.
 * Buffering across chunks is the job of the state machine in reader.ts.
 *
 * Byte order: every field below is in the order announced by the magic (the writer's host
 * order). The captured packet bytes are not touched.
 *
 * Global header (24 bytes):
 *
 *    0               4       6       8              12              16              20              24
 *   +---------------+-------+-------+---------------+---------------+---------------+---------------+
 *   | magic         | major | minor | thiszone s32  | sigfigs       | snaplen       | linktype+bits |
 *   +---------------+-------+-------+---------------+---------------+---------------+---------------+
 *   magic 0xA1B2C3D4 = µs timestamps, 0xA1B23C4D = ns timestamps (byte-swapped on disk: other order)
 *   linktype: low 16 bits LINKTYPE_*, bits 16..25 reserved (must be 0), bit 26 FCS present,
 *   bits 28..31 FCS length in 16-bit words.
 *
 * Record (16-byte header, then incl_len bytes, no padding):
 *
 *    0               4               8              12              16
 *   +---------------+---------------+---------------+---------------+----------------------
 *   | ts_sec        | ts_usec/nsec  | incl_len      | orig_len      | captured bytes ...
 *   +---------------+---------------+---------------+---------------+----------------------
 */
import { recordBound } from './bound.js';
import { PcapError } from './errors.js';

/** Magic of a classic pcap file with microsecond timestamps (as a u32 in file order). */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** Magic of a classic pcap file with nanosecond timestamps (as a u32 in file order). */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** Magic of Kuznetzov's "patched" format, recognised only to be refused by name. */
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
/** Size of the classic global header. */
export const PCAP_GLOBAL_HEADER_LENGTH = 24;
/** Size of a classic record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;

/** Reserved bits 16..25 of the linktype field (libpcap LT_RESERVED1). */
const LT_RESERVED_BITS = 0x03ff_0000;

/** Decoded classic global header. */
export interface ClassicHeader {
  /** File fields are little-endian. */
  littleEndian: boolean;
  /** ts fraction counts nanoseconds (else microseconds). */
  nanosecond: boolean;
  snaplen: number;
  /** LINKTYPE_* (low 16 bits of the field; the FCS bits 26..31 are accepted and ignored). */
  linktype: number;
}

/** Decoded classic record header. */
export interface ClassicRecordHeader {
  /** Nanoseconds since the epoch. */
  timestampNs: bigint;
  /** incl_len: bytes stored after the header. */
  includedLength: number;
  /** orig_len: length on the wire. */
  originalLength: number;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Identifies a classic pcap magic from the first 4 bytes of a file.
 * Returns undefined when the bytes are not a classic magic.
 */
export function classicMagic(first4: Uint8Array): { littleEndian: boolean; nanosecond: boolean } | undefined {
  const dv = viewOf(first4);
  for (const littleEndian of [true, false]) {
    const magic = dv.getUint32(0, littleEndian);
    if (magic === PCAP_MAGIC_MICROSECONDS) return { littleEndian, nanosecond: false };
    if (magic === PCAP_MAGIC_NANOSECONDS) return { littleEndian, nanosecond: true };
  }
  return undefined;
}

/** True when the first 4 bytes are Kuznetzov's patched-pcap magic in either order. */
export function isKuznetzovMagic(first4: Uint8Array): boolean {
  const dv = viewOf(first4);
  return dv.getUint32(0, true) === PCAP_MAGIC_KUZNETZOV || dv.getUint32(0, false) === PCAP_MAGIC_KUZNETZOV;
}

/**
 * Decodes the 24-byte global header at file offset 0.
 * Throws PcapError on an unknown magic, a major version other than 2 or reserved linktype
 * bits. Minor versions other than 4 (2.2, 2.3, 2.5...) are read as 2.4, as tshark does.
 */
export function decodeClassicHeader(bytes: Uint8Array): ClassicHeader {
  const magic = classicMagic(bytes);
  if (magic === undefined) throw new PcapError('unknown magic', 0);
  const dv = viewOf(bytes);
  const le = magic.littleEndian;
  const major = dv.getUint16(4, le);
  const minor = dv.getUint16(6, le);
  if (major !== 2) throw new PcapError(`unsupported pcap version ${major}.${minor} (want 2.x)`, 4);
  const snaplen = dv.getUint32(16, le);
  const field = dv.getUint32(20, le);
  if ((field & LT_RESERVED_BITS) !== 0) {
    throw new PcapError(`reserved linktype bits set (0x${field.toString(16).padStart(8, '0')})`, 20);
  }
  return { littleEndian: le, nanosecond: magic.nanosecond, snaplen, linktype: field & 0xffff };
}

/**
 * Decodes and validates the 16-byte record header found at `offset` (record `index`).
 * Throws PcapError for a length over {@link recordBound} of the file's snaplen (offset of
 * incl_len). A length over snaplen but within the bound is accepted, as tshark does; a
 * timestamp fraction of a second or more carries into the seconds.
 */
export function decodeClassicRecordHeader(
  bytes: Uint8Array,
  header: ClassicHeader,
  offset: number,
  index: number,
): ClassicRecordHeader {
  const dv = viewOf(bytes);
  const le = header.littleEndian;
  const seconds = dv.getUint32(0, le);
  const fraction = dv.getUint32(4, le);
  const includedLength = dv.getUint32(8, le);
  const originalLength = dv.getUint32(12, le);
  checkClassicRecordHeader(header, fraction, includedLength, offset, index);
  const timestampNs = BigInt(seconds) * 1_000_000_000n + BigInt(header.nanosecond ? fraction : fraction * 1000);
  return { timestampNs, includedLength, originalLength };
}

/**
 * The check of {@link decodeClassicRecordHeader} on fields already read: throws PcapError
 * for a length over {@link recordBound} of the file's snaplen (offset of incl_len).
 */
export function checkClassicRecordHeader(
  header: ClassicHeader,
  _fraction: number,
  includedLength: number,
  offset: number,
  index: number,
): void {
  const bound = recordBound(header.snaplen);
  if (includedLength > bound) {
    throw new PcapError(`record length ${includedLength} over the bound ${bound} for a netlink capture of snaplen ${header.snaplen}`, offset + 8, index);
  }
}
