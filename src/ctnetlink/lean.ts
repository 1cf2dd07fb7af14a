/**
 * A lean decoder for the CLI's print path (issue 14): one conntrack event or dump entry,
 * straight from the datagram bytes into one reused scratch record (LeanConntrack) that
 * holds what the json and conntrack line writers print. No Message, Conntrack or Tuple
 * objects, no strings: addresses stay offsets into the datagram, 64-bit values are read
 * when printed.
 *
 *   nlmsghdr (16, host order) | nfgenmsg (4: family, version, res_id BE) | attributes
 *   CTA_TUPLE_ORIG / CTA_TUPLE_REPLY
 *       > CTA_TUPLE_IP    > CTA_IP_V4_SRC/DST (4) | CTA_IP_V6_SRC/DST (16)
 *       > CTA_TUPLE_PROTO > CTA_PROTO_NUM (u8), CTA_PROTO_SRC_PORT/DST_PORT (u16 BE)
 *   CTA_STATUS, CTA_TIMEOUT, CTA_MARK, CTA_ID, CTA_USE, CTA_SECMARK (u32 BE), CTA_ZONE (u16 BE)
 *   CTA_PROTOINFO > CTA_PROTOINFO_TCP > STATE, WSCALE_ORIGINAL/REPLY (u8),
 *                                       FLAGS_ORIGINAL/REPLY (u8 flags, u8 mask)
 *   CTA_COUNTERS_ORIG/REPLY > CTA_COUNTERS_PACKETS/BYTES (u64 BE), CTA_COUNTERS_PAD (empty)
 *   CTA_TIMESTAMP > CTA_TIMESTAMP_START/STOP (u64 BE), CTA_TIMESTAMP_PAD (empty)
 *   CTA_TIMESTAMP_EVENT (u64 BE); a zero-length CTA_STATUS is its alignment pad (skipped)
 *
 * It understands exactly this shape: a ctnetlink IPCTNL_MSG_CT_NEW / CT_DELETE message that
 * is not a request, with both tuples complete (addresses, protocol, ports), each attribute
 * at most once with its exact length. Anything else (ICMP / GRE tuples, tuple zones,
 * labels, helpers, secctx, master tuples, seq adjust, synproxy, SCTP / DCCP protoinfo,
 * unknown attributes, bad lengths or framing, expectations, control messages) makes
 * decodeLeanAt return false and the caller decodes that message with the full decoder
 * (message.ts), which stays the reference: a unit test checks that the lines written from
 * this record equal the full path's on every capture and on the fuzz corpus.
 */
import { NLA_TYPE_MASK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_HDRLEN } from '../netlink/constants.js';
import type { Reader } from '../netlink/reader.js';
import { NFNL_SUBSYS_CTNETLINK } from '../nfnetlink/constants.js';
import * as C from './constants.js';

export const LEAN_ENTRY = 0;
export const LEAN_NEW = 1;
export const LEAN_UPDATE = 2;
export const LEAN_DESTROY = 3;

/** `has` bits: which attributes the message carried. */
export const L_STATUS = 1 << 0;
export const L_TIMEOUT = 1 << 1;
export const L_MARK = 1 << 2;
export const L_ID = 1 << 3;
export const L_USE = 1 << 4;
export const L_ZONE = 1 << 5;
export const L_SECMARK = 1 << 6;
export const L_CO = 1 << 7;
export const L_CO_PKTS = 1 << 8;
export const L_CO_BYTES = 1 << 9;
export const L_CR = 1 << 10;
export const L_CR_PKTS = 1 << 11;
export const L_CR_BYTES = 1 << 12;
export const L_TS = 1 << 13;
export const L_TS_START = 1 << 14;
export const L_TS_STOP = 1 << 15;
export const L_TS_EVENT = 1 << 16;
export const L_PROTOINFO = 1 << 17;
export const L_TCP_STATE = 1 << 18;
export const L_TCP_WS_ORIG = 1 << 19;
export const L_TCP_WS_REPLY = 1 << 20;
export const L_TCP_FLAGS_ORIG = 1 << 21;
export const L_TCP_FLAGS_REPLY = 1 << 22;
const L_ORIG = 1 << 23;
const L_REPLY = 1 << 24;

