/**
 * Seeded generators over the request surface, for the validation property tests: random
 * VALID arguments of every request builder, and the leaves of an argument with the kind
 * of value they hold, so that a test can put an invalid value at one leaf and know which
 * field the error must name.
 */
import { formatIpv4, formatIpv6 } from '../../src/ctnetlink/address.js';
import type { Conntrack, Tuple } from '../../src/ctnetlink/model.js';
import type { EntryKey, KernelFilter } from '../../src/ctnetlink/requests.js';
import type { Prng } from './prng.js';

export type Kind = 'family' | 'addr' | 'u8' | 'u16' | 'u32' | 'u64' | 'labels' | 'string' | 'tuple' | 'bool';

/** The kind of value held by a model key (by name, as the model's fields are named). */
const KIND_OF: Record<string, Kind> = {
  family: 'family',
  src: 'addr', dst: 'addr', minIp: 'addr', maxIp: 'addr',
  proto: 'u8', icmpType: 'u8', icmpCode: 'u8', state: 'u8', wscaleOriginal: 'u8', wscaleReply: 'u8', flags: 'u8', mask: 'u8',
  srcPort: 'u16', dstPort: 'u16', icmpId: 'u16', zone: 'u16', minPort: 'u16', maxPort: 'u16',
  timeout: 'u32', mark: 'u32', markMask: 'u32', status: 'u32', statusMask: 'u32', id: 'u32',
  correctionPos: 'u32', offsetBefore: 'u32', offsetAfter: 'u32', isn: 'u32', its: 'u32', tsoff: 'u32',
  vtagOriginal: 'u32', vtagReply: 'u32',
  packets: 'u64', bytes: 'u64', handshakeSeq: 'u64',
  labels: 'labels', labelsMask: 'labels',
  name: 'string',
  orig: 'tuple', reply: 'tuple', master: 'tuple',
  zero: 'bool', orUpdate: 'bool',
};

export interface Leaf {
  /** Dotted field path as NetlinkEncodeError.field names it ("orig.srcPort"). */
  field: string;
  path: string[];
  kind: Kind;
}

/** Every leaf (and tuple) of an argument object whose kind is known. */
export function leaves(x: object, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [k, v] of Object.entries(x)) {
    const kind = KIND_OF[k];
    const path = [...prefix, k];
    if (kind === undefined || v === undefined) continue;
    // protoinfo.tcp.flagsOriginal.{flags,mask} are named like that; helper.name is a string.
    if (kind === 'tuple') {
      out.push({ field: path.join('.'), path, kind });
      out.push(...leaves(v as object, path));
    } else out.push({ field: path.join('.'), path, kind });
  }
  for (const [k, v] of Object.entries(x)) {
    if (KIND_OF[k] !== undefined || typeof v !== 'object' || v === null || v instanceof Uint8Array) continue;
    out.push(...leaves(v as object, [...prefix, k]));
  }
  return out;
}

export function setAt(x: object, path: readonly string[], value: unknown): void {
  let o = x as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path[path.length - 1]!] = value;
}

