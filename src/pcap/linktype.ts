/**
 * Link-layer framing of netlink captures (nlmon): strips the cooked header libpcap puts in
 * front of each netlink datagram and names the netlink protocol (family) it belongs to.
 *
 * Byte order: the cooked-header fields are big-endian; the netlink datagram after them is in
 * the capturing host's order and is returned untouched.
 *
 * LINKTYPE_NETLINK (253) and LINKTYPE_LINUX_SLL (113), 16 bytes:
 *
 *    0       2       4       6                               14      16
 *   +-------+-------+-------+-------------------------------+-------+------------------
 *   |pkttype|hatype |halen  | addr (8)                      |proto  | nlmsghdr ...
 *   +-------+-------+-------+-------------------------------+-------+------------------
 *   pkttype 4 (PACKET_OUTGOING) for nlmon, hatype 824 (ARPHRD_NETLINK), proto = netlink family
 *
 * LINKTYPE_LINUX_SLL2 (276), 20 bytes:
 *
 *    0       2       4               8       10  11  12                              20
 *   +-------+-------+---------------+-------+---+---+-------------------------------+----------
 *   |proto  |mbz    | if_index      |hatype |pkt|aln| addr (8)                      | nlmsghdr ...
 *   +-------+-------+---------------+-------+---+---+-------------------------------+----------
 */
import { PcapError } from './errors.js';
import { captureChunks, CaptureParser, flattenBatches, type CaptureRecord, type CaptureSource } from './reader.js';
import { DatagramRecord, viewAt } from './record.js';

// The numbers live in linktypes.ts (no imports) so the writer does not load the reader.
export { LINKTYPE_NETLINK, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, ARPHRD_NETLINK, SLL_HEADER_LENGTH, SLL2_HEADER_LENGTH } from './linktypes.js';
import { LINKTYPE_NETLINK, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, ARPHRD_NETLINK, SLL_HEADER_LENGTH, SLL2_HEADER_LENGTH } from './linktypes.js';

/** NETLINK_NETFILTER, the default protocol filter of {@link readNetlinkDatagrams}. */
const DEFAULT_PROTOCOL = 12;

/** The netlink part of a captured frame. */
export interface NetlinkPayload {
  /** Netlink protocol (family) of the socket: 12 = NETLINK_NETFILTER, 0 = ROUTE, 16 = GENERIC… */
  protocol: number;
  /** The netlink datagram (one or more nlmsghdr, host order). Borrowed view into the record. */
  data: Uint8Array;
}

/** A netlink datagram read from a capture, with where and when it was captured. */
export interface NetlinkDatagramRecord extends NetlinkPayload {
  index: number;
  fileOffset: number;
  /** As {@link CaptureRecord.timestampNs}: a getter in the records the readers return. */
  timestampNs: bigint;
}

/** Options of {@link readNetlinkDatagrams} and {@link readNetlinkDatagramBatches}. */
export interface ReadNetlinkOptions {
  /** Netlink protocol to keep; other protocols are skipped. Default 12 (NETLINK_NETFILTER). */
  protocol?: number;
}

function tooShort(what: string, length: number, need: number, fileOffset: number, index: number): PcapError {
  return new PcapError(`${what} record of ${length} bytes, shorter than its ${need}-byte header`, fileOffset, index);
}

/**
 * The netlink protocol of the frame of `length` bytes at `start` in `bytes`, captured with
 * `linktype`, or -1 when the frame is not netlink. Throws the errors of {@link netlinkPayload}.
 * The cooked header is then {@link cookedHeaderLength} bytes long.
 */
export function netlinkProtocol(linktype: number, bytes: Uint8Array, start: number, length: number, fileOffset: number, index: number): number {
  switch (linktype) {
    case LINKTYPE_NETLINK:
    case LINKTYPE_LINUX_SLL: {
      if (length < 4) throw tooShort(sllName(linktype), length, SLL_HEADER_LENGTH, fileOffset, index);
      const hatype = (bytes[start + 2]! << 8) | bytes[start + 3]!;
      if (hatype !== ARPHRD_NETLINK) {
        if (linktype === LINKTYPE_LINUX_SLL) return -1;
        throw new PcapError(`LINKTYPE_NETLINK record with hatype ${hatype}, want ${ARPHRD_NETLINK}`, fileOffset, index);
      }
      if (length < SLL_HEADER_LENGTH) throw tooShort(sllName(linktype), length, SLL_HEADER_LENGTH, fileOffset, index);
      return (bytes[start + 14]! << 8) | bytes[start + 15]!;
    }
    case LINKTYPE_LINUX_SLL2: {
      if (length < 10) throw tooShort('LINKTYPE_LINUX_SLL2', length, SLL2_HEADER_LENGTH, fileOffset, index);
      if (((bytes[start + 8]! << 8) | bytes[start + 9]!) !== ARPHRD_NETLINK) return -1;
      if (length < SLL2_HEADER_LENGTH) throw tooShort('LINKTYPE_LINUX_SLL2', length, SLL2_HEADER_LENGTH, fileOffset, index);
      return (bytes[start]! << 8) | bytes[start + 1]!;
    }
    default:
      return -1;
  }
}

