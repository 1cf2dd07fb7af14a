/**
 * Bounds-checked reading of netlink messages and attributes.
 *
 *   struct nlattr (4 bytes, host order)        payload
 *   +------------------+------------------+------------------------+-----+
 *   | nla_len (u16)    | nla_type (u16)   | nla_len - 4 bytes      | pad |
 *   +------------------+------------------+------------------------+-----+
 *   nla_type: bits 0-13 type, bit 14 NLA_F_NET_BYTEORDER, bit 15 NLA_F_NESTED.
 *   Attributes follow each other at align4(nla_len). The last one's padding may be
 *   missing; 1-3 bytes left over after it are malformed input.
 *
 * Decoders keep one Reader per buffer and walk attributes with this one loop (every nest
 * of ctnetlink and netlink/control.ts is written this way):
 *
 *   for (let off = start; off < end; ) {
 *     const len = attrLen(r, off, end);          // validated nla_len
 *     const p = off + NLA_HDRLEN;                // payload [p, p + n)
 *     const n = len - NLA_HDRLEN;
 *     switch (attrType(r, off)) { ... }
 *     off = nextAttr(off, len, end);
 *   }
 *
 * The loop stays written out (three inlined calls, state in locals) on purpose: an
 * iterator object (a cursor class with next(), allocated per nest or reused per loop
 * site) was measured 5-13% slower on `npm run bench -- decode` (see README, "How it is
 * built"), because V8 keeps its fields in memory once the large decoders exhaust the
 * inlining budget.
 *
 * Headers are read in the Reader's byte order (host order of the machine that produced
 * the bytes); ctnetlink payload integers are big-endian and read with the *be helpers.
 * Every step advances by at least 4 bytes, so walks always terminate.
 */
import { HOST_LITTLE_ENDIAN, NLA_HDRLEN, NLA_TYPE_MASK, align4 } from './constants.js';
import { NetlinkDecodeError } from './errors.js';

export class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Byte order of netlink and attribute headers (the producing host's). */
  readonly le: boolean;

  constructor(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = le;
  }
}

/** Validate the attribute header at `off` (which is < end) and return its nla_len. */
export function attrLen(r: Reader, off: number, end: number): number {
  if (end - off < NLA_HDRLEN) {
    throw new NetlinkDecodeError(`${end - off} trailing bytes, too short for an attribute header`, off);
  }
  const len = r.view.getUint16(off, r.le);
  if (len < NLA_HDRLEN) {
    throw new NetlinkDecodeError(`attribute length ${len} is shorter than its header`, off);
  }
  if (len > end - off) {
    const type = r.view.getUint16(off + 2, r.le) & NLA_TYPE_MASK;
    throw new NetlinkDecodeError(`attribute type ${type} length ${len} exceeds the ${end - off} bytes left`, off);
  }
  return len;
}

/** Attribute type with NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off. */
export function attrType(r: Reader, off: number): number {
  return r.view.getUint16(off + 2, r.le) & NLA_TYPE_MASK;
}

/** Raw nla_type including the flag bits. */
export function attrRawType(r: Reader, off: number): number {
  return r.view.getUint16(off + 2, r.le);
}

/** Offset of the next attribute; the last attribute's padding may be absent. */
export function nextAttr(off: number, len: number, end: number): number {
  const next = off + align4(len);
  return next > end ? end : next;
}

function badLength(name: string, off: number, want: string, got: number): NetlinkDecodeError {
  return new NetlinkDecodeError(`expected ${want} payload, got ${got} bytes`, off, [name]);
}

// Exact-length scalar readers. `p` is the payload offset, `n` its length, `name` the
// attribute's kernel name (only used when throwing).

export function getU8(r: Reader, p: number, n: number, name: string): number {
  if (n !== 1) throw badLength(name, p - NLA_HDRLEN, '1-byte', n);
  return r.bytes[p]!;
}

export function getU16be(r: Reader, p: number, n: number, name: string): number {
  if (n !== 2) throw badLength(name, p - NLA_HDRLEN, '2-byte', n);
  return r.view.getUint16(p, false);
}

export function getU32be(r: Reader, p: number, n: number, name: string): number {
  if (n !== 4) throw badLength(name, p - NLA_HDRLEN, '4-byte', n);
  return r.view.getUint32(p, false);
}

/** u32 in the producing host's order (e.g. CTA_FILTER_*_FLAGS, NLMSGERR_ATTR_OFFS). */
export function getU32host(r: Reader, p: number, n: number, name: string): number {
  if (n !== 4) throw badLength(name, p - NLA_HDRLEN, '4-byte', n);
  return r.view.getUint32(p, r.le);
}

export function getU64be(r: Reader, p: number, n: number, name: string): bigint {
  if (n !== 8) throw badLength(name, p - NLA_HDRLEN, '8-byte', n);
  return r.view.getBigUint64(p, false);
}

/**
 * Copy of the payload (never a view: decoded models must not pin receive buffers).
 * Built with the Uint8Array constructor because Buffer#slice, unlike Uint8Array#slice,
 * returns a view, and the bytes may come from a Buffer (files, streams).
 */
export function getBytes(r: Reader, p: number, n: number): Uint8Array {
  return new Uint8Array(r.bytes.subarray(p, p + n));
}

/**
 * NUL-terminated string. The kernel always terminates; a payload without NUL is taken
 * whole, bytes after the first NUL must be zero padding. Decoded as UTF-8 with the
 * string's exact bytes kept by the encoder (strings round-trip via TextEncoder).
 */
export function getStringz(r: Reader, p: number, n: number, name: string): string {
  if (n === 0) return '';
  let e = p;
  const end = p + n;
  while (e < end && r.bytes[e] !== 0) e++;
  if (e === end) {
    throw new NetlinkDecodeError('string is not NUL-terminated', p - NLA_HDRLEN, [name]);
  }
  if (e + 1 !== end) {
    // Bytes after the terminator would be lost on re-encode: treat as malformed.
    throw new NetlinkDecodeError(`${end - e - 1} bytes after the string terminator`, p - NLA_HDRLEN, [name]);
  }
  return utf8.decode(r.bytes.subarray(p, e));
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function getZeroLength(_r: Reader, p: number, n: number, name: string): void {
  if (n !== 0) throw badLength(name, p - NLA_HDRLEN, 'empty', n);
}
