/**
 * Seeded, structure-aware fuzzing of the codec with mutations of the real corpus
 * (test/fixtures/kernel/corpus.jsonl and captures/*.pcap).
 *
 * Mutations: truncation, bit flips, corrupt nlmsg_len / nla_len (found by walking the
 * structure), random attributes inserted at attribute boundaries (top level and inside
 * nests, enclosing lengths fixed up), zeroed or changed types, duplicated, removed and
 * swapped attributes, random payloads, random message types and flags, and random
 * attribute soups under every message type. Some iterations stack two mutations.
 *
 * Oracles, for every mutated datagram:
 *   - decodeDatagram returns, or throws NetlinkDecodeError (anything else is a bug, and so
 *     is a NetlinkDecodeError that only wraps an internal failure), with an offset inside
 *     the datagram;
 *   - it terminates (each iteration is timed);
 *   - when it returns: encodeMessages(decoded) succeeds, decodeDatagram of that deep-equals
 *     decoded, and encoding is idempotent byte for byte.
 *
 *   CTEV_FUZZ_SEED=<u32>          reproduce a run (the seed is printed on every run)
 *   CTEV_FUZZ_ITERATIONS=<n>      more mutations (default 100,000)
 */
import { describe, expect, it } from 'vitest';
import { NetlinkDecodeError } from '../src/netlink/errors.js';
import { decodeDatagram, encodeMessages } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import { type AttrInfo, type AttrList, type DatagramStructure, addToLengths, insertAt, loadCorpus, walkDatagram } from './helpers/corpus.js';
import { hexdump, toHex } from './helpers/hex.js';
import { Prng, seedFromEnv } from './helpers/prng.js';

const ITERATIONS = Number(process.env.CTEV_FUZZ_ITERATIONS ?? 100_000);
const SEED = seedFromEnv();
/** One decode/encode cycle slower than this is reported as a (near) non-termination. */
const SLOW_MS = 2000;

interface Source {
  bytes: Uint8Array;
  origin: string;
  structure: DatagramStructure;
}

const seen = new Set<string>();
const SOURCES: Source[] = [];
for (const e of await loadCorpus()) {
  const key = toHex(e.bytes);
  if (seen.has(key)) continue;
  seen.add(key);
  SOURCES.push({ bytes: e.bytes, origin: `${e.origin} ${e.what}`, structure: walkDatagram(e.bytes) });
}