function sllName(linktype: number): string {
  return linktype === LINKTYPE_NETLINK ? 'LINKTYPE_NETLINK' : 'LINKTYPE_LINUX_SLL';
}

/** Length of the cooked header of a netlink frame of this linktype. */
export function cookedHeaderLength(linktype: number): number {
  return linktype === LINKTYPE_LINUX_SLL2 ? SLL2_HEADER_LENGTH : SLL_HEADER_LENGTH;
}

/**
 * Strips the cooked header of a netlink frame. Returns undefined for records that are not
 * netlink: other linktypes, or SLL/SLL2 frames whose hatype is not ARPHRD_NETLINK.
 * Throws PcapError (offset and index of the record) for a frame too short for its header,
 * and for a LINKTYPE_NETLINK frame whose hatype is not 824 (a layout libpcap never writes,
 * so the datagram boundary would be a guess).
 */
export function netlinkPayload(rec: CaptureRecord): NetlinkPayload | undefined {
  const bytes = rec.data;
  const protocol = netlinkProtocol(rec.linktype, bytes, 0, bytes.byteLength, rec.fileOffset, rec.index);
  if (protocol < 0) return undefined;
  return { protocol, data: bytes.subarray(cookedHeaderLength(rec.linktype)) };
}

/**
 * Streams the netlink datagrams of one protocol (default NETLINK_NETFILTER) from a capture,
 * skipping non-netlink records and other protocols. Throws PcapError like
 * {@link readCapture} and {@link netlinkPayload}, after yielding the datagrams before the fault.
 *
 * One datagram per step; {@link readNetlinkDatagramBatches} is the faster way to stream a
 * large file.
 */
export function readNetlinkDatagrams(
  source: CaptureSource,
  opts: ReadNetlinkOptions = {},
): AsyncGenerator<NetlinkDatagramRecord, void, undefined> {
  return flattenBatches(readNetlinkDatagramBatches(source, opts));
}

/**
 * Streams the netlink datagrams of one protocol (default NETLINK_NETFILTER) like
 * {@link readNetlinkDatagrams}, a batch at a time: every input chunk (64 KiB read from a
 * path, or one chunk of a stream) gives one array of the datagrams completed by that chunk,
 * in file order; a batch is never empty. The records are those readNetlinkDatagrams yields
 * (`data` a view into the input chunk, `timestampNs` computed when read); the arrays are the
 * caller's to keep.
 *
 * On a malformed capture or frame the datagrams before the fault are yielded first (as a
 * last, possibly short batch), then the PcapError is thrown; file system errors pass through.
 */
export async function* readNetlinkDatagramBatches(
  source: CaptureSource,
  opts: ReadNetlinkOptions = {},
): AsyncGenerator<NetlinkDatagramRecord[], void, undefined> {
  const wanted = opts.protocol ?? DEFAULT_PROTOCOL;
  const parser = new CaptureParser();
  for await (const chunk of captureChunks(source)) {
    parser.push(chunk);
    const batch: NetlinkDatagramRecord[] = [];
    try {
      fillDatagramBatch(parser, wanted, batch);
    } catch (e) {
      if (batch.length > 0) yield batch;
      throw e;
    }
    if (batch.length > 0) yield batch;
  }
  parser.end();
}

/** Appends the datagrams of `wanted` the parser can complete to `batch` (a plain function: optimisable). */
function fillDatagramBatch(parser: CaptureParser, wanted: number, batch: NetlinkDatagramRecord[]): void {
  for (let r = parser.advance(); r !== undefined; r = parser.advance()) {
    const protocol = netlinkProtocol(r.linktype, r.buf, r.start, r.length, r.fileOffset, r.index);
    if (protocol < 0 || protocol !== wanted) continue;
    const skip = cookedHeaderLength(r.linktype);
    const data = viewAt(r.buf, r.start + skip, r.length - skip);
    batch.push(new DatagramRecord(r.index, r.fileOffset, protocol, data, r.tsHigh, r.tsLow, r.clock));
  }
}
