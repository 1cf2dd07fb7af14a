/**
 * Writing ASCII text as bytes straight into an output chunk (the lean print path,
 * lean-json-bytes.ts and lean-conntrack-bytes.ts). Every writer takes the chunk and the
 * position and returns the position after what it wrote; the caller guarantees the room.
 */
import { formatIpv6 } from '../ctnetlink/address.js';

export function enc(s: string): Uint8Array {
  const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

export function lit(b: Uint8Array, p: number, a: Uint8Array): number {
  const n = a.length;
  // One copy past 16 bytes (its fixed cost, ~17 ns here, is what a byte loop takes for
  // ~12 bytes: measured on Node 20), a byte loop below.
  if (n > 16) b.set(a, p);
  else for (let i = 0; i < n; i++) b[p + i] = a[i]!;
  return p + n;
}

/** An ASCII string. */
export function str(b: Uint8Array, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i);
  return p + n;
}

/** "00".."99": two digits per division (integer division by a constant is a multiply). */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[2 * i] = 48 + ((i / 10) | 0);
  PAIRS[2 * i + 1] = 48 + (i % 10);
}

/** The digits of `n` (0 <= n < 2^31) ending just before `end`, two at a time; returns where they start. */
function digitsBefore(b: Uint8Array, end: number, n: number): number {
  let i = end;
  n = n | 0;
  while (n >= 100) {
    const q = (n / 100) | 0;
    const r = (n - q * 100) << 1;
    b[--i] = PAIRS[r + 1]!;
    b[--i] = PAIRS[r]!;
    n = q;
  }
  if (n >= 10) {
    b[--i] = PAIRS[(n << 1) + 1]!;
    b[--i] = PAIRS[n << 1]!;
  } else {
    b[--i] = 48 + n;
  }
  return i;
}

/** A non-negative integer below 2^53, in decimal. */
export function dec(b: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    b[p] = 48 + n;
    return p + 1;
  }
  if (n > 0xffffffff) return str(b, p, '' + n);
  const len = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  const end = p + len;
  if (n < 0x80000000) {
    digitsBefore(b, end, n);
    return end;
  }
  let q2 = end;
  while (n >= 10) {
    const t = (n / 10) >>> 0;
    b[--q2] = 48 + n - t * 10;
    n = t;
  }
  b[--q2] = 48 + n;
  return end;
}

/** The 64-bit big-endian value at `o` of `v`. */
export function u64(b: Uint8Array, p: number, v: DataView, o: number): number {
  const hi = v.getUint32(o, false);
  if (hi < 0x200000) return dec(b, p, hi * 4294967296 + v.getUint32(o + 4, false));
  return str(b, p, v.getBigUint64(o, false).toString());
}

export function octet(b: Uint8Array, p: number, x: number): number {
  if (x >= 100) {
    const h = (x / 100) | 0;
    const r = x - h * 100;
    const t = (r / 10) | 0;
    b[p] = 48 + h;
    b[p + 1] = 48 + t;
    b[p + 2] = 48 + r - t * 10;
    return p + 3;
  }
  if (x >= 10) {
    const t = (x / 10) | 0;
    b[p] = 48 + t;
    b[p + 1] = 48 + x - t * 10;
    return p + 2;
  }
  b[p] = 48 + x;
  return p + 1;
}

/** An address as inet_ntop writes it (formatIpv4 / formatIpv6). */
export function addr(b: Uint8Array, p: number, src: Uint8Array, o: number, len: number): number {
  if (len !== 4) return str(b, p, formatIpv6(src, o));
  p = octet(b, p, src[o]!);
  b[p] = 46;
  p = octet(b, p + 1, src[o + 1]!);
  b[p] = 46;
  p = octet(b, p + 1, src[o + 2]!);
  b[p] = 46;
  return octet(b, p + 1, src[o + 3]!);
}

/** `n` (0 <= n < 10^width) in `width` digits, zero-padded. */
export function padded(b: Uint8Array, p: number, n: number, width: number): number {
  const end = p + width;
  if (n < 0x80000000) {
    for (let i = digitsBefore(b, end, n) - 1; i >= p; i--) b[i] = 48;
    return end;
  }
  for (let i = end - 1; i >= p; i--) {
    const t = (n / 10) >>> 0;
    b[i] = 48 + n - t * 10;
    n = t;
  }
  return end;
}
