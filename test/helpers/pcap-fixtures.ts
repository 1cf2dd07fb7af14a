/**
 * Hand-built pcap / pcapng fixtures and helpers shared by the pcap.*.test.ts files: a byte
 * builder with an explicit byte order, block and record builders, and small collectors.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CaptureParser,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_NETLINK,
  PcapError,
  type CaptureRecord,
  type NetlinkDatagramRecord,
} from '../../src/pcap/index.js';

// ---------------------------------------------------------------------------------------
// Hand-built fixtures (no capture tool needed): a byte builder with an explicit byte order.

export class Bytes {
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

export const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** NLMSG_DONE, host (LE) order: len 20, type 3, flags NLM_F_MULTI, seq, pid 0, int 0. */
export function nlDone(seq: number): Uint8Array {
  return new Bytes(true).u32(20).u16(3).u16(2).u32(seq).u32(0).u32(0).build();
}

/** ctnetlink IPCTNL_MSG_CT_GET dump request: type 0x0101, REQUEST|DUMP, nfgenmsg AF_INET. */
export function ctGetDump(seq: number): Uint8Array {
  return new Bytes(true).u32(20).u16(0x0101).u16(0x0301).u32(seq).u32(0).u8(2).u8(0).u16(0).build();
}

/** SLL v1 / LINKTYPE_NETLINK cooked header (big-endian fields) followed by `payload`. */
export function cooked(protocol: number, payload: Uint8Array, hatype = 824): Uint8Array {
  return cat(new Bytes(false).u16(4).u16(hatype).u16(0).raw(new Uint8Array(8)).u16(protocol).build(), payload);
}

/** SLL v2 cooked header followed by `payload`. */
export function cooked2(protocol: number, payload: Uint8Array, hatype = 824): Uint8Array {
  const h = new Bytes(false).u16(protocol).u16(0).u32(7).u16(hatype).u8(4).u8(0).raw(new Uint8Array(8));
  return cat(h.build(), payload);
}

export interface ClassicOpts {
  le: boolean;
  ns: boolean;
  snaplen?: number;
  linktype?: number;
}
export interface ClassicRec {
  sec: number;
  frac: number;
  data: Uint8Array;
  orig?: number;
}

export function classicFile(o: ClassicOpts, recs: ClassicRec[]): Uint8Array {
  const b = new Bytes(o.le).u32(o.ns ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0);
  b.u32(o.snaplen ?? 262144).u32(o.linktype ?? LINKTYPE_NETLINK);
  for (const r of recs) b.u32(r.sec).u32(r.frac).u32(r.data.length).u32(r.orig ?? r.data.length).raw(r.data);
  return b.build();
}

export function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const b = new Bytes(le).u32(type).u32(12 + Math.ceil(body.length / 4) * 4).raw(body).pad4();
  return b.u32(b.length + 4).build();
}
export const shb = (le: boolean, major = 1): Uint8Array =>
  block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(0).i64(-1n).build());
export function idb(le: boolean, linktype: number, snaplen: number, opts: Array<[number, Uint8Array]> = []): Uint8Array {
  const b = new Bytes(le).u16(linktype).u16(0).u32(snaplen);
  for (const [code, v] of opts) b.u16(code).u16(v.length).raw(v).pad4();
  if (opts.length > 0) b.u32(0);
  return block(le, 1, b.build());
}
export const tsresol = (v: number): [number, Uint8Array] => [9, Uint8Array.of(v)];
export const tsoffset = (le: boolean, s: bigint): [number, Uint8Array] => [14, new Bytes(le).i64(s).build()];
export const epb = (le: boolean, ifid: number, units: bigint, data: Uint8Array, orig = data.length): Uint8Array =>
  block(le, 6, new Bytes(le).u32(ifid).u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn)).u32(data.length).u32(orig).raw(data).build());
export const pb = (le: boolean, ifid: number, units: bigint, data: Uint8Array): Uint8Array =>
  block(le, 2, new Bytes(le).u16(ifid).u16(0).u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn)).u32(data.length).u32(data.length).raw(data).build());
export const spb = (le: boolean, orig: number, data: Uint8Array): Uint8Array => block(le, 3, new Bytes(le).u32(orig).raw(data).build());

/** A gc() function even when node was started without --expose-gc (undefined if refused). */
export function exposeGc(): (() => void) | undefined {
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
export function summary(r: CaptureRecord) {
  const { index, fileOffset, timestampNs, linktype, originalLength } = r;
  return { index, fileOffset, timestampNs, linktype, originalLength, data: hex(r.data) };
}

/** Runs the push/pull parser over the given chunks. */
export function parseChunks(chunks: Uint8Array[]): CaptureRecord[] {
  const p = new CaptureParser();
  const out: CaptureRecord[] = [];
  for (const c of chunks) {
    p.push(c);
    for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  }
  p.end();
  return out;
}

export function pcapError(fn: () => unknown): PcapError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw new Error(`expected PcapError, got ${String(e)}`);
  }
  throw new Error('expected PcapError, nothing thrown');
}

export const D1 = cooked(12, nlDone(1));
export const D2 = cooked(12, ctGetDump(2));
export const D3 = cooked(0, nlDone(3));

// ---------------------------------------------------------------------------------------

/** Two sections of different byte order with EPB, SPB, PB, unknown blocks and tsresol/tsoffset. */
export function twoSectionFile(): Uint8Array {
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



/** An async iterable over `file` in chunks of `size` bytes that records whether it was closed. */
export function chunked(file: Uint8Array, size: number) {
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

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function rejection(p: Promise<unknown>): Promise<PcapError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw new Error(`expected PcapError, got ${String(e)}`);
  }
  throw new Error('expected PcapError, nothing thrown');
}

export const datagram = (d: NetlinkDatagramRecord) => ({ index: d.index, fileOffset: d.fileOffset, timestampNs: d.timestampNs, protocol: d.protocol, data: hex(d.data) });

export function collector() {
  const chunks: Uint8Array[] = [];
  return { chunks, write: (c: Uint8Array) => void chunks.push(c.slice()), bytes: () => cat(...chunks) };
}
