/**
 * IPCTNL_MSG_CT_DELETE written straight from a lean-decoded entry (ctnetlink/compact.ts):
 * the guard's flood path turns dump entries and NEW events into delete messages with no
 * strings and no objects per entry. delete-encoder.ts (writeDelete, by EntryKey) writes
 * through writeDeleteFields too; the bytes equal the general encoder's (test/evict.test.ts,
 * test/guard.flood.test.ts):
 *
 *   nlmsghdr   len u32 | type u16 = 0x0102 (CTNETLINK << 8 | CT_DELETE) | flags u16 | seq u32 | pid u32 = 0
 *   nfgenmsg   family u8 | version u8 = 0 | res_id be16 = 0
 *   CTA_TUPLE_ORIG (1 | NLA_F_NESTED)
 *     CTA_TUPLE_IP (1 | NESTED)     CTA_IP_V4_SRC(1)/DST(2) 4 bytes, or CTA_IP_V6_SRC(3)/DST(4) 16 bytes
 *     CTA_TUPLE_PROTO (2 | NESTED)  CTA_PROTO_NUM(1) u8, then SRC_PORT(2)/DST_PORT(3) be16,
 *                                   or ICMP_ID(4)/TYPE(5)/CODE(6) (ICMPv6: 7/8/9)
 *   CTA_ZONE (18) be16             unless noZone (a lean-decoded entry: always, 0 = the default zone)
 *   CTA_ID (12) be32               when the entry had one (the kernel then deletes only that entry)
 *
 * The lean decoder keeps addresses as big-endian words (IPv4: word 0) and ICMP id in
 * `sport`, type << 8 | code in `dport`. Entries it cannot express (no original tuple, a
 * family other than IPv4/IPv6, a protocol without ports or ICMP fields) return -1: the
 * caller uses the general encoder. A tuple zone (CTA_TUPLE_ZONE) is not kept by the lean
 * decoder: such an entry's delete finds nothing (ENOENT, counted as missing).
 */
import { HAS_ID, HAS_ORIG, type CompactEntry } from '../ctnetlink/compact.js';

const NESTED = 0x8000;
const TYPE = (1 << 8) | 2;
const NLM_F_REQUEST = 1;

function attr(v: DataView, off: number, len: number, type: number): void {
  v.setUint16(off, len, true);
  v.setUint16(off + 2, type, true);
}

/** TCP, UDP, UDPLITE, SCTP, DCCP: tuples with source and destination ports. */
function ported(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33;
}

/** The fields writeDeleteFields needs, as a flat record (a NEW-event ring keeps these). */
export interface DeleteFields {
  family: number;
  proto: number;
  sport: number;
  dport: number;
  zone: number;
  /** Include CTA_ID. */
  hasId: boolean;
  id: number;
  /** src words 0-3, dst words 4-7 (big-endian words; IPv4 in word 0 and 4). */
  addr: ArrayLike<number>;
  /** Where in `addr` the 8 words start. */
  addrBase: number;
  /** Leave CTA_ZONE out (a key without a zone, as deleteRequest writes it); default: written. */
  noZone?: boolean;
}

/**
 * Write one delete at `off` from the fields; returns its length or -1 (see the header).
 * `b`/`v` must have 116 bytes free at `off` (MAX_DELETE_BYTES of delete-encoder.ts).
 */
export function writeDeleteFields(b: Uint8Array, v: DataView, off: number, f: DeleteFields, seq: number, flags: number): number {
  const v6 = f.family === 10;
  if (!v6 && f.family !== 2) return -1;
  const p = f.proto;
  const icmp = p === 1 || p === 58;
  if (!icmp && !ported(p)) return -1;
  const a = f.addr;
  const ab = f.addrBase;
  let o = off + 20;
  const tupleStart = o;
  o += 4;
  const ipLen = v6 ? 44 : 20;
  attr(v, o, ipLen, 1 | NESTED);
  if (v6) {
    attr(v, o + 4, 20, 3);
    for (let i = 0; i < 4; i++) v.setUint32(o + 8 + i * 4, a[ab + i]!, false);
    attr(v, o + 24, 20, 4);
    for (let i = 0; i < 4; i++) v.setUint32(o + 28 + i * 4, a[ab + 4 + i]!, false);
  } else {
    attr(v, o + 4, 8, 1);
    v.setUint32(o + 8, a[ab]!, false);
    attr(v, o + 12, 8, 2);
    v.setUint32(o + 16, a[ab + 4]!, false);
  }
  o += ipLen;
  const protoLen = icmp ? 36 : 28;
  attr(v, o, protoLen, 2 | NESTED);
  attr(v, o + 4, 5, 1);
  v.setUint32(o + 8, 0);
  b[o + 8] = p;
  if (icmp) {
    const base = p === 58 ? 7 : 4;
    attr(v, o + 12, 6, base);
    v.setUint32(o + 16, 0);
    v.setUint16(o + 16, f.sport, false);
    attr(v, o + 20, 5, base + 1);
    v.setUint32(o + 24, 0);
    b[o + 24] = f.dport >>> 8;
    attr(v, o + 28, 5, base + 2);
    v.setUint32(o + 32, 0);
    b[o + 32] = f.dport & 0xff;
  } else {
    attr(v, o + 12, 6, 2);
    v.setUint32(o + 16, 0);
    v.setUint16(o + 16, f.sport, false);
    attr(v, o + 20, 6, 3);
    v.setUint32(o + 24, 0);
    v.setUint16(o + 24, f.dport, false);
  }
  o += protoLen;
  attr(v, tupleStart, o - tupleStart, 1 | NESTED);
  if (!f.noZone) {
    attr(v, o, 6, 18);
    v.setUint32(o + 4, 0);
    v.setUint16(o + 4, f.zone, false);
    o += 8;
  }
  if (f.hasId) {
    attr(v, o, 8, 12);
    v.setUint32(o + 4, f.id >>> 0, false);
    o += 8;
  }
  const len = o - off;
  v.setUint32(off, len, true);
  v.setUint16(off + 4, TYPE, true);
  v.setUint16(off + 6, NLM_F_REQUEST | flags, true);
  v.setUint32(off + 8, seq, true);
  v.setUint32(off + 12, 0, true);
  b[off + 16] = f.family;
  b[off + 17] = 0;
  v.setUint16(off + 18, 0);
  return len;
}

const scratch: DeleteFields = { family: 0, proto: 0, sport: 0, dport: 0, zone: 0, hasId: false, id: 0, addr: new Uint32Array(8), addrBase: 0 };

/** Write one delete for a lean-decoded entry; returns its length or -1 (see the header). */
export function writeDeleteCompact(b: Uint8Array, v: DataView, off: number, e: CompactEntry, seq: number, flags: number): number {
  if (!(e.has & HAS_ORIG)) return -1;
  const s = scratch;
  s.family = e.family;
  s.proto = e.proto;
  s.sport = e.sport;
  s.dport = e.dport;
  s.zone = e.zone;
  s.hasId = (e.has & HAS_ID) !== 0;
  s.id = e.id;
  s.addr = e.addr;
  s.addrBase = 0;
  return writeDeleteFields(b, v, off, s, seq, flags);
}
