import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CaptureParser,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_NETLINK,
  MAX_RECORD_LENGTH,
  netlinkPayload,
  openPcapFile,
  parseCapture,
  PcapError,
  PcapWriter,
  readCapture,
  readCaptureBatches,
  readNetlinkDatagramBatches,
  readNetlinkDatagrams,
  type CaptureRecord,
  type NetlinkDatagramRecord,
} from '../src/pcap/index.js';

// ---------------------------------------------------------------------------------------
// Hand-built fixtures (no capture tool needed): a byte builder with an explicit byte order.

class Bytes {
  private readonly out: number[] = [];
  constructor(readonly le: boolean) {}
  get length(): number {
    return this.out.length;
  }
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.le);
    return this.raw(b);
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le);
    return this.raw(b);
  }
  i64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, v, this.le);
    return this.raw(b);
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.out.push(x);
    return this;
  }
  pad4(): this {
    while (this.out.length % 4 !== 0) this.out.push(0);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** NLMSG_DONE, host (LE) order: len 20, type 3, flags NLM_F_MULTI, seq, pid 0, int 0. */
function nlDone(seq: number): Uint8Array {
  return new Bytes(true).u32(20).u16(3).u16(2).u32(seq).u32(0).u32(0).build();
}

/** ctnetlink IPCTNL_MSG_CT_GET dump request: type 0x0101, REQUEST|DUMP, nfgenmsg AF_INET. */
function ctGetDump(seq: number): Uint8Array {
  return new Bytes(true).u32(20).u16(0x0101).u16(0x0301).u32(seq).u32(0).u8(2).u8(0).u16(0).build();
}

/** SLL v1 / LINKTYPE_NETLINK cooked header (big-endian fields) followed by `payload`. */
function cooked(protocol: number, payload: Uint8Array, hatype = 824): Uint8Array {
  return cat(new Bytes(false).u16(4).u16(hatype).u16(0).raw(new Uint8Array(8)).u16(protocol).build(), payload);
}

/** SLL v2 cooked header followed by `payload`. */
function cooked2(protocol: number, payload: Uint8Array, hatype = 824): Uint8Array {
  const h = new Bytes(false).u16(protocol).u16(0).u32(7).u16(hatype).u8(4).u8(0).raw(new Uint8Array(8));
  return cat(h.build(), payload);
}

interface ClassicOpts {
  le: boolean;
  ns: boolean;
  snaplen?: number;
  linktype?: number;
}
interface ClassicRec {
  sec: number;
  frac: number;
  data: Uint8Array;
  orig?: number;
}

function classicFile(o: ClassicOpts, recs: ClassicRec[]): Uint8Array {
  const b = new Bytes(o.le).u32(o.ns ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0);
  b.u32(o.snaplen ?? 262144).u32(o.linktype ?? LINKTYPE_NETLINK);
  for (const r of recs) b.u32(r.sec).u32(r.frac).u32(r.data.length).u32(r.orig ?? r.data.length).raw(r.data);
  return b.build();
}

function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const b = new Bytes(le).u32(type).u32(12 + Math.ceil(body.length / 4) * 4).raw(body).pad4();
  return b.u32(b.length + 4).build();
}
const shb = (le: boolean, major = 1): Uint8Array =>
  block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(0).i64(-1n).build());
function idb(le: boolean, linktype: number, snaplen: number, opts: Array<[number, Uint8Array]> = []): Uint8Array {
  const b = new Bytes(le).u16(linktype).u16(0).u32(snaplen);
  for (const [code, v] of opts) b.u16(code).u16(v.length).raw(v).pad4();
  if (opts.length > 0) b.u32(0);
  return block(le, 1, b.build());
}
const tsresol = (v: number): [number, Uint8Array] => [9, Uint8Array.of(v)];
const tsoffset = (le: boolean, s: bigint): [number, Uint8Array] => [14, new Bytes(le).i64(s).build()];
const epb = (le: boolean, ifid: number, units: bigint, data: Uint8Array, orig = data.length): Uint8Array =>
  block(le, 6, new Bytes(le).u32(ifid).u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn)).u32(data.length).u32(orig).raw(data).build());
const pb = (le: boolean, ifid: number, units: bigint, data: Uint8Array): Uint8Array =>
  block(le, 2, new Bytes(le).u16(ifid).u16(0).u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn)).u32(data.length).u32(data.length).raw(data).build());
const spb = (le: boolean, orig: number, data: Uint8Array): Uint8Array => block(le, 3, new Bytes(le).u32(orig).raw(data).build());

/** A gc() function even when node was started without --expose-gc (undefined if refused). */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => void gc() : undefined;
  } catch {
    return undefined;
  }
}

/** A record reduced to comparable values. */
function summary(r: CaptureRecord) {
  const { index, fileOffset, timestampNs, linktype, originalLength } = r;
  return { index, fileOffset, timestampNs, linktype, originalLength, data: hex(r.data) };
}

/** Runs the push/pull parser over the given chunks. */
function parseChunks(chunks: Uint8Array[]): CaptureRecord[] {
  const p = new CaptureParser();
  const out: CaptureRecord[] = [];
  for (const c of chunks) {
    p.push(c);
    for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  }
  p.end();
  return out;
}

function pcapError(fn: () => unknown): PcapError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw new Error(`expected PcapError, got ${String(e)}`);
  }
  throw new Error('expected PcapError, nothing thrown');
}

const D1 = cooked(12, nlDone(1));
const D2 = cooked(12, ctGetDump(2));
const D3 = cooked(0, nlDone(3));

// ---------------------------------------------------------------------------------------

