/**
 * The lean decoder's tuple fast path (src/ctnetlink/lean.ts: the kernel's layout
 * IP { SRC, DST } PROTO { NUM, SRC_PORT, DST_PORT } checked as u32 headers) against its
 * attribute walk: on every corpus message the lean decoder takes, the same message with
 * each tuple rewritten into a shape only the walk reads (nest flags cleared, SRC and DST
 * swapped, PROTO before IP, ports swapped) gives the same JSON line, and the JSON writer's
 * four-bytes-a-store pieces (src/format/words.ts) give the same line in any chunk position.
 */
import { describe, expect, it } from 'vitest';
import { LeanConntrack, decodeLeanAt } from '../src/ctnetlink/lean.js';
import { LEAN_JSON_MAX_BYTES, leanJsonBytes } from '../src/format/lean-json-bytes.js';
import { leanJsonLine } from '../src/format/lean-json.js';
import { messageLen, nextMessage } from '../src/netlink/message.js';
import { Reader } from '../src/netlink/reader.js';
import { loadCorpus } from './helpers/corpus.js';

const NS = 1795532864922001000n;
const dec = new TextDecoder();

/** The JSON line of the message at `off`, or undefined when the lean decoder declines it. */
function line(bytes: Uint8Array, off: number, len: number, at = 0): string | undefined {
  const e = new LeanConntrack();
  if (!decodeLeanAt(new Reader(bytes), off, len, e)) return undefined;
  const chunk = new Uint8Array(LEAN_JSON_MAX_BYTES + at);
  const end = leanJsonBytes(e, NS, chunk, at);
  return dec.decode(chunk.subarray(at, end));
}

/** Top-level tuple nests (CTA_TUPLE_ORIG 1, CTA_TUPLE_REPLY 2) of the message: [start, end) of their payload. */
function tuples(v: DataView, off: number, len: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = off + 20; a + 4 <= off + len; ) {
    const l = v.getUint16(a, true);
    if (l < 4) break;
    const t = v.getUint16(a + 2, true) & 0x3fff;
    if (t === 1 || t === 2) out.push([a + 4, a + l]);
    a += (l + 3) & ~3;
  }
  return out;
}

/** Attributes of [s, e): [offset, padded length]. */
function attrs(v: DataView, s: number, e: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = s; a + 4 <= e; ) {
    const l = v.getUint16(a, true);
    out.push([a, Math.min((l + 3) & ~3, e - a)]);
    a += (l + 3) & ~3;
  }
  return out;
}

/** `bytes` with [s, e) replaced by the given attribute pieces in order (same total length). */
function rebuilt(bytes: Uint8Array, s: number, e: number, pieces: [number, number][]): Uint8Array {
  const b = bytes.slice();
  let p = s;
  for (const [o, l] of pieces) {
    b.set(bytes.subarray(o, o + l), p);
    p += l;
  }
  expect(p).toBe(e);
  return b;
}

describe('lean tuple fast path', () => {
  it('reads every kernel layout as the attribute walk reads the same tuple in other shapes', async () => {
    let checked = 0;
    for (const entry of await loadCorpus()) {
      const bytes = entry.bytes;
      const r = new Reader(bytes);
      if (!r.le) continue;
      const v = r.view;
      for (let off = 0; off < bytes.length; ) {
        let len: number;
        try {
          len = messageLen(r, off, bytes.length);
        } catch {
          break;
        }
        const want = line(bytes, off, len);
        if (want !== undefined) {
          expect(line(bytes, off, len, 5)).toBe(want); // any chunk position
          for (const [ts, te] of tuples(v, off, len)) {
            const top = attrs(v, ts, te);
            if (top.length !== 2) continue;
            const variants: Uint8Array[] = [rebuilt(bytes, ts, te, [top[1]!, top[0]!])];
            for (const [ns, nl] of top) {
              const inner = attrs(v, ns + 4, ns + nl);
              if (inner.length >= 2) variants.push(rebuilt(bytes, ns + 4, ns + nl, [inner[1]!, inner[0]!, ...inner.slice(2)]));
              if (inner.length === 3) variants.push(rebuilt(bytes, ns + 4, ns + nl, [inner[0]!, inner[2]!, inner[1]!]));
              const flags = bytes.slice();
              flags[ns + 3]! ^= 0x80; // NLA_F_NESTED toggled
              variants.push(flags);
            }
            for (const b of variants) {
              expect(line(b, off, len)).toBe(want);
              expect(leanJsonLine(decodeOf(b, off, len), NS) + '\n').toBe(want);
            }
            checked++;
          }
        }
        off = nextMessage(off, len, bytes.length);
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});

function decodeOf(bytes: Uint8Array, off: number, len: number): LeanConntrack {
  const e = new LeanConntrack();
  expect(decodeLeanAt(new Reader(bytes), off, len, e)).toBe(true);
  return e;
}
