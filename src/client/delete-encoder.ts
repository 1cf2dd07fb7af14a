/**
 * A fast encoder for the one message eviction sends by the hundred thousand: a
 * IPCTNL_MSG_CT_DELETE by original tuple, written straight into a batch buffer
 * (host byte order for netlink headers, network byte order for values):
 *
 *   nlmsghdr   len u32 | type u16 = 0x0102 (CTNETLINK << 8 | CT_DELETE) | flags u16 | seq u32 | pid u32 = 0
 *   nfgenmsg   family u8 | version u8 = 0 | res_id be16 = 0
 *   CTA_TUPLE_ORIG (1 | NLA_F_NESTED)
 *     CTA_TUPLE_IP (1 | NESTED)     CTA_IP_V4_SRC(1)/DST(2) 4 bytes, or CTA_IP_V6_SRC(3)/DST(4) 16 bytes
 *     CTA_TUPLE_PROTO (2 | NESTED)  CTA_PROTO_NUM(1) u8, then SRC_PORT(2)/DST_PORT(3) be16,
 *                                   or ICMP_ID(4)/TYPE(5)/CODE(6) (ICMPv6: 7/8/9)
 *   CTA_ZONE (18) be16     when the key has a zone
 *   CTA_ID (12) be32       when the key has an id (the kernel then deletes only that entry)
 *
 * The same bytes encodeMessage(deleteRequest(key)) produces (checked in test/evict.test.ts);
 * keys it cannot write (tuple zones, protocols without ports or ICMP fields, unparsable
 * addresses) return -1 and the caller falls back to the general encoder.
 */
import { parseIpv6 } from '../ctnetlink/address.js';
import type { EntryKey } from '../ctnetlink/requests.js';

const NESTED = 0x8000;
const TYPE = (1 << 8) | 2;
const NLM_F_REQUEST = 1;

function ipv4(s: string | undefined, v: DataView, off: number): boolean {
  if (s === undefined) return false;
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return false;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return false;
  }
  if (dots !== 3 || digits === 0 || part > 255) return false;
  v.setUint32(off, n * 256 + part, false);
  return true;
}

function ipv6(s: string | undefined, b: Uint8Array, off: number): boolean {
  if (s === undefined) return false;
  const a = parseIpv6(s);
  if (!a) return false;
  b.set(a, off);
  return true;
}

function attr(v: DataView, off: number, len: number, type: number): void {
  v.setUint16(off, len, true);
  v.setUint16(off + 2, type, true);
}

/** Bytes a key needs at most (IPv6, ICMP, zone, id). */
export const MAX_DELETE_BYTES = 16 + 4 + 4 + 44 + 36 + 8 + 8;

/**
 * Write one delete message at `off`; returns its length, or -1 when this key needs the
 * general encoder. `b`/`v` must have MAX_DELETE_BYTES free at `off`.
 */
export function writeDelete(b: Uint8Array, v: DataView, off: number, key: EntryKey, seq: number, flags: number): number {
  const t = key.orig;
  if (!t || t.zone !== undefined || t.unknown || t.unknownIp || t.unknownProto || t.proto === undefined) return -1;
  const v6 = key.family === 10;
  if (!v6 && key.family !== 2) return -1;
  const icmp = t.proto === 1 || t.proto === 58;
  if (icmp) {
    if (t.icmpId === undefined || t.icmpType === undefined || t.icmpCode === undefined) return -1;
  } else if (t.srcPort === undefined || t.dstPort === undefined) return -1;
  let o = off + 20;
  const tupleStart = o;
  o += 4;
  // CTA_TUPLE_IP
  const ipLen = v6 ? 44 : 20;
  attr(v, o, ipLen, 1 | NESTED);
  if (v6) {
    attr(v, o + 4, 20, 3);
    if (!ipv6(t.src, b, o + 8)) return -1;
    attr(v, o + 24, 20, 4);
    if (!ipv6(t.dst, b, o + 28)) return -1;
  } else {
    attr(v, o + 4, 8, 1);
    if (!ipv4(t.src, v, o + 8)) return -1;
    attr(v, o + 12, 8, 2);
    if (!ipv4(t.dst, v, o + 16)) return -1;
  }
  o += ipLen;
  // CTA_TUPLE_PROTO
  const protoLen = icmp ? 36 : 28;
  attr(v, o, protoLen, 2 | NESTED);
  attr(v, o + 4, 5, 1);
  v.setUint32(o + 8, 0);
  b[o + 8] = t.proto;
  if (icmp) {
    const base = t.proto === 58 ? 7 : 4;
    attr(v, o + 12, 6, base);
    v.setUint32(o + 16, 0);
    v.setUint16(o + 16, t.icmpId!, false);
    attr(v, o + 20, 5, base + 1);
    v.setUint32(o + 24, 0);
    b[o + 24] = t.icmpType!;
    attr(v, o + 28, 5, base + 2);
    v.setUint32(o + 32, 0);
    b[o + 32] = t.icmpCode!;
  } else {
    attr(v, o + 12, 6, 2);
    v.setUint32(o + 16, 0);
    v.setUint16(o + 16, t.srcPort!, false);
    attr(v, o + 20, 6, 3);
    v.setUint32(o + 24, 0);
    v.setUint16(o + 24, t.dstPort!, false);
  }
  o += protoLen;
  attr(v, tupleStart, o - tupleStart, 1 | NESTED);
  if (key.zone !== undefined) {
    attr(v, o, 6, 18);
    v.setUint32(o + 4, 0);
    v.setUint16(o + 4, key.zone, false);
    o += 8;
  }
  if (key.id !== undefined) {
    attr(v, o, 8, 12);
    v.setUint32(o + 4, key.id >>> 0, false);
    o += 8;
  }
  const len = o - off;
  v.setUint32(off, len, true);
  v.setUint16(off + 4, TYPE, true);
  v.setUint16(off + 6, NLM_F_REQUEST | flags, true);
  v.setUint32(off + 8, seq, true);
  v.setUint32(off + 12, 0, true);
  b[off + 16] = key.family;
  b[off + 17] = 0;
  v.setUint16(off + 18, 0);
  return len;
}
