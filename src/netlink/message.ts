/**
 * Netlink messages and datagrams.
 *
 *   struct nlmsghdr (16 bytes, host order)
 *   +-----------+-----------+------------+-----------+-----------+
 *   | len (u32) | type (u16)| flags (u16)| seq (u32) | pid (u32) |  payload ... pad to 4
 *   +-----------+-----------+------------+-----------+-----------+
 *   len counts the header and the payload, not the trailing padding.
 *
 * A datagram holds one or more messages at align4(len) strides. Anything that does not
 * tile the datagram exactly (a length below 16, past the end, or 1-15 bytes left over)
 * is malformed and raises NetlinkDecodeError with the offset of the message.
 */
import { NLMSG_HDRLEN, align4 } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import type { Reader } from './reader.js';

/** The nlmsghdr fields a model keeps; `len` is derived on encode. */
export interface NlMsgHeader {
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** Offset and validated length of each message in [start, end) of the reader. */
export interface MessageSpan {
  offset: number;
  length: number;
}

/** Validate the message at `off` and return its nlmsg_len. */
export function messageLen(r: Reader, off: number, end: number): number {
  const left = end - off;
  if (left < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(`${left} trailing bytes, too short for a netlink message header`, off, ['nlmsghdr']);
  }
  const len = r.view.getUint32(off, r.le);
  if (len < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(`nlmsg_len ${len} is shorter than the 16-byte header`, off, ['nlmsghdr']);
  }
  if (len > left) {
    throw new NetlinkDecodeError(`nlmsg_len ${len} exceeds the ${left} bytes left in the datagram`, off, ['nlmsghdr']);
  }
  return len;
}

/** Offset of the next message; the last message's padding may be absent. */
export function nextMessage(off: number, len: number, end: number): number {
  const next = off + align4(len);
  return next > end ? end : next;
}

export function readHeader(r: Reader, off: number): NlMsgHeader {
  const v = r.view;
  return {
    type: v.getUint16(off + 4, r.le),
    flags: v.getUint16(off + 6, r.le),
    seq: v.getUint32(off + 8, r.le),
    pid: v.getUint32(off + 12, r.le),
  };
}

/** Split a datagram into message spans, validating the framing of every message first. */
export function splitMessages(r: Reader, start = 0, end = r.bytes.length): MessageSpan[] {
  const spans: MessageSpan[] = [];
  for (let off = start; off < end; ) {
    const len = messageLen(r, off, end);
    spans.push({ offset: off, length: len });
    off = nextMessage(off, len, end);
  }
  return spans;
}