/** The scratch record (reused for every message: copy what you keep). */
export class LeanConntrack {
  /** The datagram the offsets below point into. */
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  /** nlmsghdr fields as the kernel sent them. */
  type = 0;
  flags = 0;
  seq = 0;
  pid = 0;
  /** LEAN_ENTRY (dump entry, GET reply) or LEAN_NEW / LEAN_UPDATE / LEAN_DESTROY (events). */
  event = LEAN_ENTRY;
  family = 0;
  has = 0;
  status = 0;
  timeout = 0;
  mark = 0;
  id = 0;
  use = 0;
  zone = 0;
  secmark = 0;
  /** The protocol number of both tuples (the decoder insists they agree). */
  proto = 0;
  /** Address length of each tuple: 4 or 16. */
  origLen = 0;
  replyLen = 0;
  /** Offsets of the address bytes in `bytes`. */
  origSrc = 0;
  origDst = 0;
  replySrc = 0;
  replyDst = 0;
  origSport = 0;
  origDport = 0;
  replySport = 0;
  replyDport = 0;
  /** Offsets of the 8-byte big-endian values in `bytes`. */
  coPkts = 0;
  coBytes = 0;
  crPkts = 0;
  crBytes = 0;
  tsStart = 0;
  tsStop = 0;
  tsEvent = 0;
  tcpState = 0;
  tcpWsOrig = 0;
  tcpWsReply = 0;
  tcpFlagsOrig = 0;
  tcpMaskOrig = 0;
  tcpFlagsReply = 0;
  tcpMaskReply = 0;
}

/** The 64-bit big-endian value at `p` as decimal text (a Number while exact, else a bigint). */
export function u64Text(v: DataView, p: number): string {
  const hi = v.getUint32(p, false);
  if (hi < 0x200000) return '' + (hi * 4294967296 + v.getUint32(p + 4, false));
  return v.getBigUint64(p, false).toString();
}

/** Attribute-walk state shared by the helpers (one module-level cursor: no allocation). */
let aLen = 0;
let aType = 0;

/** Read the attribute header at `off` bounded by `end` into aLen / aType; false when it does not frame. */
function attr(v: DataView, le: boolean, off: number, end: number): boolean {
  if (end - off < 4) return false;
  const len = v.getUint16(off, le);
  if (len < 4 || len > end - off) return false;
  aLen = len;
  aType = v.getUint16(off + 2, le) & NLA_TYPE_MASK;
  return true;
}

function next(off: number, len: number, end: number): number {
  const n = off + ((len + 3) & ~3);
  return n > end ? end : n;
}

