/**
 * Writing ASCII into an output chunk four bytes per store (the lean JSON writer's hot path,
 * lean-json-bytes.ts): a constant piece is kept as little-endian u32 words and an IPv4
 * octet with its dot as one word, written with DataView.setUint32 (inlined by V8's
 * optimizing compiler) instead of one typed-array store per byte.
 *
 *   words(s)           -> { n: s.length, w: the bytes of s as LE u32 words, the last one zero-padded }
 *   litw(v, p, a)      -> p + a.n; writes 4 * ceil(n / 4) bytes at p
 *   ipv4w(v, p, b, o)  -> the end of the dotted quad of b[o..o+4]; writes up to 3 bytes past it
 *
 * Every writer may write up to 3 bytes past the position it returns (the padding of its
 * last word): bytes the next piece overwrites, or past the line's end where nothing is
 * read (the caller's chunk has LEAN_JSON_MAX_BYTES of room for a line far shorter).
 */

export interface Words {
  /** Length of the text in bytes. */
  readonly n: number;
  /** The text as little-endian u32 words. */
  readonly w: Uint32Array;
}

export function words(s: string): Words {
  const w = new Uint32Array((s.length + 3) >> 2);
  for (let i = 0; i < s.length; i++) w[i >> 2]! |= (s.charCodeAt(i) & 0xff) << ((i & 3) * 8);
  return { n: s.length, w };
}

export function litw(v: DataView, p: number, a: Words): number {
  const w = a.w;
  for (let i = 0, q = p; i < w.length; i++, q += 4) v.setUint32(q, w[i]!, true);
  return p + a.n;
}

/** Per octet value: its digits followed by '.', as one LE word; and the digit count. */
const OCTET_DOT = new Uint32Array(256);
const OCTET_LEN = new Uint8Array(256);
for (let x = 0; x < 256; x++) {
  const t = String(x) + '.';
  OCTET_DOT[x] = words(t).w[0]!;
  OCTET_LEN[x] = t.length - 1;
}

/** The IPv4 address at b[o..o+4] in dotted decimal (inet_ntop's text). */
export function ipv4w(v: DataView, p: number, b: Uint8Array, o: number): number {
  let x = b[o]!;
  v.setUint32(p, OCTET_DOT[x]!, true);
  p += OCTET_LEN[x]! + 1;
  x = b[o + 1]!;
  v.setUint32(p, OCTET_DOT[x]!, true);
  p += OCTET_LEN[x]! + 1;
  x = b[o + 2]!;
  v.setUint32(p, OCTET_DOT[x]!, true);
  p += OCTET_LEN[x]! + 1;
  x = b[o + 3]!;
  v.setUint32(p, OCTET_DOT[x]!, true);
  return p + OCTET_LEN[x]!;
}