describe('classic pcap', () => {
  it.each([
    { name: 'LE µs', le: true, ns: false },
    { name: 'LE ns', le: true, ns: true },
    { name: 'BE µs', le: false, ns: false },
    { name: 'BE ns', le: false, ns: true },
  ])('$name', ({ le, ns }) => {
    const frac = ns ? 123_456_789 : 123_456;
    const file = classicFile({ le, ns }, [
      { sec: 1_700_000_000, frac, data: D1 },
      { sec: 0, frac: 0, data: D2, orig: 500 },
      { sec: 0xffffffff, frac: ns ? 999_999_999 : 999_999, data: D3 },
    ]);
    const got = [...parseCapture(file)].map(summary);
    const fracNs = (f: number) => BigInt(ns ? f : f * 1000);
    expect(got).toEqual([
      { index: 0, fileOffset: 24, timestampNs: 1_700_000_000_000_000_000n + fracNs(frac), linktype: 253, originalLength: 36, data: hex(D1) },
      { index: 1, fileOffset: 76, timestampNs: 0n, linktype: 253, originalLength: 500, data: hex(D2) },
      { index: 2, fileOffset: 128, timestampNs: 4_294_967_295_000_000_000n + fracNs(ns ? 999_999_999 : 999_999), linktype: 253, originalLength: 36, data: hex(D3) },
    ]);
  });

  it('keeps the low 16 bits as linktype and accepts FCS bits', () => {
    const file = classicFile({ le: true, ns: false, linktype: 0x1400_0000 | 0x0400_0000 | LINKTYPE_LINUX_SLL }, [{ sec: 1, frac: 0, data: D1 }]);
    expect([...parseCapture(file)][0]!.linktype).toBe(LINKTYPE_LINUX_SLL);
  });

  it('header-only file yields nothing', () => {
    expect([...parseCapture(classicFile({ le: true, ns: false }, []))]).toEqual([]);
  });

  it('snaplen 0 means unlimited (only the sanity bound applies)', () => {
    const file = classicFile({ le: false, ns: false, snaplen: 0 }, [{ sec: 1, frac: 2, data: D1 }]);
    expect([...parseCapture(file)].map((r) => hex(r.data))).toEqual([hex(D1)]);
  });
});

// ---------------------------------------------------------------------------------------

/** Two sections of different byte order with EPB, SPB, PB, unknown blocks and tsresol/tsoffset. */
function twoSectionFile(): Uint8Array {
  return cat(
    shb(true), // 0
    idb(true, LINKTYPE_NETLINK, 65535, [tsresol(9)]), // 28
    idb(true, LINKTYPE_NETLINK, 0), // 60
    epb(true, 0, 1_700_000_000_123_456_789n, D1), // 80
    block(true, 0x0bad, Uint8Array.of(1, 2, 3, 4, 5)), // 148: unknown type, skipped
    epb(true, 1, 1_700_000_000_123_456n, D2, 99), // 168
    spb(true, D3.length, D3), // 236
    shb(false), // 288
    idb(false, LINKTYPE_LINUX_SLL, 262144, [tsresol(0x80 | 20), tsoffset(false, 100n)]), // 316
    idb(false, LINKTYPE_LINUX_SLL2, 0, [[2, new TextEncoder().encode('nlmon0')], tsresol(3)]), // 360
    block(false, 5, new Uint8Array(20)), // 404: ISB, skipped
    pb(false, 0, (3n << 20n) | (1n << 19n), cooked(12, nlDone(4))), // 436
    epb(false, 0, (5n << 20n) + 1n, cooked(12, nlDone(5))), // 504
    epb(false, 1, 1500n, cooked2(12, nlDone(6))), // 572
  );
}

describe('pcapng', () => {
  it('two sections of different byte order, EPB/SPB/PB, tsresol 10^-9, 10^-3, 2^-20, tsoffset', () => {
    const got = [...parseCapture(twoSectionFile())].map(summary);
    expect(got).toEqual([
      { index: 0, fileOffset: 80, timestampNs: 1_700_000_000_123_456_789n, linktype: 253, originalLength: 36, data: hex(D1) },
      { index: 1, fileOffset: 168, timestampNs: 1_700_000_000_123_456_000n, linktype: 253, originalLength: 99, data: hex(D2) },
      { index: 2, fileOffset: 236, timestampNs: 0n, linktype: 253, originalLength: 36, data: hex(D3) },
      { index: 3, fileOffset: 436, timestampNs: 103_500_000_000n, linktype: 113, originalLength: 36, data: hex(cooked(12, nlDone(4))) },
      // 5 s + 1/2^20 s = 5 s + 953.67 ns, floored; + 100 s if_tsoffset
      { index: 4, fileOffset: 504, timestampNs: 105_000_000_953n, linktype: 113, originalLength: 36, data: hex(cooked(12, nlDone(5))) },
      { index: 5, fileOffset: 572, timestampNs: 1_500_000_000n, linktype: 276, originalLength: 40, data: hex(cooked2(12, nlDone(6))) },
    ]);
  });

  it('SPB captured length is min(original length, snaplen of interface 0)', () => {
    const file = cat(shb(false), idb(false, LINKTYPE_NETLINK, 20), spb(false, 36, D1.subarray(0, 20)));
    const [rec] = [...parseCapture(file)];
    expect(rec && summary(rec)).toMatchObject({ originalLength: 36, data: hex(D1.subarray(0, 20)) });
  });

  it('a section resets the interface list', () => {
    const file = cat(shb(true), idb(true, 253, 0), idb(true, 253, 0), shb(true), idb(true, 253, 0), epb(true, 1, 0n, D1));
    expect(pcapError(() => [...parseCapture(file)])).toMatchObject({ offset: 116 + 8, recordIndex: 0 });
  });
});

// ---------------------------------------------------------------------------------------