/** One tuple nest; `reply` picks the fields. False unless it is exactly IP (src, dst) + PROTO (num, sports). */
function tuple(e: LeanConntrack, v: DataView, le: boolean, start: number, end: number, reply: boolean): boolean {
  let seen = 0;
  let alen = 0;
  let src = 0;
  let dst = 0;
  let proto = 0;
  let sport = 0;
  let dport = 0;
  // The kernel's own layout (ctnetlink_dump_tuples), checked header by header as
  // little-endian u32 words (length | type << 16, the type's flag bits masked off):
  //   IP { SRC, DST } (20 bytes for IPv4, 44 for IPv6) | PROTO { NUM, SRC_PORT, DST_PORT } (28)
  // What the loop below would find there; any other shape takes the loop.
  const ipLen = end - start - 28;
  if (le && (ipLen === 20 || ipLen === 44)) {
    const al = ipLen === 20 ? 4 : 16;
    const pp = start + ipLen;
    if (
      (v.getUint32(start, true) & 0x3fffffff) === (ipLen | (C.CTA_TUPLE_IP << 16)) &&
      (v.getUint32(start + 4, true) & 0x3fffffff) === ((al + 4) | ((al === 4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC) << 16)) &&
      (v.getUint32(start + 8 + al, true) & 0x3fffffff) === ((al + 4) | ((al === 4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST) << 16)) &&
      (v.getUint32(pp, true) & 0x3fffffff) === (28 | (C.CTA_TUPLE_PROTO << 16)) &&
      (v.getUint32(pp + 4, true) & 0x3fffffff) === (5 | (C.CTA_PROTO_NUM << 16)) &&
      (v.getUint32(pp + 12, true) & 0x3fffffff) === (6 | (C.CTA_PROTO_SRC_PORT << 16)) &&
      (v.getUint32(pp + 20, true) & 0x3fffffff) === (6 | (C.CTA_PROTO_DST_PORT << 16))
    ) {
      alen = al;
      src = start + 8;
      dst = start + 12 + al;
      proto = e.bytes[pp + 8]!;
      sport = v.getUint16(pp + 16, false);
      dport = v.getUint16(pp + 24, false);
      seen = 127;
    }
  }
  if (seen === 0) for (let off = start; off < end; ) {
    if (!attr(v, le, off, end)) return false;
    const len = aLen;
    const t = aType;
    const p = off + 4;
    const pe = off + len;
    if (t === C.CTA_TUPLE_IP) {
      if (seen & 1) return false;
      seen |= 1;
      for (let o = p; o < pe; ) {
        if (!attr(v, le, o, pe)) return false;
        const l = aLen;
        const n = l - 4;
        const at = aType;
        const want = at === C.CTA_IP_V4_SRC || at === C.CTA_IP_V4_DST ? 4 : at === C.CTA_IP_V6_SRC || at === C.CTA_IP_V6_DST ? 16 : 0;
        if (want === 0 || n !== want || (alen !== 0 && alen !== want)) return false;
        alen = want;
        if (at === C.CTA_IP_V4_SRC || at === C.CTA_IP_V6_SRC) {
          if (seen & 4) return false;
          seen |= 4;
          src = o + 4;
        } else {
          if (seen & 8) return false;
          seen |= 8;
          dst = o + 4;
        }
        o = next(o, l, pe);
      }
    } else if (t === C.CTA_TUPLE_PROTO) {
      if (seen & 2) return false;
      seen |= 2;
      for (let o = p; o < pe; ) {
        if (!attr(v, le, o, pe)) return false;
        const l = aLen;
        const n = l - 4;
        switch (aType) {
          case C.CTA_PROTO_NUM:
            if (n !== 1 || seen & 16) return false;
            seen |= 16;
            proto = e.bytes[o + 4]!;
            break;
          case C.CTA_PROTO_SRC_PORT:
            if (n !== 2 || seen & 32) return false;
            seen |= 32;
            sport = v.getUint16(o + 4, false);
            break;
          case C.CTA_PROTO_DST_PORT:
            if (n !== 2 || seen & 64) return false;
            seen |= 64;
            dport = v.getUint16(o + 4, false);
            break;
          default:
            return false;
        }
        o = next(o, l, pe);
      }
    } else {
      return false;
    }
    off = next(off, len, end);
  }
  if (seen !== 127) return false;
  if (reply) {
    if ((e.has & L_ORIG) !== 0 && proto !== e.proto) return false;
    e.replyLen = alen;
    e.replySrc = src;
    e.replyDst = dst;
    e.replySport = sport;
    e.replyDport = dport;
    e.has |= L_REPLY;
  } else {
    if ((e.has & L_REPLY) !== 0 && proto !== e.proto) return false;
    e.origLen = alen;
    e.origSrc = src;
    e.origDst = dst;
    e.origSport = sport;
    e.origDport = dport;
    e.has |= L_ORIG;
  }
  e.proto = proto;
  return true;
}

/** CTA_COUNTERS_* nest: packets and bytes (8 bytes each), empty pads. */
function counters(e: LeanConntrack, v: DataView, le: boolean, start: number, end: number, reply: boolean): boolean {
  const pk = reply ? L_CR_PKTS : L_CO_PKTS;
  const by = reply ? L_CR_BYTES : L_CO_BYTES;
  for (let off = start; off < end; ) {
    if (!attr(v, le, off, end)) return false;
    const l = aLen;
    const n = l - 4;
    const t = aType;
    if (t === C.CTA_COUNTERS_PACKETS) {
      if (n !== 8 || e.has & pk) return false;
      e.has |= pk;
      if (reply) e.crPkts = off + 4;
      else e.coPkts = off + 4;
    } else if (t === C.CTA_COUNTERS_BYTES) {
      if (n !== 8 || e.has & by) return false;
      e.has |= by;
      if (reply) e.crBytes = off + 4;
      else e.coBytes = off + 4;
    } else if (t !== C.CTA_COUNTERS_PAD || n !== 0) {
      return false;
    }
    off = next(off, l, end);
  }
  return true;
}

