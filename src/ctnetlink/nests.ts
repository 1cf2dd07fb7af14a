/**
 * The small nests of a conntrack message, each a decode/encode pair:
 *
 *   CTA_PROTOINFO > CTA_PROTOINFO_TCP   STATE u8, WSCALE_ORIGINAL u8, WSCALE_REPLY u8,
 *                                       FLAGS_ORIGINAL / FLAGS_REPLY {u8 flags, u8 mask}
 *                 > CTA_PROTOINFO_SCTP  STATE u8, VTAG_ORIGINAL u32 BE, VTAG_REPLY u32 BE
 *                 > CTA_PROTOINFO_DCCP  STATE u8, ROLE u8, HANDSHAKE_SEQ u64 BE, PAD
 *   CTA_COUNTERS_ORIG/REPLY             PACKETS u64 BE, BYTES u64 BE, PAD
 *   CTA_TIMESTAMP                       START u64 BE, STOP u64 BE, PAD  (ns since epoch)
 *   CTA_SEQ_ADJ_ORIG/REPLY              CORRECTION_POS, OFFSET_BEFORE, OFFSET_AFTER (u32 BE)
 *   CTA_SYNPROXY                        ISN, ITS, TSOFF (u32 BE)
 *   CTA_HELP                            NAME (NUL string), INFO (binary)
 *   CTA_NAT_SRC/DST (requests)          V4/V6 MINIP, MAXIP; PROTO > PORT_MIN, PORT_MAX u16 BE
 *   CTA_FILTER (requests)               ORIG_FLAGS, REPLY_FLAGS: u32 HOST order
 *
 * Zero-length *_PAD attributes (64-bit alignment on some architectures) are skipped.
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import type { Builder } from '../netlink/builder.js';
import { NetlinkDecodeError, rethrowIn } from '../netlink/errors.js';
import {
  type Reader,
  attrLen,
  attrType,
  getBytes,
  getStringz,
  getU16be,
  getU32be,
  getU32host,
  getU64be,
  getU8,
  nextAttr,
} from '../netlink/reader.js';
import { addressBytes, formatIpv4, formatIpv6 } from './address.js';
import * as C from './constants.js';
import type {
  Counters,
  DccpInfo,
  Helper,
  NatRange,
  ProtoInfo,
  SctpInfo,
  SeqAdj,
  Synproxy,
  TcpFlags,
  TcpInfo,
  Timestamps,
  TupleFilter,
} from './model.js';

function tcpFlags(r: Reader, p: number, n: number, name: string): TcpFlags {
  if (n !== 2) throw new NetlinkDecodeError(`expected 2-byte payload, got ${n} bytes`, p - NLA_HDRLEN, [name]);
  return { flags: r.bytes[p]!, mask: r.bytes[p + 1]! };
}

function decodeTcp(r: Reader, start: number, end: number): TcpInfo {
  const t: TcpInfo = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_PROTOINFO_TCP_STATE: t.state = getU8(r, p, n, 'CTA_PROTOINFO_TCP_STATE'); break;
      case C.CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: t.wscaleOriginal = getU8(r, p, n, 'CTA_PROTOINFO_TCP_WSCALE_ORIGINAL'); break;
      case C.CTA_PROTOINFO_TCP_WSCALE_REPLY: t.wscaleReply = getU8(r, p, n, 'CTA_PROTOINFO_TCP_WSCALE_REPLY'); break;
      case C.CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: t.flagsOriginal = tcpFlags(r, p, n, 'CTA_PROTOINFO_TCP_FLAGS_ORIGINAL'); break;
      case C.CTA_PROTOINFO_TCP_FLAGS_REPLY: t.flagsReply = tcpFlags(r, p, n, 'CTA_PROTOINFO_TCP_FLAGS_REPLY'); break;
      default: t.unknown = keepUnknown(t.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return t;
}

function decodeSctp(r: Reader, start: number, end: number): SctpInfo {
  const s: SctpInfo = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_PROTOINFO_SCTP_STATE: s.state = getU8(r, p, n, 'CTA_PROTOINFO_SCTP_STATE'); break;
      case C.CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: s.vtagOriginal = getU32be(r, p, n, 'CTA_PROTOINFO_SCTP_VTAG_ORIGINAL'); break;
      case C.CTA_PROTOINFO_SCTP_VTAG_REPLY: s.vtagReply = getU32be(r, p, n, 'CTA_PROTOINFO_SCTP_VTAG_REPLY'); break;
      default: s.unknown = keepUnknown(s.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return s;
}

function decodeDccp(r: Reader, start: number, end: number): DccpInfo {
  const d: DccpInfo = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_PROTOINFO_DCCP_STATE: d.state = getU8(r, p, n, 'CTA_PROTOINFO_DCCP_STATE'); break;
      case C.CTA_PROTOINFO_DCCP_ROLE: d.role = getU8(r, p, n, 'CTA_PROTOINFO_DCCP_ROLE'); break;
      case C.CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ: d.handshakeSeq = getU64be(r, p, n, 'CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ'); break;
      case C.CTA_PROTOINFO_DCCP_PAD: if (n !== 0) d.unknown = keepUnknown(d.unknown, r, off, len); break;
      default: d.unknown = keepUnknown(d.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return d;
}

export function decodeProtoInfo(r: Reader, start: number, end: number): ProtoInfo {
  const pi: ProtoInfo = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    const type = attrType(r, off);
    try {
      switch (type) {
        case C.CTA_PROTOINFO_TCP: pi.tcp = decodeTcp(r, p, p + n); break;
        case C.CTA_PROTOINFO_SCTP: pi.sctp = decodeSctp(r, p, p + n); break;
        case C.CTA_PROTOINFO_DCCP: pi.dccp = decodeDccp(r, p, p + n); break;
        default: pi.unknown = keepUnknown(pi.unknown, r, off, len);
      }
    } catch (e) {
      rethrowIn(type === C.CTA_PROTOINFO_TCP ? 'CTA_PROTOINFO_TCP' : type === C.CTA_PROTOINFO_SCTP ? 'CTA_PROTOINFO_SCTP' : 'CTA_PROTOINFO_DCCP', e, off);
    }
    off = nextAttr(off, len, end);
  }
  return pi;
}

export function encodeProtoInfo(b: Builder, pi: ProtoInfo): void {
  const outer = b.nestStart(C.CTA_PROTOINFO);
  if (pi.tcp !== undefined) {
    const t = pi.tcp;
    const n = b.nestStart(C.CTA_PROTOINFO_TCP);
    if (t.state !== undefined) b.putU8(C.CTA_PROTOINFO_TCP_STATE, t.state);
    if (t.wscaleOriginal !== undefined) b.putU8(C.CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, t.wscaleOriginal);
    if (t.wscaleReply !== undefined) b.putU8(C.CTA_PROTOINFO_TCP_WSCALE_REPLY, t.wscaleReply);
    if (t.flagsOriginal !== undefined) b.putU8Pair(C.CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, t.flagsOriginal.flags, t.flagsOriginal.mask);
    if (t.flagsReply !== undefined) b.putU8Pair(C.CTA_PROTOINFO_TCP_FLAGS_REPLY, t.flagsReply.flags, t.flagsReply.mask);
    putUnknown(b, t.unknown);
    b.nestEnd(n);
  }
  if (pi.dccp !== undefined) {
    const d = pi.dccp;
    const n = b.nestStart(C.CTA_PROTOINFO_DCCP);
    if (d.state !== undefined) b.putU8(C.CTA_PROTOINFO_DCCP_STATE, d.state);
    if (d.role !== undefined) b.putU8(C.CTA_PROTOINFO_DCCP_ROLE, d.role);
    if (d.handshakeSeq !== undefined) b.putU64be(C.CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ, d.handshakeSeq);
    putUnknown(b, d.unknown);
    b.nestEnd(n);
  }
  if (pi.sctp !== undefined) {
    const s = pi.sctp;
    const n = b.nestStart(C.CTA_PROTOINFO_SCTP);
    if (s.state !== undefined) b.putU8(C.CTA_PROTOINFO_SCTP_STATE, s.state);
    if (s.vtagOriginal !== undefined) b.putU32be(C.CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, s.vtagOriginal);
    if (s.vtagReply !== undefined) b.putU32be(C.CTA_PROTOINFO_SCTP_VTAG_REPLY, s.vtagReply);
    putUnknown(b, s.unknown);
    b.nestEnd(n);
  }
  putUnknown(b, pi.unknown);
  b.nestEnd(outer);
}

export function decodeCounters(r: Reader, start: number, end: number): Counters {
  const c: Counters = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_COUNTERS_PACKETS: c.packets = getU64be(r, p, n, 'CTA_COUNTERS_PACKETS'); break;
      case C.CTA_COUNTERS_BYTES: c.bytes = getU64be(r, p, n, 'CTA_COUNTERS_BYTES'); break;
      case C.CTA_COUNTERS_PAD: if (n !== 0) c.unknown = keepUnknown(c.unknown, r, off, len); break;
      default: c.unknown = keepUnknown(c.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return c;
}

export function encodeCounters(b: Builder, type: number, c: Counters): void {
  const n = b.nestStart(type);
  if (c.packets !== undefined) b.putU64be(C.CTA_COUNTERS_PACKETS, c.packets);
  if (c.bytes !== undefined) b.putU64be(C.CTA_COUNTERS_BYTES, c.bytes);
  putUnknown(b, c.unknown);
  b.nestEnd(n);
}

export function decodeTimestamps(r: Reader, start: number, end: number): Timestamps {
  const t: Timestamps = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_TIMESTAMP_START: t.start = getU64be(r, p, n, 'CTA_TIMESTAMP_START'); break;
      case C.CTA_TIMESTAMP_STOP: t.stop = getU64be(r, p, n, 'CTA_TIMESTAMP_STOP'); break;
      case C.CTA_TIMESTAMP_PAD: if (n !== 0) t.unknown = keepUnknown(t.unknown, r, off, len); break;
      default: t.unknown = keepUnknown(t.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return t;
}

export function encodeTimestamps(b: Builder, t: Timestamps): void {
  const n = b.nestStart(C.CTA_TIMESTAMP);
  if (t.start !== undefined) b.putU64be(C.CTA_TIMESTAMP_START, t.start);
  if (t.stop !== undefined) b.putU64be(C.CTA_TIMESTAMP_STOP, t.stop);
  putUnknown(b, t.unknown);
  b.nestEnd(n);
}

export function decodeSeqAdj(r: Reader, start: number, end: number): SeqAdj {
  const s: SeqAdj = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_SEQADJ_CORRECTION_POS: s.correctionPos = getU32be(r, p, n, 'CTA_SEQADJ_CORRECTION_POS'); break;
      case C.CTA_SEQADJ_OFFSET_BEFORE: s.offsetBefore = getU32be(r, p, n, 'CTA_SEQADJ_OFFSET_BEFORE'); break;
      case C.CTA_SEQADJ_OFFSET_AFTER: s.offsetAfter = getU32be(r, p, n, 'CTA_SEQADJ_OFFSET_AFTER'); break;
      default: s.unknown = keepUnknown(s.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return s;
}

export function encodeSeqAdj(b: Builder, type: number, s: SeqAdj): void {
  const n = b.nestStart(type);
  if (s.correctionPos !== undefined) b.putU32be(C.CTA_SEQADJ_CORRECTION_POS, s.correctionPos);
  if (s.offsetBefore !== undefined) b.putU32be(C.CTA_SEQADJ_OFFSET_BEFORE, s.offsetBefore);
  if (s.offsetAfter !== undefined) b.putU32be(C.CTA_SEQADJ_OFFSET_AFTER, s.offsetAfter);
  putUnknown(b, s.unknown);
  b.nestEnd(n);
}

export function decodeSynproxy(r: Reader, start: number, end: number): Synproxy {
  const s: Synproxy = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_SYNPROXY_ISN: s.isn = getU32be(r, p, n, 'CTA_SYNPROXY_ISN'); break;
      case C.CTA_SYNPROXY_ITS: s.its = getU32be(r, p, n, 'CTA_SYNPROXY_ITS'); break;
      case C.CTA_SYNPROXY_TSOFF: s.tsoff = getU32be(r, p, n, 'CTA_SYNPROXY_TSOFF'); break;
      default: s.unknown = keepUnknown(s.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return s;
}

export function encodeSynproxy(b: Builder, s: Synproxy): void {
  const n = b.nestStart(C.CTA_SYNPROXY);
  if (s.isn !== undefined) b.putU32be(C.CTA_SYNPROXY_ISN, s.isn);
  if (s.its !== undefined) b.putU32be(C.CTA_SYNPROXY_ITS, s.its);
  if (s.tsoff !== undefined) b.putU32be(C.CTA_SYNPROXY_TSOFF, s.tsoff);
  putUnknown(b, s.unknown);
  b.nestEnd(n);
}

export function decodeHelper(r: Reader, start: number, end: number): Helper {
  const h: Helper = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_HELP_NAME: h.name = getStringz(r, p, n, 'CTA_HELP_NAME'); break;
      case C.CTA_HELP_INFO: h.info = getBytes(r, p, n); break;
      default: h.unknown = keepUnknown(h.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return h;
}

export function encodeHelper(b: Builder, h: Helper): void {
  const n = b.nestStart(C.CTA_HELP);
  if (h.name !== undefined) b.putStringz(C.CTA_HELP_NAME, h.name);
  if (h.info !== undefined) b.putAttr(C.CTA_HELP_INFO, h.info);
  putUnknown(b, h.unknown);
  b.nestEnd(n);
}

function natIp(r: Reader, p: number, n: number, want: number, name: string): string {
  if (n !== want) throw new NetlinkDecodeError(`expected ${want}-byte address, got ${n} bytes`, p - NLA_HDRLEN, [name]);
  return want === 4 ? formatIpv4(r.bytes, p) : formatIpv6(r.bytes, p);
}

export function decodeNat(r: Reader, start: number, end: number): NatRange {
  const nat: NatRange = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_NAT_V4_MINIP: nat.minIp = natIp(r, p, n, 4, 'CTA_NAT_V4_MINIP'); break;
      case C.CTA_NAT_V4_MAXIP: nat.maxIp = natIp(r, p, n, 4, 'CTA_NAT_V4_MAXIP'); break;
      case C.CTA_NAT_V6_MINIP: nat.minIp = natIp(r, p, n, 16, 'CTA_NAT_V6_MINIP'); break;
      case C.CTA_NAT_V6_MAXIP: nat.maxIp = natIp(r, p, n, 16, 'CTA_NAT_V6_MAXIP'); break;
      case C.CTA_NAT_PROTO:
        for (let o2 = p; o2 < p + n; ) {
          let l2 = 0;
          try {
            l2 = attrLen(r, o2, p + n);
            switch (attrType(r, o2)) {
              case C.CTA_PROTONAT_PORT_MIN: nat.minPort = getU16be(r, o2 + NLA_HDRLEN, l2 - NLA_HDRLEN, 'CTA_PROTONAT_PORT_MIN'); break;
              case C.CTA_PROTONAT_PORT_MAX: nat.maxPort = getU16be(r, o2 + NLA_HDRLEN, l2 - NLA_HDRLEN, 'CTA_PROTONAT_PORT_MAX'); break;
              default: nat.unknownProto = keepUnknown(nat.unknownProto, r, o2, l2);
            }
          } catch (e) {
            rethrowIn('CTA_NAT_PROTO', e, off);
          }
          o2 = nextAttr(o2, l2, p + n);
        }
        break;
      default: nat.unknown = keepUnknown(nat.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return nat;
}

export function encodeNat(b: Builder, type: number, nat: NatRange, path: string): void {
  const n = b.nestStart(type);
  if (nat.minIp !== undefined) {
    const a = addressBytes(nat.minIp, `${path} > minIp`);
    b.putAttr(a.length === 4 ? C.CTA_NAT_V4_MINIP : C.CTA_NAT_V6_MINIP, a);
  }
  if (nat.maxIp !== undefined) {
    const a = addressBytes(nat.maxIp, `${path} > maxIp`);
    b.putAttr(a.length === 4 ? C.CTA_NAT_V4_MAXIP : C.CTA_NAT_V6_MAXIP, a);
  }
  if (nat.minPort !== undefined || nat.maxPort !== undefined || nat.unknownProto !== undefined) {
    const p = b.nestStart(C.CTA_NAT_PROTO);
    if (nat.minPort !== undefined) b.putU16be(C.CTA_PROTONAT_PORT_MIN, nat.minPort);
    if (nat.maxPort !== undefined) b.putU16be(C.CTA_PROTONAT_PORT_MAX, nat.maxPort);
    putUnknown(b, nat.unknownProto);
    b.nestEnd(p);
  }
  putUnknown(b, nat.unknown);
  b.nestEnd(n);
}

export function decodeFilter(r: Reader, start: number, end: number): TupleFilter {
  const f: TupleFilter = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_FILTER_ORIG_FLAGS: f.origFlags = getU32host(r, p, n, 'CTA_FILTER_ORIG_FLAGS'); break;
      case C.CTA_FILTER_REPLY_FLAGS: f.replyFlags = getU32host(r, p, n, 'CTA_FILTER_REPLY_FLAGS'); break;
      default: f.unknown = keepUnknown(f.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return f;
}

export function encodeFilter(b: Builder, f: TupleFilter): void {
  const n = b.nestStart(C.CTA_FILTER);
  if (f.origFlags !== undefined) b.putU32host(C.CTA_FILTER_ORIG_FLAGS, f.origFlags);
  if (f.replyFlags !== undefined) b.putU32host(C.CTA_FILTER_REPLY_FLAGS, f.replyFlags);
  putUnknown(b, f.unknown);
  b.nestEnd(n);
}