// ---------------------------------------------------------------------------------------
// Deep equality with toEqual semantics (undefined-valued keys ignored), bigint and bytes.

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (typeof a !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    return a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Mutations. Each takes the datagram (a private copy) and its structure and returns the
// mutated bytes, or undefined when it does not apply.

type Mutation = (rng: Prng, b: Uint8Array, s: DatagramStructure) => Uint8Array | undefined;

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const align4 = (n: number) => (n + 3) & ~3;

/** Insert `ins` at `pos` inside `list` (a boundary) and fix the enclosing lengths. */
const spliceInto = insertAt;

function boundary(rng: Prng, list: AttrList): number {
  const i = rng.int(list.attrs.length + 1);
  return i < list.attrs.length ? list.attrs[i]!.off : Math.min(align4(list.end), list.end + 3);
}

function randomType(rng: Prng): number {
  let t = rng.chance(0.7) ? rng.int(32) : rng.int(0x4000);
  if (rng.chance(0.15)) t |= 0x8000;
  if (rng.chance(0.05)) t |= 0x4000;
  return t;
}

/** A random attribute: random type and length, sometimes a nest of random attributes. */
function randomAttr(rng: Prng, depth = 0): Uint8Array {
  if (depth < 3 && rng.chance(0.25)) {
    const parts: Uint8Array[] = [];
    for (let i = rng.int(4); i > 0; i--) parts.push(randomAttr(rng, depth + 1));
    const body = concat(parts);
    const a = new Uint8Array(4 + body.length);
    dv(a).setUint16(0, a.length, true);
    dv(a).setUint16(2, rng.int(32) | 0x8000, true);
    a.set(body, 4);
    return a;
  }
  const n = rng.chance(0.6) ? rng.pick([0, 1, 2, 3, 4, 5, 8, 16]) : rng.int(40);
  const a = new Uint8Array(align4(4 + n));
  dv(a).setUint16(0, 4 + n, true);
  dv(a).setUint16(2, randomType(rng), true);
  a.set(rng.bytes(n), 4);
  if (rng.chance(0.05) && a.length > 4 + n) a[a.length - 1] = 0xff; // non-zero padding
  return a;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const pickAttr = (rng: Prng, s: DatagramStructure): AttrInfo | undefined => (s.attrs.length ? rng.pick(s.attrs) : undefined);
const pickList = (rng: Prng, s: DatagramStructure): AttrList | undefined => (s.lists.length ? rng.pick(s.lists) : undefined);

const KNOWN_TYPES = [0x0001, 0x0002, 0x0003, 0x0004, 0x0000, 0x0010, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x0108, 0x0200, 0x0201, 0x0202, 0x0203, 0x0204, 0x0a00];

const MUTATIONS: Record<string, Mutation> = {
  truncate: (rng, b) => (b.length > 0 ? b.slice(0, rng.int(b.length)) : undefined),

  flipBits: (rng, b) => {
    if (b.length === 0) return undefined;
    for (let i = rng.range(1, 4); i > 0; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
    return b;
  },

  corruptMsgLen: (rng, b, s) => {
    if (s.messages.length === 0) return undefined;
    const m = rng.pick(s.messages);
    const left = b.length - m.off;
    const v = rng.pick([0, 1, 15, 16, 17, 19, m.len - 1, m.len + 1, m.len + 4, m.len - 4, left, left + 1, rng.next(), 0xffffffff, rng.int(left + 8)]);
    dv(b).setUint32(m.off, v >>> 0, true);
    return b;
  },

  corruptAttrLen: (rng, b, s) => {
    const a = pickAttr(rng, s);
    if (!a) return undefined;
    const v = rng.pick([0, 1, 3, 4, 5, a.len - 1, a.len + 1, a.len - 4, a.len + 4, a.list.end - a.off, a.list.end - a.off + 1, rng.int(0x10000), 0xffff]);
    dv(b).setUint16(a.off, v & 0xffff, true);
    return b;
  },

  insertAttr: (rng, b, s) => {
    const list = pickList(rng, s);
    if (!list) return undefined;
    const parts: Uint8Array[] = [];
    for (let i = rng.range(1, 3); i > 0; i--) parts.push(randomAttr(rng));
    return spliceInto(b, list, boundary(rng, list), concat(parts));
  },

  zeroType: (rng, b, s) => {
    const a = pickAttr(rng, s);
    if (!a) return undefined;
    dv(b).setUint16(a.off + 2, rng.chance(0.5) ? 0 : a.rawType & 0xc000, true);
    return b;
  },

  changeType: (rng, b, s) => {
    const a = pickAttr(rng, s);
    if (!a) return undefined;
    dv(b).setUint16(a.off + 2, rng.chance(0.5) ? (a.rawType & 0xc000) | rng.int(32) : randomType(rng), true);
    return b;
  },

  duplicateAttr: (rng, b, s) => {
    const a = pickAttr(rng, s);
    if (!a || a.off + align4(a.len) > a.list.end + 3) return undefined;
    const copy = new Uint8Array(align4(a.len));
    copy.set(b.subarray(a.off, Math.min(b.length, a.off + copy.length)));
    const pos = rng.chance(0.5) ? a.off : a.off + align4(a.len);
    return spliceInto(b, a.list, Math.min(pos, b.length), copy);
  },

  removeAttr: (rng, b, s) => {
    const a = pickAttr(rng, s);
    if (!a) return undefined;
    const n = Math.min(align4(a.len), b.length - a.off);
    const out = new Uint8Array(b.length - n);
    out.set(b.subarray(0, a.off), 0);
    out.set(b.subarray(a.off + n), a.off);
    return addToLengths(out, a.list, -n) ? out : undefined;
  },

  swapAdjacent: (rng, b, s) => {
    const lists = s.lists.filter((l) => l.attrs.length >= 2);
    if (lists.length === 0) return undefined;
    const list = rng.pick(lists);
    const i = rng.int(list.attrs.length - 1);
    const x = list.attrs[i]!;
    const y = list.attrs[i + 1]!;
    const xs = align4(x.len);
    const ys = align4(y.len);
    if (y.off + ys > b.length || x.off + xs !== y.off) return undefined;
    const xb = b.slice(x.off, x.off + xs);
    const yb = b.slice(y.off, y.off + ys);
    b.set(yb, x.off);
    b.set(xb, x.off + ys);
    return b;
  },

  randomPayload: (rng, b, s) => {
    const leaves = s.attrs.filter((a) => !a.children && a.len > 4);
    if (leaves.length === 0) return undefined;
    const a = rng.pick(leaves);
    b.set(rng.bytes(a.len - 4), a.off + 4);
    return b;
  },

  messageHeader: (rng, b, s) => {
    if (s.messages.length === 0) return undefined;
    const m = rng.pick(s.messages);
    if (rng.chance(0.6)) dv(b).setUint16(m.off + 4, rng.chance(0.8) ? rng.pick(KNOWN_TYPES) : rng.int(0x10000), true);
    else dv(b).setUint16(m.off + 6, rng.chance(0.5) ? rng.pick([0, 1, 2, 0x100, 0x200, 0x300, 0x301, 0x600, 0x22]) : rng.int(0x10000), true);
    return b;
  },

  /** A fresh message of a random known type whose body is a random attribute soup. */
  soup: (rng) => {
    const type = rng.pick(KNOWN_TYPES);
    const flags = rng.pick([0, 1, 2, 0x100, 0x200, 0x300, 0x301, 0x600, 0x22, rng.int(0x10000)]);
    const attrs: Uint8Array[] = [];
    for (let i = rng.int(8); i > 0; i--) attrs.push(randomAttr(rng));
    let fixed: Uint8Array;
    if (type === 2) {
      // struct nlmsgerr: error, then an echoed header (capped or not decided by flags)
      fixed = new Uint8Array(20);
      dv(fixed).setInt32(0, -rng.int(200), true);
      dv(fixed).setUint32(4, rng.chance(0.5) ? 16 : rng.int(64), true);
    } else fixed = rng.bytes(4);
    const body = concat([fixed, ...attrs]);
    const m = new Uint8Array(16 + body.length);
    dv(m).setUint32(0, m.length, true);
    dv(m).setUint16(4, type, true);
    dv(m).setUint16(6, flags, true);
    m.set(body, 16);
    return m;
  },
};

const NAMES = Object.keys(MUTATIONS);

// ---------------------------------------------------------------------------------------

interface Stats {
  ok: number;
  decodeError: number;
  skipped: number;
}

function describeFailure(what: string, iteration: number, mutation: string, origin: string, input: Uint8Array, detail: string): string {
  return [
    `fuzz oracle failed: ${what}`,
    `  seed ${SEED} (CTEV_FUZZ_SEED=${SEED}), iteration ${iteration}, mutation ${mutation}`,
    `  source ${origin}`,
    `  ${detail}`,
    `  input hex ${toHex(input)}`,
    hexdump(input, 1024),
  ].join('\n');
}

/** Run the oracles on one input; returns 'ok' | 'error' or throws a described failure. */
function check(input: Uint8Array, iteration: number, mutation: string, origin: string): 'ok' | 'error' {
  const fail = (what: string, detail: string): never => {
    throw new Error(describeFailure(what, iteration, mutation, origin, input, detail));
  };
  const t0 = performance.now();
  let decoded: Message[];
  try {
    decoded = decodeDatagram(input);
  } catch (e) {
    if (!(e instanceof NetlinkDecodeError)) return fail('decode threw something other than NetlinkDecodeError', String((e as Error)?.stack ?? e));
    if (e.reason.startsWith('internal decode failure')) return fail('decode hit an internal failure', e.message);
    if (!(e.offset >= 0 && e.offset <= input.length)) return fail('decode error offset outside the datagram', e.message);
    if (!Array.isArray(e.path) || e.path.some((p) => typeof p !== 'string')) return fail('decode error path is not a list of names', e.message);
    if (performance.now() - t0 > SLOW_MS) return fail('decode took too long', `${performance.now() - t0} ms`);
    return 'error';
  }
  let encoded: Uint8Array;
  try {
    encoded = encodeMessages(decoded);
  } catch (e) {
    return fail('encode of a decoded datagram threw', String((e as Error)?.stack ?? e));
  }
  let again: Message[];
  try {
    again = decodeDatagram(encoded);
  } catch (e) {
    return fail('decode of the re-encoded datagram threw', `${String(e)}\n  re-encoded hex ${toHex(encoded)}`);
  }
  if (!deepEqual(again, decoded)) {
    return fail('decode(encode(decode(x))) differs from decode(x)', `first ${stringify(decoded)}\n  again ${stringify(again)}`);
  }
  const encodedAgain = encodeMessages(again);
  if (!sameBytes(encodedAgain, encoded)) {
    return fail('encoding is not idempotent', `encode(d)  ${toHex(encoded)}\n  encode(decode(encode(d))) ${toHex(encodedAgain)}`);
  }
  if (performance.now() - t0 > SLOW_MS) return fail('decode/encode took too long', `${performance.now() - t0} ms`);
  return 'ok';
}

function stringify(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `hex:${toHex(x)}` : x));
}

describe('fuzz: mutated corpus datagrams', () => {
  it(`corpus is loaded (${SOURCES.length} distinct datagrams)`, () => {
    expect(SOURCES.length).toBeGreaterThan(100);
  });

  it(
    `${ITERATIONS} mutations, seed ${SEED}`,
    () => {
      // Printed up front, so that a hang can be reproduced too.
      console.log(`fuzz: seed ${SEED}, ${ITERATIONS} iterations, ${SOURCES.length} sources (CTEV_FUZZ_SEED=${SEED} to reproduce)`);
      const rng = new Prng(SEED);
      const stats: Record<string, Stats> = Object.fromEntries(NAMES.map((n) => [n, { ok: 0, decodeError: 0, skipped: 0 }]));
      const t0 = performance.now();
      for (let i = 0; i < ITERATIONS; i++) {
        const src = rng.pick(SOURCES);
        const name = rng.pick(NAMES);
        let bytes = MUTATIONS[name]!(rng, src.bytes.slice(), src.structure);
        let label = name;
        if (bytes && rng.chance(0.3)) {
          const second = rng.pick(NAMES);
          const more = MUTATIONS[second]!(rng, bytes.slice(), walkDatagram(bytes));
          if (more) {
            bytes = more;
            label = `${name}+${second}`;
          }
        }
        if (!bytes) {
          stats[name]!.skipped++;
          continue;
        }
        const r = check(bytes, i, label, src.origin);
        if (r === 'ok') stats[name]!.ok++;
        else stats[name]!.decodeError++;
      }
      const ms = performance.now() - t0;
      const rows = NAMES.map((n) => `${n.padEnd(15)} ok ${String(stats[n]!.ok).padStart(6)}  error ${String(stats[n]!.decodeError).padStart(6)}  n/a ${stats[n]!.skipped}`);
      console.log(`fuzz: ${ITERATIONS} iterations in ${(ms / 1000).toFixed(1)} s\n${rows.join('\n')}`);
      // The mutations must reach past the framing: a fair share must still decode.
      const ok = NAMES.reduce((n, k) => n + stats[k]!.ok, 0);
      expect(ok / ITERATIONS).toBeGreaterThan(0.2);
      for (const n of NAMES) expect(stats[n]!.ok + stats[n]!.decodeError, n).toBeGreaterThan(0);
    },
    Math.max(60_000, ITERATIONS * 2),
  );

  it('every unmutated corpus datagram passes the oracles', () => {
    let ok = 0;
    for (const [i, s] of SOURCES.entries()) if (check(s.bytes.slice(), i, 'none', s.origin) === 'ok') ok++;
    // Only the two intentionally malformed requests of the recorder fail to decode.
    expect(SOURCES.length - ok).toBe(2);
  });
});
