/**
 * IP addresses as text, exactly as inet_ntop(3) (glibc) writes them, because conntrack(8)
 * prints them that way: dotted quads; IPv6 in lowercase hex with the longest run (>= 2)
 * of zero groups compressed, the first run on ties, and the last 32 bits dotted for
 * "::a.b.c.d" and "::ffff:a.b.c.d".
 * Wire form: 4 or 16 bytes in network order, as on the wire.
 */
import { NetlinkEncodeError } from '../netlink/errors.js';

const DEC: string[] = Array.from({ length: 256 }, (_, i) => String(i));
/** Hex text of 16-bit groups, filled as met; the 65,536 slots are made on first IPv6 use, not at import. */
let HEX: string[] | undefined;

function hex16(v: number): string {
  const hex = (HEX ??= new Array<string>(65536).fill(''));
  const s = hex[v]!;
  if (s !== '') return s;
  return (hex[v] = v.toString(16));
}

/**
 * Recently formatted IPv4 addresses, direct-mapped by a hash of the address: the same few
 * addresses recur in almost every tuple, and building a dotted quad takes seven string
 * concatenations. Strings are immutable values, so a hit returns exactly what formatting
 * would; a miss formats and replaces the slot.
 */
const V4_BITS = 12;
const V4_SLOTS = 1 << V4_BITS;
const v4Keys = new Int32Array(V4_SLOTS);
const v4Text: (string | undefined)[] = new Array<string | undefined>(V4_SLOTS).fill(undefined);

export function formatIpv4(b: Uint8Array, p: number): string {
  const v = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  const slot = Math.imul(v, 0x9e3779b1) >>> (32 - V4_BITS);
  const hit = v4Text[slot];
  if (hit !== undefined && v4Keys[slot] === v) return hit;
  const s = DEC[b[p]!]! + '.' + DEC[b[p + 1]!]! + '.' + DEC[b[p + 2]!]! + '.' + DEC[b[p + 3]!]!;
  v4Keys[slot] = v;
  v4Text[slot] = s;
  return s;
}

export function formatIpv6(b: Uint8Array, p: number): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[p + 2 * i]! << 8) | b[p + 2 * i + 1]!;
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += formatIpv4(b, p + 12);
      break;
    }
    out += hex16(w[i]!);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Parse a dotted quad into 4 bytes; undefined if it is not one. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const t = parts[i]!;
    if (!/^\d{1,3}$/.test(t)) return undefined;
    const v = Number(t);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** Parse any textual IPv6 form (with "::" and an optional dotted tail); undefined if invalid. */
export function parseIpv6(s: string): Uint8Array | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const t = parts[i]!;
      if (i === parts.length - 1 && t.includes('.')) {
        const v4 = parseIpv4(t);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(t)) return undefined;
        out.push(parseInt(t, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return undefined;
  const words = [...head, ...new Array<number>(8 - n).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Wire bytes of an address string: IPv6 when it contains ':'. Throws NetlinkEncodeError. */
export function addressBytes(s: string, path: string): Uint8Array {
  const b = s.includes(':') ? parseIpv6(s) : parseIpv4(s);
  if (b === undefined) throw new NetlinkEncodeError(`not an IP address: ${JSON.stringify(s)}`, [path]);
  return b;
}