describe('chunking', () => {
  const files = [
    { name: 'classic LE µs', file: classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: D3 }]) },
    { name: 'classic BE ns', file: classicFile({ le: false, ns: true }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: new Uint8Array(0) }]) },
    { name: 'pcapng two sections', file: twoSectionFile() },
  ];

  it.each(files)('$name: every two-chunk split and 1-byte chunks give identical records', ({ file }) => {
    const want = [...parseCapture(file)].map(summary);
    expect(want.length).toBeGreaterThan(0);
    for (let k = 0; k <= file.length; k++) {
      expect(parseChunks([file.subarray(0, k), file.subarray(k)]).map(summary), `split at ${k}`).toEqual(want);
    }
    const bytes = Array.from({ length: file.length }, (_, i) => file.subarray(i, i + 1));
    expect(parseChunks(bytes).map(summary)).toEqual(want);
  });

  it.each([2, 3, 5, 7, 13, 64, 1000])('a 3000-byte record amid small ones, in %i-byte chunks', (size) => {
    const big = cooked(12, new Uint8Array(2984).map((_, i) => i * 7));
    const file = classicFile({ le: true, ns: true }, [{ sec: 1, frac: 1, data: D1 }, { sec: 2, frac: 2, data: big }, { sec: 3, frac: 3, data: D2 }]);
    const want = [...parseCapture(file)].map(summary);
    const chunks = Array.from({ length: Math.ceil(file.length / size) }, (_, i) => file.subarray(i * size, (i + 1) * size));
    expect(parseChunks(chunks).map(summary)).toEqual(want);
  });

  it('record data is a view into the chunk unless it straddles chunks', () => {
    const { file } = files[0]!;
    const whole = parseChunks([file]);
    expect(whole.every((r) => r.data.buffer === file.buffer)).toBe(true);
    const a = file.slice(0, 24 + 52 + 20); // cuts record 1 (at 76) inside its data
    const b = file.slice(a.length);
    const split = parseChunks([a, b]);
    expect(split[0]!.data.buffer).toBe(a.buffer);
    expect(split[2]!.data.buffer).toBe(b.buffer);
    expect(split[1]!.data.buffer).not.toBe(a.buffer);
    expect(split[1]!.data.buffer).not.toBe(b.buffer);
  });

  it('readCapture accepts async iterables and Node readable streams', async () => {
    const file = twoSectionFile();
    const want = [...parseCapture(file)].map(summary);
    async function* gen() {
      for (let i = 0; i < file.length; i += 7) yield file.subarray(i, i + 7);
    }
    const fromGen = [];
    for await (const r of readCapture(gen())) fromGen.push(summary(r));
    expect(fromGen).toEqual(want);
    const fromStream = [];
    for await (const r of readCapture(Readable.from([Buffer.from(file.subarray(0, 100)), Buffer.from(file.subarray(100))]))) {
      fromStream.push(summary(r));
    }
    expect(fromStream).toEqual(want);
  });

  it('a stream of strings is refused with PcapError', async () => {
    const run = async () => {
      for await (const r of readCapture(Readable.from(['abc'], { objectMode: true }))) void r;
    };
    await expect(run()).rejects.toBeInstanceOf(PcapError);
  });
});

// ---------------------------------------------------------------------------------------

