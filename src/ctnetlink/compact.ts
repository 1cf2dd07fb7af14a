/**
 * A lean decoder for the table mirror: reads only the attributes a mirror row keeps,
 * straight from the datagram bytes, into one reused scratch object. No strings, no
 * objects per message, no copies. The full decoder (message.ts) stays the reference; a
 * unit test checks this one against it on every recorded capture and the kernel corpus.
 *
 *   nlmsghdr (16, host order) | nfgenmsg (4: family, version, res_id BE) | attributes
 *   CTA_TUPLE_ORIG  > CTA_TUPLE_IP    > CTA_IP_V4_SRC/DST (4) | CTA_IP_V6_SRC/DST (16)
 *                   > CTA_TUPLE_PROTO > CTA_PROTO_NUM (u8), CTA_PROTO_SRC_PORT/DST_PORT (u16 BE)
 *                                       CTA_PROTO_ICMP(V6)_ID (u16 BE), _TYPE (u8), _CODE (u8)
 *   CTA_STATUS (u32 BE), CTA_TIMEOUT (u32 BE), CTA_MARK (u32 BE), CTA_ID (u32 BE),
 *   CTA_ZONE (u16 BE), CTA_PROTOINFO > CTA_PROTOINFO_TCP > CTA_PROTOINFO_TCP_STATE (u8)
 *
 * Addresses are kept as big-endian 32-bit words: an IPv4 address is word 0 (words 1-3
 * zero), an IPv6 address words 0-3. ICMP tuples put the id in `sport` and
 * (type << 8 | code) in `dport`, which is how the kernel's tuple keys them too.
 * Malformed framing throws NetlinkDecodeError (with the offset) like the full decoder;
 * attributes of unexpected length are ignored (the full decoder reports those).
 */
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, HOST_LITTLE_ENDIAN } from '../netlink/constants.js';
import { messageLen, nextMessage } from '../netlink/message.js';
import { Reader, attrLen, attrType, nextAttr } from '../netlink/reader.js';
import { NFNL_SUBSYS_CTNETLINK } from '../nfnetlink/constants.js';
import * as C from './constants.js';

export const COMPACT_OTHER = 0;
export const COMPACT_CONNTRACK = 1;
export const COMPACT_DONE = 2;
export const COMPACT_ERROR = 3;

export const EV_NONE = 0;
export const EV_NEW = 1;
export const EV_UPDATE = 2;
export const EV_DESTROY = 3;

export const HAS_STATUS = 1;
export const HAS_TIMEOUT = 2;
export const HAS_MARK = 4;
export const HAS_ID = 8;
export const HAS_TCP_STATE = 16;
export const HAS_ZONE = 32;
export const HAS_ORIG = 64;

/** The scratch record one message is decoded into (reused: copy what you keep). */
export class CompactEntry {
  /** COMPACT_* */
  kind = COMPACT_OTHER;
  /** EV_*: events only; dump entries and GET replies are EV_NONE. */
  event = EV_NONE;
  seq = 0;
  /** For COMPACT_DONE / COMPACT_ERROR: the (negative) errno, 0 for success. */
  error = 0;
  family = 0;
  proto = 0;
  sport = 0;
  dport = 0;
  zone = 0;
  status = 0;
  timeout = 0;
  mark = 0;
  id = 0;
  tcpState = 0;
  /** HAS_* bits: which attributes were present. */
  has = 0;
  /** src words 0-3, dst words 4-7 (big-endian words). */
  readonly addr = new Uint32Array(8);
}

function tupleIp(r: Reader, start: number, end: number, e: CompactEntry): void {
  const v = r.view;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const t = attrType(r, off);
    const p = off + 4;
    const n = len - 4;
    if ((t === C.CTA_IP_V4_SRC || t === C.CTA_IP_V4_DST) && n === 4) {
      const base = t === C.CTA_IP_V4_SRC ? 0 : 4;
      e.addr[base] = v.getUint32(p, false);
    } else if ((t === C.CTA_IP_V6_SRC || t === C.CTA_IP_V6_DST) && n === 16) {
      const base = t === C.CTA_IP_V6_SRC ? 0 : 4;
      e.addr[base] = v.getUint32(p, false);
      e.addr[base + 1] = v.getUint32(p + 4, false);
      e.addr[base + 2] = v.getUint32(p + 8, false);
      e.addr[base + 3] = v.getUint32(p + 12, false);
    }
    off = nextAttr(off, len, end);
  }
}

function tupleProto(r: Reader, start: number, end: number, e: CompactEntry): void {
  const v = r.view;
  const b = r.bytes;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const t = attrType(r, off);
    const p = off + 4;
    const n = len - 4;
    switch (t) {
      case C.CTA_PROTO_NUM: if (n === 1) e.proto = b[p]!; break;
      case C.CTA_PROTO_SRC_PORT: if (n === 2) e.sport = v.getUint16(p, false); break;
      case C.CTA_PROTO_DST_PORT: if (n === 2) e.dport = v.getUint16(p, false); break;
      case C.CTA_PROTO_ICMP_ID: case C.CTA_PROTO_ICMPV6_ID: if (n === 2) e.sport = v.getUint16(p, false); break;
      case C.CTA_PROTO_ICMP_TYPE: case C.CTA_PROTO_ICMPV6_TYPE: if (n === 1) e.dport = (b[p]! << 8) | (e.dport & 0xff); break;
      case C.CTA_PROTO_ICMP_CODE: case C.CTA_PROTO_ICMPV6_CODE: if (n === 1) e.dport = (e.dport & 0xff00) | b[p]!; break;
    }
    off = nextAttr(off, len, end);
  }
}