function timestamps(e: LeanConntrack, v: DataView, le: boolean, start: number, end: number): boolean {
  for (let off = start; off < end; ) {
    if (!attr(v, le, off, end)) return false;
    const l = aLen;
    const n = l - 4;
    const t = aType;
    if (t === C.CTA_TIMESTAMP_START) {
      if (n !== 8 || e.has & L_TS_START) return false;
      e.has |= L_TS_START;
      e.tsStart = off + 4;
    } else if (t === C.CTA_TIMESTAMP_STOP) {
      if (n !== 8 || e.has & L_TS_STOP) return false;
      e.has |= L_TS_STOP;
      e.tsStop = off + 4;
    } else if (t !== C.CTA_TIMESTAMP_PAD || n !== 0) {
      return false;
    }
    off = next(off, l, end);
  }
  return true;
}

/** CTA_PROTOINFO holding exactly one CTA_PROTOINFO_TCP of known members. */
function protoinfo(e: LeanConntrack, v: DataView, le: boolean, start: number, end: number): boolean {
  let tcp = false;
  const b = e.bytes;
  for (let off = start; off < end; ) {
    if (!attr(v, le, off, end)) return false;
    const len = aLen;
    if (aType !== C.CTA_PROTOINFO_TCP || tcp) return false;
    tcp = true;
    const pe = off + len;
    for (let o = off + 4; o < pe; ) {
      if (!attr(v, le, o, pe)) return false;
      const l = aLen;
      const n = l - 4;
      const p = o + 4;
      const at: number = aType;
      switch (at) {
        case C.CTA_PROTOINFO_TCP_STATE:
          if (n !== 1 || e.has & L_TCP_STATE) return false;
          e.has |= L_TCP_STATE;
          e.tcpState = b[p]!;
          break;
        case C.CTA_PROTOINFO_TCP_WSCALE_ORIGINAL:
          if (n !== 1 || e.has & L_TCP_WS_ORIG) return false;
          e.has |= L_TCP_WS_ORIG;
          e.tcpWsOrig = b[p]!;
          break;
        case C.CTA_PROTOINFO_TCP_WSCALE_REPLY:
          if (n !== 1 || e.has & L_TCP_WS_REPLY) return false;
          e.has |= L_TCP_WS_REPLY;
          e.tcpWsReply = b[p]!;
          break;
        case C.CTA_PROTOINFO_TCP_FLAGS_ORIGINAL:
          if (n !== 2 || e.has & L_TCP_FLAGS_ORIG) return false;
          e.has |= L_TCP_FLAGS_ORIG;
          e.tcpFlagsOrig = b[p]!;
          e.tcpMaskOrig = b[p + 1]!;
          break;
        case C.CTA_PROTOINFO_TCP_FLAGS_REPLY:
          if (n !== 2 || e.has & L_TCP_FLAGS_REPLY) return false;
          e.has |= L_TCP_FLAGS_REPLY;
          e.tcpFlagsReply = b[p]!;
          e.tcpMaskReply = b[p + 1]!;
          break;
        default:
          return false;
      }
      o = next(o, l, pe);
    }
    off = next(off, len, end);
  }
  return tcp;
}

/** Bit per top-level attribute type seen (types 1..27). */
let seenTop = 0;

function u32attr(e: LeanConntrack, n: number, bit: number): boolean {
  if (n !== 4 || e.has & bit) return false;
  e.has |= bit;
  return true;
}

/**
 * Decode the message at `off` (`len` bytes, framed by the caller) of the datagram `r`
 * into `e`. True when the message is a conntrack event or entry of the shape above; false
 * for anything else (decode it with the full decoder then; `e` is garbage).
 */