describe('corrupt input gives PcapError at the right offset', () => {
  const good = () => classicFile({ le: true, ns: false, snaplen: 100 }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }]);
  const ng = () => cat(shb(true), idb(true, LINKTYPE_NETLINK, 100, [tsresol(9)]), epb(true, 0, 5n, D1)); // SHB 0, IDB 28, EPB 60..128
  const patch = (b: Uint8Array, at: number, v: number, le = true): Uint8Array => {
    new DataView(b.buffer, b.byteOffset).setUint32(at, v, le);
    return b;
  };

  it.each([
    { name: 'empty input', bytes: () => new Uint8Array(0), offset: 0, reason: /empty input/ },
    { name: 'unknown magic', bytes: () => patch(good(), 0, 0x12345678), offset: 0, reason: /unknown magic/ },
    { name: 'Kuznetzov magic', bytes: () => patch(good(), 0, 0xa1b2cd34), offset: 0, reason: /Kuznetzov/ },
    { name: 'truncated magic', bytes: () => good().subarray(0, 3), offset: 0, reason: /truncated capture header/ },
    { name: 'truncated global header', bytes: () => good().subarray(0, 20), offset: 0, reason: /truncated global header: .* 20 of 24/ },
    { name: 'bad version', bytes: () => patch(good(), 4, 0x0002_0001), offset: 4, reason: /version 1.2/ },
    { name: 'reserved linktype bits', bytes: () => patch(good(), 20, 0x0001_00fd), offset: 20, reason: /reserved linktype bits/ },
    { name: 'truncated record header', bytes: () => good().subarray(0, 76 + 7), offset: 76, index: 1, reason: /truncated record header/ },
    { name: 'truncated mid-record', bytes: () => good().subarray(0, 76 + 16 + 30), offset: 76, index: 1, reason: /truncated record: .* 46 of 52/ },
    { name: 'record over the netlink bound', bytes: () => patch(patch(good(), 16, 0), 24 + 8, 262_145), offset: 32, index: 0, reason: /over the bound 262144/ },
    { name: 'record over sanity bound', bytes: () => patch(patch(good(), 16, 0xffffffff), 24 + 8, MAX_RECORD_LENGTH + 1), offset: 32, index: 0, reason: /over the bound 268435456/ },
    { name: 'pcapng bad byte-order magic', bytes: () => patch(ng(), 8, 0x11223344), offset: 8, reason: /byte-order magic/ },
    { name: 'pcapng major version 2', bytes: () => patch(ng(), 12, 2), offset: 12, reason: /major version 2/ },
    { name: 'pcapng truncated SHB', bytes: () => ng().subarray(0, 10), offset: 0, reason: /truncated section header/ },
    { name: 'pcapng length not multiple of 4', bytes: () => patch(ng(), 28 + 4, 30), offset: 32, reason: /not a multiple of 4/ },
    { name: 'pcapng length < 12', bytes: () => patch(ng(), 60 + 4, 8), offset: 64, index: 0, reason: /below 32/ },
    { name: 'pcapng unknown block length < 12', bytes: () => patch(patch(ng(), 60, 0x99), 64, 8), offset: 64, reason: /below 12/ },
    { name: 'pcapng length over bound', bytes: () => patch(ng(), 64, MAX_RECORD_LENGTH + 4), offset: 64, index: 0, reason: /over the bound 327680/ },
    { name: 'pcapng trailing length mismatch', bytes: () => patch(ng(), 60 + 68 - 4, 64), offset: 124, index: 0, reason: /trailing block_total_length 64/ },
    { name: 'EPB missing interface', bytes: () => patch(ng(), 60 + 8, 1), offset: 68, index: 0, reason: /interface 1, section has 1/ },
    { name: 'SPB without interface', bytes: () => cat(shb(true), spb(true, 4, Uint8Array.of(1, 2, 3, 4))), offset: 28, index: 0, reason: /SPB without interface 0/ },
    { name: 'SPB data overruns block', bytes: () => cat(shb(true), idb(true, 253, 0), spb(true, 9, Uint8Array.of(1, 2, 3, 4))), offset: 56, index: 0, reason: /overruns/ },
    { name: 'EPB captured length overruns block', bytes: () => patch(ng(), 60 + 20, 40), offset: 80, index: 0, reason: /captured length 40 overruns/ },
    { name: 'EPB captured length huge', bytes: () => patch(ng(), 60 + 20, 0xfffffff0), offset: 80, index: 0, reason: /overruns/ },
    { name: 'pcapng truncated mid-block', bytes: () => ng().subarray(0, 100), offset: 60, index: 0, reason: /truncated block: .* 40 of 68/ },
    { name: 'pcapng truncated block header', bytes: () => cat(ng(), new Uint8Array(5)), offset: 128, reason: /truncated block header: .* 5 of 8/ },
  ])('$name', ({ bytes, offset, index, reason }) => {
    const input = bytes();
    for (const chunks of [[input], Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1))]) {
      const err = pcapError(() => parseChunks(chunks));
      expect(err.offset).toBe(offset);
      expect(err.recordIndex).toBe(index);
      expect(err.reason).toMatch(reason);
      expect(err.message).toContain(`offset ${offset}`);
    }
  });

  it('mutated captures only ever yield records or PcapError (seeded, terminating)', () => {
    let s = 0x2545f491;
    const rand = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const corpus = [twoSectionFile(), good(), ng()];
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const input = corpus[i % corpus.length]!.slice();
      for (let m = 1 + rand(4); m > 0; m--) {
        const at = rand(input.length);
        if (rand(3) === 0) input[at] = rand(256);
        else if (rand(2) === 0) new DataView(input.buffer).setUint32(at & ~3, rand(0x10000) * (rand(2) ? 0x10000 : 1), rand(2) === 0);
        else input[at] ^= 1 << rand(8);
      }
      const cut = rand(4) === 0 ? input.subarray(0, rand(input.length)) : input;
      try {
        for (const r of parseCapture(cut)) void r;
      } catch (e) {
        if (!(e instanceof PcapError)) throw e;
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('mutated captures give the same records and the same error whole, split anywhere, and byte by byte', () => {
    let s = 0x1234567;
    const rand = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const corpus = [twoSectionFile(), good(), ng()];
    const outcome = (chunks: Uint8Array[]) => {
      const p = new CaptureParser();
      const recs: ReturnType<typeof summary>[] = [];
      try {
        for (const c of chunks) {
          p.push(c);
          for (let r = p.next(); r !== undefined; r = p.next()) recs.push(summary(r));
        }
        p.end();
        return { recs, error: undefined };
      } catch (e) {
        if (!(e instanceof PcapError)) throw e;
        return { recs, error: { offset: e.offset, recordIndex: e.recordIndex, reason: e.reason } };
      }
    };
    for (let i = 0; i < 600; i++) {
      const input = corpus[i % corpus.length]!.slice();
      for (let m = 1 + rand(3); m > 0; m--) input[rand(input.length)] ^= 1 << rand(8);
      const whole = outcome([input]);
      const k = rand(input.length + 1);
      const j = rand(input.length + 1);
      const [a, b] = k < j ? [k, j] : [j, k];
      expect(outcome([input.subarray(0, a), input.subarray(a, b), input.subarray(b)]), `input ${i}, split ${a}/${b}`).toEqual(whole);
      if (i % 10 === 0) {
        expect(outcome(Array.from({ length: input.length }, (_, x) => input.subarray(x, x + 1))), `input ${i}, bytes`).toEqual(whole);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------

describe('netlinkPayload', () => {
  const rec = (linktype: number, data: Uint8Array): CaptureRecord => ({ index: 3, fileOffset: 99, timestampNs: 0n, linktype, data, originalLength: data.length });
  it.each([
    { name: 'LINKTYPE_NETLINK', r: rec(LINKTYPE_NETLINK, cooked(12, nlDone(1))), want: { protocol: 12, data: hex(nlDone(1)) } },
    { name: 'LINKTYPE_NETLINK route', r: rec(LINKTYPE_NETLINK, cooked(0, nlDone(1))), want: { protocol: 0, data: hex(nlDone(1)) } },
    { name: 'SLL with ARPHRD_NETLINK', r: rec(LINKTYPE_LINUX_SLL, cooked(16, nlDone(2))), want: { protocol: 16, data: hex(nlDone(2)) } },
    { name: 'SLL2 with ARPHRD_NETLINK', r: rec(LINKTYPE_LINUX_SLL2, cooked2(12, nlDone(3))), want: { protocol: 12, data: hex(nlDone(3)) } },
    { name: 'SLL header only', r: rec(LINKTYPE_LINUX_SLL, cooked(12, new Uint8Array(0))), want: { protocol: 12, data: '' } },
    { name: 'SLL ethernet frame', r: rec(LINKTYPE_LINUX_SLL, cooked(0x0800, new Uint8Array(20), 1)), want: undefined },
    { name: 'SLL2 ethernet frame', r: rec(LINKTYPE_LINUX_SLL2, cooked2(0x0800, new Uint8Array(20), 1)), want: undefined },
    { name: 'Ethernet linktype', r: rec(1, new Uint8Array(60)), want: undefined },
  ])('$name', ({ r, want }) => {
    const got = netlinkPayload(r);
    expect(got && { protocol: got.protocol, data: hex(got.data) }).toEqual(want);
  });

  it.each([
    { name: 'LINKTYPE_NETLINK shorter than cooked header', r: rec(LINKTYPE_NETLINK, cooked(12, nlDone(1)).subarray(0, 15)) },
    { name: 'LINKTYPE_NETLINK of 2 bytes', r: rec(LINKTYPE_NETLINK, Uint8Array.of(0, 4)) },
    { name: 'LINKTYPE_NETLINK without cooked header', r: rec(LINKTYPE_NETLINK, nlDone(1)) },
    { name: 'SLL netlink frame cut short', r: rec(LINKTYPE_LINUX_SLL, cooked(12, nlDone(1)).subarray(0, 12)) },
    { name: 'SLL2 netlink frame cut short', r: rec(LINKTYPE_LINUX_SLL2, cooked2(12, nlDone(1)).subarray(0, 19)) },
  ])('$name → PcapError', ({ r }) => {
    expect(pcapError(() => netlinkPayload(r))).toMatchObject({ offset: 99, recordIndex: 3 });
  });

  it('readNetlinkDatagrams filters by protocol (default NETLINK_NETFILTER)', async () => {
    const src = () => Readable.from([Buffer.from(twoSectionFile())]);
    const got = [];
    for await (const d of readNetlinkDatagrams(src())) got.push({ index: d.index, protocol: d.protocol, data: hex(d.data), ts: d.timestampNs });
    expect(got.map((d) => d.index)).toEqual([0, 1, 3, 4, 5]);
    expect(got[0]).toEqual({ index: 0, protocol: 12, data: hex(nlDone(1)), ts: 1_700_000_000_123_456_789n });
    const route = [];
    for await (const d of readNetlinkDatagrams(src(), { protocol: 0 })) route.push(d.index);
    expect(route).toEqual([2]);
  });
});

// ---------------------------------------------------------------------------------------

/** An async iterable over `file` in chunks of `size` bytes that records whether it was closed. */
function chunked(file: Uint8Array, size: number) {
  const state = { closed: false, pulled: 0 };
  async function* gen() {
    try {
      for (let i = 0; i < file.length; i += size) {
        state.pulled++;
        yield file.subarray(i, i + size);
      }
    } finally {
      state.closed = true;
    }
  }
  return { source: gen(), state };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<PcapError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw new Error(`expected PcapError, got ${String(e)}`);
  }
  throw new Error('expected PcapError, nothing thrown');
}

const datagram = (d: NetlinkDatagramRecord) => ({ index: d.index, fileOffset: d.fileOffset, timestampNs: d.timestampNs, protocol: d.protocol, data: hex(d.data) });

describe('batch readers', () => {
  const big = cooked(12, new Uint8Array(2984).map((_, i) => i * 7));
  const files = [
    { name: 'classic', file: classicFile({ le: true, ns: true }, [{ sec: 1, frac: 1, data: D1 }, { sec: 2, frac: 2, data: big }, { sec: 3, frac: 3, data: D3 }, { sec: 4, frac: 4, data: D2 }]) },
    { name: 'pcapng', file: twoSectionFile() },
  ];

  it.each(files.flatMap(({ name, file }) => [1, 7, 100, 1000, file.length].map((size) => ({ name, file, size }))))(
    '$name in $size-byte chunks: readCaptureBatches gives the records of parseCapture, one non-empty batch per completing chunk',
    async ({ name, file, size }) => {
      const want = [...parseCapture(file)].map(summary);
      const { source, state } = chunked(file, size);
      const batches = await collect(readCaptureBatches(source));
      expect(batches.flat().map(summary)).toEqual(want);
      expect(batches.every((b) => b.length > 0)).toBe(true);
      expect(batches.length).toBeLessThanOrEqual(state.pulled);
      if (size === file.length) expect(batches.length).toBe(1);
      if (name === 'classic') {
        // A batch holds the records completed by one chunk: the last bytes of its records
        // lie in the same chunk, a later one for each batch.
        const chunkOfEnd = (r: CaptureRecord) => Math.floor((r.fileOffset + 16 + r.data.length - 1) / size);
        const perBatch = batches.map((b) => [...new Set(b.map(chunkOfEnd))]);
        expect(perBatch.every((c) => c.length === 1)).toBe(true);
        const order = perBatch.map((c) => c[0]!);
        expect(order).toEqual([...order].sort((x, y) => x - y));
        expect(new Set(order).size).toBe(order.length);
      }
      expect(state.closed).toBe(true);
    },
  );

  it.each(files.flatMap(({ name, file }) => [1, 7, 100, file.length].map((size) => ({ name, file, size }))))(
    '$name in $size-byte chunks: readNetlinkDatagramBatches gives what readNetlinkDatagrams gives',
    async ({ file, size }) => {
      for (const protocol of [undefined, 0, 12]) {
        const opts = protocol === undefined ? {} : { protocol };
        const want = (await collect(readNetlinkDatagrams(Readable.from([Buffer.from(file)]), opts))).map(datagram);
        const batches = await collect(readNetlinkDatagramBatches(chunked(file, size).source, opts));
        expect(batches.every((b) => b.length > 0)).toBe(true);
        expect(batches.flat().map(datagram), `protocol ${protocol}`).toEqual(want);
        // And both equal parseCapture + netlinkPayload.
        const direct = [...parseCapture(file)].flatMap((r) => {
          const p = netlinkPayload(r);
          return p === undefined || p.protocol !== (protocol ?? 12) ? [] : [{ index: r.index, fileOffset: r.fileOffset, timestampNs: r.timestampNs, protocol: p.protocol, data: hex(p.data) }];
        });
        expect(want).toEqual(direct);
      }
    },
  );

  it('records before a fault come first (a last short batch), then the PcapError', async () => {
    const bad = classicFile({ le: true, ns: false, snaplen: 100 }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: D1 }]);
    new DataView(bad.buffer).setUint32(16, 0, true); // snaplen 0: the bound is 262144
    new DataView(bad.buffer).setUint32(128 + 8, 300_000, true); // record 2: over the bound
    const got: number[][] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readCaptureBatches(chunked(bad, bad.length).source)) got.push(b.map((r) => r.index));
      })(),
    );
    expect(got).toEqual([[0, 1]]);
    expect(err).toMatchObject({ offset: 136, recordIndex: 2 });
    const one: number[] = [];
    const err1 = await rejection(
      (async () => {
        for await (const r of readCapture(chunked(bad, 1000).source)) one.push(r.index);
      })(),
    );
    expect(one).toEqual([0, 1]);
    expect(err1).toMatchObject({ offset: 136, recordIndex: 2 });
  });

  it('datagrams before a bad frame come first, then the PcapError of netlinkPayload', async () => {
    const file = classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: cooked(12, nlDone(7), 1) }, { sec: 7, frac: 8, data: D1 }]);
    const batches: number[][] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readNetlinkDatagramBatches(chunked(file, file.length).source)) batches.push(b.map((d) => d.index));
      })(),
    );
    expect(batches).toEqual([[0, 1]]);
    expect(err).toMatchObject({ offset: 128, recordIndex: 2 });
    expect(err.reason).toMatch(/hatype 1, want 824/);
    const one: number[] = [];
    const err1 = await rejection(
      (async () => {
        for await (const d of readNetlinkDatagrams(chunked(file, 10).source)) one.push(d.index);
      })(),
    );
    expect(one).toEqual([0, 1]);
    expect(err1).toMatchObject({ offset: 128, recordIndex: 2 });
    // A frame too short for its header, in a batch and one by one.
    const short = classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D1.subarray(0, 12) }]);
    const e2 = await rejection(collect(readNetlinkDatagramBatches(chunked(short, 5).source)));
    expect(e2).toMatchObject({ offset: 76, recordIndex: 1 });
    expect(e2.reason).toMatch(/LINKTYPE_NETLINK record of 12 bytes, shorter than its 16-byte header/);
  });

  it('truncated input: the records, then the PcapError of end()', async () => {
    const file = classicFile({ le: false, ns: true }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }]);
    const cut = file.subarray(0, file.length - 3);
    const got: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readCaptureBatches(chunked(cut, 50).source)) got.push(...b.map((r) => r.index));
      })(),
    );
    expect(got).toEqual([0]);
    expect(err).toMatchObject({ offset: 76, recordIndex: 1 });
    expect(err.reason).toMatch(/truncated record/);
  });

  it('record data are views of the input chunk, of its class (Buffer or Uint8Array); straddling ones are copies', async () => {
    const file = files[0]!.file;
    const [plain] = await collect(readCaptureBatches(chunked(file, file.length).source));
    expect(plain!.every((r) => r.data.buffer === file.buffer && r.data.constructor === Uint8Array)).toBe(true);
    const buf = Buffer.from(file);
    const [fromBuffer] = await collect(readCaptureBatches(Readable.from([buf])));
    expect(fromBuffer!.every((r) => Buffer.isBuffer(r.data) && r.data.buffer === buf.buffer)).toBe(true);
    const [datagrams] = await collect(readNetlinkDatagramBatches(Readable.from([buf])));
    expect(datagrams!.every((d) => Buffer.isBuffer(d.data) && d.data.buffer === buf.buffer)).toBe(true);
    // 1000-byte chunks: the 3000-byte record (76..3092) straddles and is copied.
    const split = (await collect(readCaptureBatches(chunked(file, 1000).source))).flat();
    expect(split.map((r) => r.data.buffer === file.buffer)).toEqual([true, false, true, true]);
    expect(hex(split[1]!.data)).toBe(hex(big));
  });

  it('timestampNs is computed on access, can be assigned, and shows in inspect', async () => {
    const file = classicFile({ le: true, ns: false }, [{ sec: 1_700_000_000, frac: 999_999, data: D1 }]);
    const [rec] = [...parseCapture(file)];
    expect(rec!.timestampNs).toBe(1_700_000_000_999_999_000n);
    expect(Object.keys(rec!)).toEqual(['index', 'fileOffset', 'linktype', 'data', 'originalLength']);
    expect(inspect(rec)).toContain('timestampNs: 1700000000999999000n');
    rec!.timestampNs = 5n;
    expect(rec!.timestampNs).toBe(5n);
    const [d] = await collect(readNetlinkDatagrams(chunked(file, 3).source));
    expect(d!.timestampNs).toBe(1_700_000_000_999_999_000n);
    expect(Object.keys(d!)).toEqual(['index', 'fileOffset', 'protocol', 'data']);
    expect(inspect(d)).toContain('timestampNs: 1700000000999999000n');
    d!.timestampNs = 7n;
    expect(d!.timestampNs).toBe(7n);
  });
});