export function getAt(x: object, path: readonly string[]): unknown {
  let o: unknown = x;
  for (const k of path) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** An invalid value for a leaf of this kind; `wire`: the encoder alone must refuse it too. */
export function invalidValue(r: Prng, kind: Kind, family: number, allowUnspec: boolean): { value: unknown; wire: boolean } {
  const common: unknown[] = [null, NaN, 'x', {}, [], true];
  const pick = (xs: unknown[], wire = true) => ({ value: r.pick(xs), wire });
  switch (kind) {
    case 'family':
      return pick(['ipv4', 'ipv6', 999, 3, 1.5, -2, null, 2n, ...(allowUnspec ? [] : [0])], false);
    case 'addr':
      if (r.chance(0.3)) return { value: family === 10 ? formatIpv4(r.bytes(4), 0) : formatIpv6(r.bytes(16), 0), wire: false };
      return pick([12345, '', '1.2.3', '999.1.1.1', '1.2.3.4.5', 'fe80::1::2', 'localhost', '12345::abcde', null, {}]);
    case 'u8':
      return pick([256, 300, -1, 1.5, 1.9, Infinity, '1', 8n, ...common]);
    case 'u16':
      return pick([65536, 70000, -1, 1.9, NaN, 'http', 2 ** 53, 80n, ...common]);
    case 'u32':
      return pick([2 ** 32, 2 ** 33 + 7, 2 ** 40, -5, -1, 0.5, '7', 7n, ...common]);
    case 'u64':
      return pick([-1n, 2n ** 64n, 5, '5', ...common]);
    case 'labels':
      if (r.chance(0.4)) return pick([new Uint8Array(3), new Uint8Array(20), new Uint8Array(0)], false);
      return pick([[100000], [1, 2, 3, 4], 'labels', 7, null]);
    case 'string':
      if (r.chance(0.5)) return pick(['x'.repeat(16), 'a'.repeat(40)], false);
      return pick([5, 'a\0b', null, {}]);
    case 'tuple':
      return pick([null, 12345, 'tuple', [], new Uint8Array(4)]);
    case 'bool':
      return pick(['yes', 1, null, {}]);
  }
}

export function addr(r: Prng, family: number): string {
  return family === 10 ? formatIpv6(r.bytes(16), 0) : formatIpv4(r.bytes(4), 0);
}

const PORT_PROTOS = [6, 17, 136, 132, 33, 47];

/** A complete tuple (every field the kernel needs for `proto`, none of another's). */
export function keyTuple(r: Prng, family: number, proto?: number, zone = r.chance(0.2)): Tuple {
  const p = proto ?? r.pick([...PORT_PROTOS, family === 10 ? 58 : 1, family === 10 ? 58 : 1, r.pick([0, 2, 4, 41, 50, 51, 103, 255])]);
  const t: Tuple = { src: addr(r, family), dst: addr(r, family), proto: p };
  if (PORT_PROTOS.includes(p) && (p === 6 || p === 17 || r.chance(0.8))) {
    t.srcPort = r.int(65536);
    t.dstPort = r.int(65536);
  } else if (p === 1 || p === 58) {
    t.icmpType = r.int(256);
    t.icmpCode = r.int(256);
    t.icmpId = r.int(65536);
  }
  if (zone) t.zone = r.int(65536);
  return t;
}

/** A partial tuple the kernel's CTA_FILTER can match. */
export function filterTuple(r: Prng, family: number): Tuple {
  const t: Tuple = {};
  if (r.chance(0.5)) t.src = addr(r, family);
  if (r.chance(0.5)) t.dst = addr(r, family);
  if (r.chance(0.6) || (t.src === undefined && t.dst === undefined)) {
    t.proto = r.pick([6, 17, family === 10 ? 58 : 1, r.int(256)]);
    if (t.proto === 6 || t.proto === 17) {
      if (r.chance(0.5)) t.srcPort = r.int(65536);
      if (r.chance(0.5)) t.dstPort = r.int(65536);
    } else if ((family === 2 && t.proto === 1) || (family === 10 && t.proto === 58)) {
      if (r.chance(0.5)) t.icmpType = r.int(256);
      if (r.chance(0.5)) t.icmpCode = r.int(256);
      if (r.chance(0.5)) t.icmpId = r.int(65536);
    }
  }
  return t;
}

const u32 = (r: Prng) => r.next();

/** A dump (forFlush false) or flush filter with at least one criterion. */
export function kernelFilter(r: Prng, forFlush: boolean): KernelFilter {
  for (;;) {
    const f: KernelFilter = {};
    const fam = r.pick(forFlush ? [undefined, 2, 10] : [undefined, 0, 2, 10]);
    if (fam !== undefined) f.family = fam;
    if (r.chance(0.4)) {
      const mask = u32(r) || 1;
      if (r.chance(0.5)) f.markMask = mask;
      f.mark = (u32(r) & (f.markMask ?? 0xffffffff)) >>> 0;
    }
    if (r.chance(0.4)) {
      const mask = r.range(1, 0xffff);
      f.status = r.int(0x10000) & mask;
      if (f.status === 0 || r.chance(0.5)) f.statusMask = mask;
    }
    if (r.chance(0.3)) f.zone = r.int(65536);
    if (fam === 2 || fam === 10) {
      if (r.chance(0.4)) f.orig = filterTuple(r, fam);
      if (r.chance(0.3)) f.reply = filterTuple(r, fam);
    }
    const criteria = (fam === 2 || fam === 10 ? 1 : 0) + Number(f.mark !== undefined) + Number(f.status !== undefined) + Number(f.zone !== undefined);
    if (!forFlush || criteria > 0) return f;
  }
}

export function entryKey(r: Prng): EntryKey {
  const family = r.pick([2, 10]);
  const k: EntryKey = { family };
  const which = r.int(3);
  if (which !== 1) k.orig = keyTuple(r, family);
  if (which !== 0) k.reply = keyTuple(r, family);
  if (r.chance(0.3) && k.orig?.zone === undefined && k.reply?.zone === undefined) k.zone = r.int(65536);
  if (r.chance(0.3)) k.id = u32(r);
  return k;
}

function labelBytes(r: Prng, n: number): Uint8Array {
  return r.bytes(n);
}

/** Changes shared by create and update. */
function changes(r: Prng, e: Conntrack, family: number): void {
  if (r.chance(0.5)) e.mark = u32(r);
  if (e.mark !== undefined && r.chance(0.3)) e.markMask = u32(r);
  if (r.chance(0.5)) e.status = r.int(0x10000);
  if (r.chance(0.3)) {
    const n = r.pick([4, 8, 12, 16]);
    e.labels = labelBytes(r, n);
    if (r.chance(0.5)) e.labelsMask = labelBytes(r, n);
  }
  if (r.chance(0.3)) {
    e.protoinfo = { tcp: { state: r.int(10) } };
    if (r.chance(0.5)) e.protoinfo.tcp!.wscaleOriginal = r.int(256);
    if (r.chance(0.5)) e.protoinfo.tcp!.flagsOriginal = { flags: r.int(256), mask: r.int(256) };
  }
  if (r.chance(0.2)) e.seqAdjOrig = { correctionPos: u32(r), offsetBefore: u32(r), offsetAfter: u32(r) };
  if (r.chance(0.2)) e.synproxy = { isn: u32(r), its: u32(r), tsoff: u32(r) };
  if (r.chance(0.2)) e.helper = { name: r.pick(['ftp', 'sip', 'tftp', 'irc', 'a'.repeat(15)]) };
  void family;
}

export function createEntry(r: Prng): Conntrack {
  const family = r.pick([2, 10]);
  const orig = keyTuple(r, family);
  const reply = keyTuple(r, family, orig.proto, false);
  if (orig.zone !== undefined && r.chance(0.5)) reply.zone = r.int(65536);
  const e: Conntrack = { family, orig, reply, timeout: u32(r) };
  if (orig.zone === undefined && r.chance(0.3)) e.zone = r.int(65536);
  changes(r, e, family);
  if (r.chance(0.2)) e.natSrc = { minIp: addr(r, family), maxIp: addr(r, family), minPort: r.int(65536), maxPort: r.int(65536) };
  if (r.chance(0.2)) e.natDst = { minIp: addr(r, family) };
  if (r.chance(0.2)) e.master = keyTuple(r, family, undefined, false);
  return e;
}

export function updateEntry(r: Prng): Conntrack {
  const family = r.pick([2, 10]);
  const e: Conntrack = { family };
  if (r.chance(0.7)) e.orig = keyTuple(r, family);
  else e.reply = keyTuple(r, family);
  if (r.chance(0.6)) e.timeout = u32(r);
  changes(r, e, family);
  // What a dump returns may be passed back (the kernel ignores these in an update).
  const u64 = () => (BigInt(r.next()) << 32n) | BigInt(r.next());
  if (r.chance(0.15)) e.countersOrig = { packets: u64(), bytes: u64() };
  if (r.chance(0.1)) e.timestamp = { start: u64() };
  if (r.chance(0.1)) e.protoinfo = { sctp: { state: r.int(10), vtagOriginal: u32(r), vtagReply: u32(r) } };
  return e;
}
