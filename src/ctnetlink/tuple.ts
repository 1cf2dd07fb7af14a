/**
 * Tuples (enum ctattr_tuple), used by CTA_TUPLE_ORIG / REPLY / MASTER and by
 * expectations (CTA_EXPECT_TUPLE / MASK / MASTER, CTA_EXPECT_NAT_TUPLE).
 *
 *   CTA_TUPLE_*  (nest)
 *     CTA_TUPLE_IP (nest)     CTA_IP_V4_SRC/DST: 4 bytes | CTA_IP_V6_SRC/DST: 16 bytes
 *     CTA_TUPLE_PROTO (nest)  CTA_PROTO_NUM u8, then SRC_PORT/DST_PORT u16 BE
 *                             or ICMP(V6)_ID u16 BE, _TYPE u8, _CODE u8
 *     CTA_TUPLE_ZONE          u16 BE (zone of this direction only)
 *
 * The kernel emits IP, PROTO, ZONE in this order and so does the encoder.
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import type { Builder } from '../netlink/builder.js';
import { rethrowIn } from '../netlink/errors.js';
import { type Reader, attrLen, attrType, getU16be, getU8, nextAttr } from '../netlink/reader.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { addressBytes, formatIpv4, formatIpv6 } from './address.js';
import {
  CTA_IP_V4_DST,
  CTA_IP_V4_SRC,
  CTA_IP_V6_DST,
  CTA_IP_V6_SRC,
  CTA_PROTO_DST_PORT,
  CTA_PROTO_ICMPV6_CODE,
  CTA_PROTO_ICMPV6_ID,
  CTA_PROTO_ICMPV6_TYPE,
  CTA_PROTO_ICMP_CODE,
  CTA_PROTO_ICMP_ID,
  CTA_PROTO_ICMP_TYPE,
  CTA_PROTO_NUM,
  CTA_PROTO_SRC_PORT,
  CTA_TUPLE_IP,
  CTA_TUPLE_PROTO,
  CTA_TUPLE_ZONE,
  IPPROTO_ICMPV6,
} from './constants.js';
import type { Tuple } from './model.js';

function ipAttr(r: Reader, p: number, n: number, want: number, name: string): string {
  if (n !== want) {
    throw new NetlinkDecodeError(`expected ${want}-byte address, got ${n} bytes`, p - NLA_HDRLEN, [name]);
  }
  return want === 4 ? formatIpv4(r.bytes, p) : formatIpv6(r.bytes, p);
}

function decodeIp(r: Reader, t: Tuple, start: number, end: number): void {
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case CTA_IP_V4_SRC: t.src = ipAttr(r, p, n, 4, 'CTA_IP_V4_SRC'); break;
      case CTA_IP_V4_DST: t.dst = ipAttr(r, p, n, 4, 'CTA_IP_V4_DST'); break;
      case CTA_IP_V6_SRC: t.src = ipAttr(r, p, n, 16, 'CTA_IP_V6_SRC'); break;
      case CTA_IP_V6_DST: t.dst = ipAttr(r, p, n, 16, 'CTA_IP_V6_DST'); break;
      default: t.unknownIp = keepUnknown(t.unknownIp, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
}

function decodeProto(r: Reader, t: Tuple, start: number, end: number): void {
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case CTA_PROTO_NUM: t.proto = getU8(r, p, n, 'CTA_PROTO_NUM'); break;
      case CTA_PROTO_SRC_PORT: t.srcPort = getU16be(r, p, n, 'CTA_PROTO_SRC_PORT'); break;
      case CTA_PROTO_DST_PORT: t.dstPort = getU16be(r, p, n, 'CTA_PROTO_DST_PORT'); break;
      case CTA_PROTO_ICMP_ID: t.icmpId = getU16be(r, p, n, 'CTA_PROTO_ICMP_ID'); break;
      case CTA_PROTO_ICMP_TYPE: t.icmpType = getU8(r, p, n, 'CTA_PROTO_ICMP_TYPE'); break;
      case CTA_PROTO_ICMP_CODE: t.icmpCode = getU8(r, p, n, 'CTA_PROTO_ICMP_CODE'); break;
      case CTA_PROTO_ICMPV6_ID: t.icmpId = getU16be(r, p, n, 'CTA_PROTO_ICMPV6_ID'); break;
      case CTA_PROTO_ICMPV6_TYPE: t.icmpType = getU8(r, p, n, 'CTA_PROTO_ICMPV6_TYPE'); break;
      case CTA_PROTO_ICMPV6_CODE: t.icmpCode = getU8(r, p, n, 'CTA_PROTO_ICMPV6_CODE'); break;
      default: t.unknownProto = keepUnknown(t.unknownProto, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
}

/** Decode the payload [start, end) of a tuple nest. */
export function decodeTuple(r: Reader, start: number, end: number): Tuple {
  const t: Tuple = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case CTA_TUPLE_IP:
        try {
          decodeIp(r, t, p, p + n);
        } catch (e) {
          rethrowIn('CTA_TUPLE_IP', e, off);
        }
        break;
      case CTA_TUPLE_PROTO:
        try {
          decodeProto(r, t, p, p + n);
        } catch (e) {
          rethrowIn('CTA_TUPLE_PROTO', e, off);
        }
        break;
      case CTA_TUPLE_ZONE: t.zone = getU16be(r, p, n, 'CTA_TUPLE_ZONE'); break;
      default: t.unknown = keepUnknown(t.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return t;
}

/** Encode a tuple as the nest `type` (e.g. CTA_TUPLE_ORIG). */
export function encodeTuple(b: Builder, type: number, t: Tuple, path: string): void {
  const outer = b.nestStart(type);
  if (t.src !== undefined || t.dst !== undefined || t.unknownIp !== undefined) {
    const ip = b.nestStart(CTA_TUPLE_IP);
    if (t.src !== undefined) {
      const a = addressBytes(t.src, `${path} > src`);
      b.putAttr(a.length === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, a);
    }
    if (t.dst !== undefined) {
      const a = addressBytes(t.dst, `${path} > dst`);
      b.putAttr(a.length === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, a);
    }
    putUnknown(b, t.unknownIp);
    b.nestEnd(ip);
  }
  const hasProto =
    t.proto !== undefined || t.srcPort !== undefined || t.dstPort !== undefined || t.icmpId !== undefined ||
    t.icmpType !== undefined || t.icmpCode !== undefined || t.unknownProto !== undefined;
  if (hasProto) {
    const pr = b.nestStart(CTA_TUPLE_PROTO);
    if (t.proto !== undefined) b.putU8(CTA_PROTO_NUM, t.proto);
    if (t.srcPort !== undefined) b.putU16be(CTA_PROTO_SRC_PORT, t.srcPort);
    if (t.dstPort !== undefined) b.putU16be(CTA_PROTO_DST_PORT, t.dstPort);
    const v6 = t.proto === IPPROTO_ICMPV6;
    if (t.icmpId !== undefined) b.putU16be(v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, t.icmpId);
    if (t.icmpType !== undefined) b.putU8(v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, t.icmpType);
    if (t.icmpCode !== undefined) b.putU8(v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, t.icmpCode);
    putUnknown(b, t.unknownProto);
    b.nestEnd(pr);
  }
  if (t.zone !== undefined) b.putU16be(CTA_TUPLE_ZONE, t.zone);
  putUnknown(b, t.unknown);
  b.nestEnd(outer);
}