function tuple(r: Reader, start: number, end: number, e: CompactEntry): void {
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const t = attrType(r, off);
    if (t === C.CTA_TUPLE_IP) tupleIp(r, off + 4, off + len, e);
    else if (t === C.CTA_TUPLE_PROTO) tupleProto(r, off + 4, off + len, e);
    off = nextAttr(off, len, end);
  }
}

function protoinfo(r: Reader, start: number, end: number, e: CompactEntry): void {
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    if (attrType(r, off) === C.CTA_PROTOINFO_TCP) {
      const s = off + 4;
      const te = off + len;
      for (let o = s; o < te; ) {
        const l = attrLen(r, o, te);
        if (attrType(r, o) === C.CTA_PROTOINFO_TCP_STATE && l === 5) {
          e.tcpState = r.bytes[o + 4]!;
          e.has |= HAS_TCP_STATE;
        }
        o = nextAttr(o, l, te);
      }
    }
    off = nextAttr(off, len, end);
  }
}

/**
 * Decode the message at `off` (length `len`, already validated) into `e`. Returns e.kind.
 */
export function decodeCompactAt(r: Reader, off: number, len: number, e: CompactEntry): number {
  const v = r.view;
  const type = v.getUint16(off + 4, r.le);
  const flags = v.getUint16(off + 6, r.le);
  const seq = v.getUint32(off + 8, r.le);
  e.seq = seq;
  e.has = 0;
  e.event = EV_NONE;
  const end = off + len;
  if (type === NLMSG_DONE || type === NLMSG_ERROR) {
    e.kind = type === NLMSG_DONE ? COMPACT_DONE : COMPACT_ERROR;
    e.error = len >= NLMSG_HDRLEN + 4 ? v.getInt32(off + NLMSG_HDRLEN, r.le) : 0;
    return e.kind;
  }
  const msg = type & 0xff;
  if (type >> 8 !== NFNL_SUBSYS_CTNETLINK || (msg !== C.IPCTNL_MSG_CT_NEW && msg !== C.IPCTNL_MSG_CT_DELETE) || len < NLMSG_HDRLEN + 4) {
    e.kind = COMPACT_OTHER;
    return e.kind;
  }
  e.kind = COMPACT_CONNTRACK;
  if ((flags & (NLM_F_REQUEST | NLM_F_MULTI)) === 0 && seq === 0) {
    e.event = msg === C.IPCTNL_MSG_CT_DELETE ? EV_DESTROY : flags & (NLM_F_CREATE | NLM_F_EXCL) ? EV_NEW : EV_UPDATE;
  }
  e.family = r.bytes[off + NLMSG_HDRLEN]!;
  e.proto = e.sport = e.dport = e.zone = e.status = e.timeout = e.mark = e.id = e.tcpState = 0;
  e.addr.fill(0);
  for (let a = off + NLMSG_HDRLEN + 4; a < end; ) {
    const l = attrLen(r, a, end);
    const t = attrType(r, a);
    const p = a + 4;
    const n = l - 4;
    switch (t) {
      case C.CTA_TUPLE_ORIG: tuple(r, p, a + l, e); e.has |= HAS_ORIG; break;
      case C.CTA_STATUS: if (n === 4) { e.status = v.getUint32(p, false); e.has |= HAS_STATUS; } break;
      case C.CTA_TIMEOUT: if (n === 4) { e.timeout = v.getUint32(p, false); e.has |= HAS_TIMEOUT; } break;
      case C.CTA_MARK: if (n === 4) { e.mark = v.getUint32(p, false); e.has |= HAS_MARK; } break;
      case C.CTA_ID: if (n === 4) { e.id = v.getUint32(p, false); e.has |= HAS_ID; } break;
      case C.CTA_ZONE: if (n === 2) { e.zone = v.getUint16(p, false); e.has |= HAS_ZONE; } break;
      case C.CTA_PROTOINFO: protoinfo(r, p, a + l, e); break;
    }
    a = nextAttr(a, l, end);
  }
  return e.kind;
}

/**
 * Decode every message of a datagram into `e`, calling `sink(e)` after each. Framing
 * errors throw NetlinkDecodeError; messages before the bad one have been delivered.
 */
export function decodeCompactDatagram(bytes: Uint8Array, e: CompactEntry, sink: (e: CompactEntry) => void, le = HOST_LITTLE_ENDIAN): void {
  const r = new Reader(bytes, le);
  const end = bytes.length;
  for (let off = 0; off < end; ) {
    const len = messageLen(r, off, end);
    decodeCompactAt(r, off, len, e);
    sink(e);
    off = nextMessage(off, len, end);
  }
}
