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
import { readCapture, type CaptureRecord, type CaptureSource } from './reader.js';

/** DLT/LINKTYPE_NETLINK: nlmon capture, 16-byte cooked header then the datagram. */
export const LINKTYPE_NETLINK = 253;
/** LINKTYPE_LINUX_SLL: Linux cooked capture v1 (e.g. the "any" device). */
export const LINKTYPE_LINUX_SLL = 113;
/** LINKTYPE_LINUX_SLL2: Linux cooked capture v2. */
export const LINKTYPE_LINUX_SLL2 = 276;
/** ARPHRD_NETLINK: hardware type of an nlmon device (linux/if_arp.h). */
export const ARPHRD_NETLINK = 824;

/** Length of the SLL v1 cooked header (also used by LINKTYPE_NETLINK). */
export const SLL_HEADER_LENGTH = 16;
/** Length of the SLL v2 cooked header. */
export const SLL2_HEADER_LENGTH = 20;

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
  timestampNs: bigint;
}

/** Options of {@link readNetlinkDatagrams}. */
export interface ReadNetlinkOptions {
  /** Netlink protocol to keep; other protocols are skipped. Default 12 (NETLINK_NETFILTER). */
  protocol?: number;
}

function tooShort(rec: CaptureRecord, what: string, need: number): PcapError {
  return new PcapError(`${what} record of ${rec.data.byteLength} bytes, shorter than its ${need}-byte header`, rec.fileOffset, rec.index);
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
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (rec.linktype) {
    case LINKTYPE_NETLINK:
    case LINKTYPE_LINUX_SLL: {
      const name = rec.linktype === LINKTYPE_NETLINK ? 'LINKTYPE_NETLINK' : 'LINKTYPE_LINUX_SLL';
      if (bytes.byteLength < 4) throw tooShort(rec, name, SLL_HEADER_LENGTH);
      const hatype = dv.getUint16(2, false);
      if (hatype !== ARPHRD_NETLINK) {
        if (rec.linktype === LINKTYPE_LINUX_SLL) return undefined;
        throw new PcapError(`LINKTYPE_NETLINK record with hatype ${hatype}, want ${ARPHRD_NETLINK}`, rec.fileOffset, rec.index);
      }
      if (bytes.byteLength < SLL_HEADER_LENGTH) throw tooShort(rec, name, SLL_HEADER_LENGTH);
      return { protocol: dv.getUint16(14, false), data: bytes.subarray(SLL_HEADER_LENGTH) };
    }
    case LINKTYPE_LINUX_SLL2: {
      if (bytes.byteLength < 10) throw tooShort(rec, 'LINKTYPE_LINUX_SLL2', SLL2_HEADER_LENGTH);
      if (dv.getUint16(8, false) !== ARPHRD_NETLINK) return undefined;
      if (bytes.byteLength < SLL2_HEADER_LENGTH) throw tooShort(rec, 'LINKTYPE_LINUX_SLL2', SLL2_HEADER_LENGTH);
      return { protocol: dv.getUint16(0, false), data: bytes.subarray(SLL2_HEADER_LENGTH) };
    }
    default:
      return undefined;
  }
}

/**
 * Streams the netlink datagrams of one protocol (default NETLINK_NETFILTER) from a capture,
 * skipping non-netlink records and other protocols. Throws PcapError like
 * {@link readCapture} and {@link netlinkPayload}.
 */
export async function* readNetlinkDatagrams(
  source: CaptureSource,
  opts: ReadNetlinkOptions = {},
): AsyncGenerator<NetlinkDatagramRecord> {
  const wanted = opts.protocol ?? DEFAULT_PROTOCOL;
  for await (const rec of readCapture(source)) {
    const payload = netlinkPayload(rec);
    if (payload === undefined || payload.protocol !== wanted) continue;
    yield { index: rec.index, fileOffset: rec.fileOffset, timestampNs: rec.timestampNs, ...payload };
  }
}
