/**
 * ctnetlink attributes (src/ctnetlink/conntrack.ts, nests.ts, tuple.ts): forward
 * compatibility on real kernel bytes: unknown attributes, pads and flag bits survive
 * decode and encode in place.
 */
import { describe, expect, it } from 'vitest';
import { decodeDatagram, encodeMessages } from '../src/ctnetlink/message.js';
import type { Conntrack, Message } from '../src/ctnetlink/model.js';
import { attrBytes, insertAt, listAt, locate } from './helpers/corpus.js';
import { fromHex, toHex } from './helpers/hex.js';
import { line } from './helpers/ctnetlink-corpus.js';

describe('forward compatibility: unknown attributes, pads and flag bits', () => {
  const BASE = line(41, 'acct+ts'); // DESTROY with tuples, protoinfo, counters, timestamps, event timestamp
  const baseModel = () => decodeDatagram(BASE.bytes);
  const ct = (ms: Message[]): Conntrack => {
    const m = ms[0]!;
    if (m.kind !== 'conntrack') throw new Error(`not a conntrack message: ${m.kind}`);
    return m.conntrack;
  };
  const insertLast = (b: Uint8Array, path: number[], ins: Uint8Array, msg = 0): Uint8Array => {
    const list = listAt(b, path, msg);
    return insertAt(b, list, list.end, ins)!;
  };
  const payload = fromHex('01 02 03 04 05');

  it.each([
    { name: 'at the top level (with NLA_F_NET_BYTEORDER)', path: [], type: 0x4000 | 30, get: (c: Conntrack) => c.unknown },
    { name: 'in CTA_TUPLE_ORIG', path: [1], type: 10, get: (c: Conntrack) => c.orig?.unknown },
    { name: 'in CTA_TUPLE_IP', path: [1, 1], type: 9, get: (c: Conntrack) => c.orig?.unknownIp },
    { name: 'in CTA_TUPLE_PROTO', path: [1, 2], type: 20, get: (c: Conntrack) => c.orig?.unknownProto },
    { name: 'in CTA_PROTOINFO', path: [4], type: 7, get: (c: Conntrack) => c.protoinfo?.unknown },
    { name: 'in CTA_PROTOINFO_TCP', path: [4, 1], type: 9, get: (c: Conntrack) => c.protoinfo?.tcp?.unknown },
    { name: 'in CTA_COUNTERS_ORIG', path: [9], type: 9, get: (c: Conntrack) => c.countersOrig?.unknown },
    { name: 'in CTA_TIMESTAMP', path: [20], type: 9, get: (c: Conntrack) => c.timestamp?.unknown },
    { name: 'as a nest (NLA_F_NESTED kept)', path: [], type: 0x8000 | 31, get: (c: Conntrack) => c.unknown },
  ])('an unknown attribute $name survives decode and encode', ({ path, type, get }) => {
    const b = insertLast(BASE.bytes, path, attrBytes(type, payload));
    const ms = decodeDatagram(b);
    expect(get(ct(ms))).toStrictEqual([{ type, data: payload }]);
    expect(toHex(encodeMessages(ms))).toBe(toHex(b));
  });

  it('an unknown attribute in the middle of the message keeps its place', () => {
    const b0 = BASE.bytes;
    const b = insertAt(b0, listAt(b0, []), locate(b0, [12]), attrBytes(30, payload))!; // before CTA_ID
    const ms = decodeDatagram(b);
    expect(ct(ms).unknown).toStrictEqual([{ type: 30, data: payload }]);
    expect(ct(ms).attrOrder).toEqual([1, 2, 30, 12, 3, 9, 10, 20, 4, 27]);
    expect(toHex(encodeMessages(ms))).toBe(toHex(b));
  });

  it.each([
    { name: 'expectation', n: 132, what: 'ftp: expectation events', type: 12 },
    { name: 'per-CPU stats', n: 183, what: 'per-cpu stats dump', type: 16 },
    { name: 'global stats', n: 186, what: 'global stats', type: 3 },
    { name: 'expectation per-CPU stats', n: 140, what: 'expectation per-cpu stats', type: 4 },
  ])('an unknown attribute in $name survives', ({ n, what, type }) => {
    const b = insertLast(line(n, what).bytes, [], attrBytes(type, payload));
    const [m] = decodeDatagram(b);
    const unknown = m!.kind === 'expect' ? m!.expect.unknown : 'stats' in m! ? m!.stats.unknown : undefined;
    expect(unknown).toStrictEqual([{ type, data: payload }]);
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(b));
  });

  it.each([
    { name: 'CTA_COUNTERS_PAD', path: [9], type: 5 },
    { name: 'CTA_TIMESTAMP_PAD', path: [20], type: 3 },
  ])('a zero-length $name is skipped', ({ path, type }) => {
    const list = listAt(BASE.bytes, path);
    const b = insertAt(BASE.bytes, list, list.start, attrBytes(type, []))!;
    expect(decodeDatagram(b)).toStrictEqual(baseModel());
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(BASE.bytes));
  });

  it('a zero-length top-level type 3 (the CTA_TIMESTAMP_EVENT pad) is skipped', () => {
    const b0 = BASE.bytes;
    const b = insertAt(b0, listAt(b0, []), locate(b0, [27]), attrBytes(3, []))!;
    expect(decodeDatagram(b)).toStrictEqual(baseModel());
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(b0));
  });

  it('a pad with a payload is kept as unknown', () => {
    const b = insertLast(BASE.bytes, [9], attrBytes(5, [0, 0, 0, 0]));
    expect(ct(decodeDatagram(b)).countersOrig).toStrictEqual({ packets: 5n, bytes: 274n, unknown: [{ type: 5, data: new Uint8Array(4) }] });
  });

  it('known nests without NLA_F_NESTED and known attributes with NLA_F_NET_BYTEORDER decode the same', () => {
    const b = BASE.bytes.slice();
    const v = new DataView(b.buffer);
    for (const path of [[1, 2], [4, 1], [20], [1]]) { // inner nests first: the walk follows NLA_F_NESTED
      const off = locate(b, path);
      v.setUint16(off + 2, v.getUint16(off + 2, true) & ~0x8000, true);
    }
    const id = locate(b, [12]);
    v.setUint16(id + 2, v.getUint16(id + 2, true) | 0x4000, true);
    expect(decodeDatagram(b)).toStrictEqual(baseModel());
    // The encoder writes the kernel's flags.
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(BASE.bytes));
  });

  it('unknown CTA_STATUS bits are kept', () => {
    const b = BASE.bytes.slice();
    const st = locate(b, [3]);
    new DataView(b.buffer).setUint32(st + 4, 0x8001020e, false);
    expect(ct(decodeDatagram(b)).status).toBe(0x8001020e);
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(b));
  });
});