export function decodeLeanAt(r: Reader, off: number, len: number, e: LeanConntrack): boolean {
  const v = r.view;
  const le = r.le;
  if (len < NLMSG_HDRLEN + 4) return false;
  const type = v.getUint16(off + 4, le);
  if (type >> 8 !== NFNL_SUBSYS_CTNETLINK) return false;
  const msg = type & 0xff;
  if (msg !== C.IPCTNL_MSG_CT_NEW && msg !== C.IPCTNL_MSG_CT_DELETE) return false;
  const flags = v.getUint16(off + 6, le);
  if (flags & NLM_F_REQUEST) return false;
  const seq = v.getUint32(off + 8, le);
  e.bytes = r.bytes;
  e.view = v;
  e.type = type;
  e.flags = flags;
  e.seq = seq;
  e.pid = v.getUint32(off + 12, le);
  // ctnetlink/subsystem.ts: an event is a message that is neither a request nor part of a
  // dump and has sequence number 0.
  if ((flags & NLM_F_MULTI) === 0 && seq === 0) {
    e.event = msg === C.IPCTNL_MSG_CT_DELETE ? LEAN_DESTROY : flags & (NLM_F_CREATE | NLM_F_EXCL) ? LEAN_NEW : LEAN_UPDATE;
  } else {
    e.event = LEAN_ENTRY;
  }
  e.family = r.bytes[off + NLMSG_HDRLEN]!;
  e.has = 0;
  seenTop = 0;
  const end = off + len;
  for (let a = off + NLMSG_HDRLEN + 4; a < end; ) {
    if (!attr(v, le, a, end)) return false;
    const l = aLen;
    const t = aType;
    const p = a + 4;
    const n = l - 4;
    if (t === C.CTA_STATUS && n === 0) {
      a = next(a, l, end);
      continue;
    }
    if (t < 1 || t > 27 || seenTop & (1 << t)) return false;
    seenTop |= 1 << t;
    switch (t) {
      case C.CTA_TUPLE_ORIG: if (!tuple(e, v, le, p, a + l, false)) return false; break;
      case C.CTA_TUPLE_REPLY: if (!tuple(e, v, le, p, a + l, true)) return false; break;
      case C.CTA_STATUS: if (!u32attr(e, n, L_STATUS)) return false; e.status = v.getUint32(p, false); break;
      case C.CTA_TIMEOUT: if (!u32attr(e, n, L_TIMEOUT)) return false; e.timeout = v.getUint32(p, false); break;
      case C.CTA_MARK: if (!u32attr(e, n, L_MARK)) return false; e.mark = v.getUint32(p, false); break;
      case C.CTA_ID: if (!u32attr(e, n, L_ID)) return false; e.id = v.getUint32(p, false); break;
      case C.CTA_USE: if (!u32attr(e, n, L_USE)) return false; e.use = v.getUint32(p, false); break;
      case C.CTA_SECMARK: if (!u32attr(e, n, L_SECMARK)) return false; e.secmark = v.getUint32(p, false); break;
      case C.CTA_ZONE:
        if (n !== 2) return false;
        e.has |= L_ZONE;
        e.zone = v.getUint16(p, false);
        break;
      case C.CTA_PROTOINFO:
        e.has |= L_PROTOINFO;
        if (!protoinfo(e, v, le, p, a + l)) return false;
        break;
      case C.CTA_COUNTERS_ORIG:
        e.has |= L_CO;
        if (!counters(e, v, le, p, a + l, false)) return false;
        break;
      case C.CTA_COUNTERS_REPLY:
        e.has |= L_CR;
        if (!counters(e, v, le, p, a + l, true)) return false;
        break;
      case C.CTA_TIMESTAMP:
        e.has |= L_TS;
        if (!timestamps(e, v, le, p, a + l)) return false;
        break;
      case C.CTA_TIMESTAMP_EVENT:
        if (n !== 8) return false;
        e.has |= L_TS_EVENT;
        e.tsEvent = p;
        break;
      default:
        return false;
    }
    a = next(a, l, end);
  }
  return (e.has & (L_ORIG | L_REPLY)) === (L_ORIG | L_REPLY);
}
