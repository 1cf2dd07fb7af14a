/**
 * How many bytes one record of a capture may hold, and so how much the reader may ever
 * buffer for it.
 *
 * tshark bounds a record of a netlink capture (LINKTYPE_NETLINK, and the cooked Linux
 * link types) at 262,144 bytes, libpcap's MAXIMUM_SNAPLEN: a kernel netlink datagram is
 * far smaller, so a longer length field is corruption or a hostile file. A file whose
 * snaplen announces more is believed up to that snaplen, never past MAX_RECORD_LENGTH
 * (256 MiB). A record over the bound is reported and skipped without being buffered.
 *
 *   classic pcap: incl_len                 <= recordBound(global snaplen)
 *   pcapng:       packet block_total_length <= recordBound(largest IDB snaplen) + PCAPNG_BLOCK_SLACK
 *                 SHB / IDB block_total_length <= PCAPNG_META_BOUND (else the framing is lost)
 */
import { MAX_RECORD_LENGTH } from './errors.js';

/** tshark's (and libpcap's) largest record of a netlink capture: 262,144 bytes. */
export const NETLINK_RECORD_BOUND = 262_144;

/** Room in a pcapng packet block for its header, padding and options, beyond the packet. */
export const PCAPNG_BLOCK_SLACK = 64 * 1024;

/** Largest SHB or IDB the reader buffers (they are decoded whole; real ones are tiny). */
export const PCAPNG_META_BOUND = 1024 * 1024;

/** The largest record accepted from a file (or interface) of this snaplen (0 = unspecified). */
export function recordBound(snaplen: number): number {
  return Math.min(MAX_RECORD_LENGTH, Math.max(NETLINK_RECORD_BOUND, snaplen));
}
