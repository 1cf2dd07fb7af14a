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
import { writeDeleteFields, type DeleteFields } from './delete-compact.js';

/** An IPv4 address in dotted quad as a number, or -1. */
function ipv4(s: string | undefined): number {
  if (s === undefined) return -1;
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

/** An IPv6 address into four big-endian words at addr[at..at+3]; false when it does not parse. */
function ipv6(s: string | undefined, addr: Uint32Array, at: number): boolean {
  if (s === undefined) return false;
  const a = parseIpv6(s);
  if (!a) return false;
  for (let i = 0; i < 4; i++) addr[at + i] = ((a[i * 4]! << 24) | (a[i * 4 + 1]! << 16) | (a[i * 4 + 2]! << 8) | a[i * 4 + 3]!) >>> 0;
  return true;
}

/** Bytes a key needs at most (IPv6, ICMP, zone, id). */
export const MAX_DELETE_BYTES = 16 + 4 + 4 + 44 + 36 + 8 + 8;

const fields: DeleteFields & { addr: Uint32Array } = { family: 0, proto: 0, sport: 0, dport: 0, zone: 0, hasId: false, id: 0, addr: new Uint32Array(8), addrBase: 0, noZone: true };

/**
 * Write one delete message at `off`; returns its length, or -1 when this key needs the
 * general encoder. `b`/`v` must have MAX_DELETE_BYTES free at `off`.
 */
export function writeDelete(b: Uint8Array, v: DataView, off: number, key: EntryKey, seq: number, flags: number): number {
  const t = key.orig;
  if (!t || t.zone !== undefined || t.unknown || t.unknownIp || t.unknownProto || t.proto === undefined) return -1;
  const v6 = key.family === 10;
  if (!v6 && key.family !== 2) return -1;
  const f = fields;
  if (t.proto === 1 || t.proto === 58) {
    if (t.icmpId === undefined || t.icmpType === undefined || t.icmpCode === undefined) return -1;
    f.sport = t.icmpId;
    f.dport = (t.icmpType << 8) | t.icmpCode;
  } else {
    if (t.srcPort === undefined || t.dstPort === undefined) return -1;
    f.sport = t.srcPort;
    f.dport = t.dstPort;
  }
  if (v6) {
    if (!ipv6(t.src, f.addr, 0) || !ipv6(t.dst, f.addr, 4)) return -1;
  } else {
    const src = ipv4(t.src);
    const dst = ipv4(t.dst);
    if (src < 0 || dst < 0) return -1;
    f.addr[0] = src;
    f.addr[4] = dst;
  }
  f.family = key.family;
  f.proto = t.proto;
  f.noZone = key.zone === undefined;
  f.zone = key.zone ?? 0;
  f.hasId = key.id !== undefined;
  f.id = key.id ?? 0;
  return writeDeleteFields(b, v, off, f, seq, flags);
}