describe('readCapture / readNetlinkDatagrams as async generators', () => {
  const file = classicFile({ le: true, ns: false }, Array.from({ length: 6 }, (_, i) => ({ sec: i, frac: 0, data: cooked(12, nlDone(i)) })));

  it.each([
    { name: 'readCapture', read: (src: AsyncIterable<Uint8Array>) => readCapture(src) },
    { name: 'readNetlinkDatagrams', read: (src: AsyncIterable<Uint8Array>) => readNetlinkDatagrams(src) },
  ])('$name: break closes the source', async ({ read }) => {
    const { source, state } = chunked(file, 60);
    const seen: number[] = [];
    for await (const r of read(source)) {
      seen.push(r.index);
      if (r.index === 2) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(state.closed).toBe(true);
  });

  it('calls are served in order, also when not awaited one by one', async () => {
    const it = readNetlinkDatagrams(chunked(file, 17).source);
    const results = await Promise.all(Array.from({ length: 8 }, () => it.next()));
    expect(results.map((r) => (r.done ? 'done' : r.value.index))).toEqual([0, 1, 2, 3, 4, 5, 'done', 'done']);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('return() and throw() close the source; then the iterator is done', async () => {
    const a = chunked(file, 60);
    const it = readCapture(a.source);
    expect((await it.next()).value?.index).toBe(0);
    const pending = it.next(); // queued before return(): still served
    expect(await it.return()).toEqual({ value: undefined, done: true });
    expect((await pending).value?.index).toBe(1);
    expect(a.state.closed).toBe(true);
    expect(await it.next()).toEqual({ value: undefined, done: true });

    const b = chunked(file, 60);
    const it2 = readNetlinkDatagrams(b.source);
    expect((await it2.next()).value?.index).toBe(0);
    const boom = new Error('boom');
    await expect(it2.throw(boom)).rejects.toBe(boom);
    expect(b.state.closed).toBe(true);
    expect(await it2.next()).toEqual({ value: undefined, done: true });

    // Before the first step: nothing is read.
    const c = chunked(file, 60);
    const it3 = readCapture(c.source);
    await expect(it3.throw(boom)).rejects.toBe(boom);
    expect(c.state.pulled).toBe(0);
    expect(await it3.next()).toEqual({ value: undefined, done: true });
    expect(it3[Symbol.asyncIterator]()).toBe(it3);
  });

  it('after an error the iterator is done', async () => {
    const it = readCapture(chunked(file.subarray(0, 100), 60).source);
    expect((await it.next()).value?.index).toBe(0);
    await expect(it.next()).rejects.toBeInstanceOf(PcapError);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });
});

// ---------------------------------------------------------------------------------------

function collector() {
  const chunks: Uint8Array[] = [];
  return { chunks, write: (c: Uint8Array) => void chunks.push(c.slice()), bytes: () => cat(...chunks) };
}

describe('PcapWriter', () => {
  it('writes exactly the libpcap nlmon layout', () => {
    const sink = collector();
    const w = new PcapWriter(sink, { littleEndian: true });
    w.writeDatagram(nlDone(1), 1_700_000_000_123_456_789n);
    const want = [
      'd4c3b2a1 0200 0400 00000000 00000000 00000400 fd000000', // magic, 2.4, zone, sigfigs, snaplen 262144, linktype 253
      '00f15365 40e20100 24000000 24000000', // ts_sec, ts_usec 123456 (truncated), incl 36, orig 36
      '0004 0338 0000 0000000000000000 000c', // pkttype 4, hatype 824, halen 0, addr, protocol 12 (BE)
      hex(nlDone(1)),
    ].join('').replaceAll(' ', '');
    expect(hex(sink.bytes())).toBe(want);
    expect(sink.chunks.length).toBe(2); // header, then one chunk per record
  });

  it.each([
    { name: 'LE µs', opts: { littleEndian: true }, ns: false },
    { name: 'LE ns', opts: { littleEndian: true, nanosecond: true }, ns: true },
    { name: 'BE µs', opts: { littleEndian: false }, ns: false },
    { name: 'BE ns', opts: { littleEndian: false, nanosecond: true }, ns: true },
  ])('round trip $name', ({ opts, ns }) => {
    const sink = collector();
    const w = new PcapWriter(sink, opts);
    const ts = 1_700_000_000_987_654_321n;
    w.writeDatagram(nlDone(1), ts);
    w.writeDatagram(ctGetDump(2), ts + 1n, 12);
    w.writeDatagram(nlDone(3), 0n, 0);
    const got = [...parseCapture(sink.bytes())].map((r) => ({ ts: r.timestampNs, ...netlinkPayload(r)! }));
    const t = (x: bigint) => (ns ? x : x - (x % 1000n));
    expect(got.map((g) => ({ ts: g.ts, protocol: g.protocol, data: hex(g.data) }))).toEqual([
      { ts: t(ts), protocol: 12, data: hex(nlDone(1)) },
      { ts: t(ts + 1n), protocol: 12, data: hex(ctGetDump(2)) },
      { ts: 0n, protocol: 0, data: hex(nlDone(3)) },
    ]);
  });

  it('truncates to snaplen like libpcap, defaults the timestamp to now, validates arguments', () => {
    const sink = collector();
    const w = new PcapWriter(sink, { snaplen: 30 });
    const before = BigInt(Date.now()) * 1_000_000n;
    w.writeDatagram(nlDone(1));
    const [r] = [...parseCapture(sink.bytes())];
    expect(r!.data.length).toBe(30);
    expect(r!.originalLength).toBe(36);
    expect(r!.timestampNs >= before - 1_000_000n && r!.timestampNs <= BigInt(Date.now() + 1) * 1_000_000n).toBe(true);
    expect(() => w.writeDatagram(nlDone(1), -1n)).toThrow(PcapError);
    expect(() => w.writeDatagram(nlDone(1), 1n << 64n)).toThrow(PcapError);
    expect(() => w.writeDatagram(nlDone(1), 0n, 70000)).toThrow(PcapError);
    expect(() => new PcapWriter(sink, { snaplen: 3 })).toThrow(PcapError);
  });
});

// ---------------------------------------------------------------------------------------

describe('files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcap-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
  const hasTshark = has('tshark');
  const hasEditcap = has('editcap');
  if (!hasTshark) console.warn('skipping tshark interoperability test: tshark not found on PATH');
  if (!hasEditcap) console.warn('skipping editcap interoperability test: editcap not found on PATH');

  async function writeSample(path: string, opts = {}) {
    const f = await openPcapFile(path, opts);
    f.writer.writeDatagram(nlDone(1), 1_700_000_000_123_456_789n);
    f.writer.writeDatagram(ctGetDump(2), 1_700_000_001_000_000_000n);
    await f.close();
  }

  it('openPcapFile writes a file readCapture reads back (path and fs stream)', async () => {
    const path = join(dir, 'sample.pcap');
    await writeSample(path);
    const want = [hex(nlDone(1)), hex(ctGetDump(2))];
    const a = [];
    for await (const d of readNetlinkDatagrams(path)) a.push(hex(d.data));
    const b = [];
    for await (const d of readNetlinkDatagrams(createReadStream(path, { highWaterMark: 5 }))) b.push(hex(d.data));
    expect(a).toEqual(want);
    expect(b).toEqual(want);
  });

  it('openPcapFile rejects an unopenable path; close is idempotent', async () => {
    await expect(openPcapFile(join(dir, 'no', 'such', 'dir.pcap'))).rejects.toThrow(/ENOENT/);
    const f = await openPcapFile(join(dir, 'empty.pcap'));
    await f.close();
    await f.close();
    expect((await stat(join(dir, 'empty.pcap'))).size).toBe(24);
    expect(() => f.writer.writeDatagram(nlDone(1))).toThrow(PcapError);
  });

  it.skipIf(!hasTshark)('tshark decodes a written file as Linux netlink / netlink-netfilter', async () => {
    const path = join(dir, 'tshark.pcap');
    await writeSample(path);
    const out = spawnSync('tshark', ['-r', path, '-V'], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain('Encapsulation type: Linux Netlink');
    expect(out.stdout).toContain('Linux netlink (cooked header)');
    expect(out.stdout).toContain('Link-layer address type: Netlink (824)');
    expect(out.stdout).toContain('Family: Netfilter (0x000c)');
    expect(out.stdout).toContain('Message type: End of a dump (0x0003)');
    expect(out.stdout).toMatch(/Linux netlink netfilter protocol/i);
    expect(out.stdout).toContain('Subsystem: Conntrack (1)');
    expect(out.stdout).toContain('Epoch Time: 1700000000.123456000 seconds');
  });

  it.skipIf(!hasEditcap)('reads what editcap converts to pcapng and to nanosecond pcap', async () => {
    const path = join(dir, 'conv.pcap');
    await writeSample(path);
    const want = [...parseCapture(await readFile(path))].map((r) => ({ ts: r.timestampNs, data: hex(r.data) }));
    for (const format of ['pcapng', 'nsecpcap']) {
      const out = join(dir, `conv.${format}`);
      expect(spawnSync('editcap', ['-F', format, path, out]).status).toBe(0);
      const got = [];
      for await (const r of readCapture(out)) got.push({ ts: r.timestampNs, data: hex(r.data) });
      expect(got, format).toEqual(want);
    }
  });

  it('streams a 1,000,000-record file with bounded memory', async () => {
    const path = join(dir, 'big.pcap');
    const count = 1_000_000;
    const f = await openPcapFile(path);
    const payload = nlDone(0);
    for (let i = 0; i < count; i++) {
      new DataView(payload.buffer).setUint32(8, i, true);
      if (!f.writer.writeDatagram(payload, BigInt(i) * 1000n)) await f.drain();
    }
    await f.close();
    expect((await stat(path)).size).toBe(24 + count * 52);

    // Sample memory after a full GC, so that what is measured is what the reader retains
    // (garbage awaiting collection is not growth). The file is 50 MiB: holding it, or a
    // growing share of it, would show; holding one 1 MiB chunk and a record would not.
    const gc = exposeGc();
    if (gc === undefined) console.warn('no gc() available: memory samples include uncollected garbage');
    const sample = async () => {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 1)); // let freed backing stores be swept
      gc?.();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = await sample();
    let peak = 0;
    let n = 0;
    let lastSeq = -1;
    for await (const d of readNetlinkDatagrams(path)) {
      const seq = new DataView(d.data.buffer, d.data.byteOffset).getUint32(8, true);
      if (seq !== lastSeq + 1 || d.index !== n) throw new Error(`record ${n}: seq ${seq}`);
      lastSeq = seq;
      if (++n % 100_000 === 0) peak = Math.max(peak, (await sample()) - base);
    }
    expect(n).toBe(count);
    // The same through the batch reader.
    let batchPeak = 0;
    n = 0;
    lastSeq = -1;
    for await (const batch of readNetlinkDatagramBatches(path)) {
      for (const d of batch) {
        const seq = new DataView(d.data.buffer, d.data.byteOffset).getUint32(8, true);
        if (seq !== lastSeq + 1 || d.index !== n) throw new Error(`record ${n}: seq ${seq}`);
        lastSeq = seq;
        n++;
      }
      if (n % 100_000 < batch.length) batchPeak = Math.max(batchPeak, (await sample()) - base);
    }
    expect(n).toBe(count);
    const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
    console.log(`1e6 records (${mib(24 + count * 52)} file): peak growth of heapUsed + arrayBuffers ${mib(peak)} (batches: ${mib(batchPeak)})`);
    expect(peak).toBeLessThan((gc ? 16 : 50) * 2 ** 20);
    expect(batchPeak).toBeLessThan((gc ? 16 : 50) * 2 ** 20);
  }, 120_000);
});
