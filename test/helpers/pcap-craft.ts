/**
 * Crafting small pcap / pcapng files for the robustness tests (little-endian unless told):
 * real kernel datagrams from captures/, wrapped in the nlmon cooked header, and the
 * container structures with every field settable so that each fault can be planted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCapture } from '../../src/pcap/index.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The netlink datagrams (cooked header stripped) of a recorded capture. */
export function datagramsOf(name: string): Uint8Array[] {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'captures', name)));
  return [...parseCapture(bytes)].map((r) => r.data.slice(16));
}

/** The 16-byte nlmon cooked header (big-endian fields) before `payload`. */
export function cooked(payload: Uint8Array, o: { protocol?: number; hatype?: number } = {}): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, 4);
  dv.setUint16(2, o.hatype ?? 824);
  dv.setUint16(14, o.protocol ?? 12);
  return cat(h, payload);
}

export interface Rec {
  sec?: number;
  frac?: number;
  data: Uint8Array;
  incl?: number;
  orig?: number;
}

export function classicHeader(o: { major?: number; minor?: number; snaplen?: number; linktype?: number; ns?: boolean } = {}): Uint8Array {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, o.ns ? 0xa1b23c4d : 0xa1b2c3d4, true);
  dv.setUint16(4, o.major ?? 2, true);
  dv.setUint16(6, o.minor ?? 4, true);
  dv.setUint32(16, o.snaplen ?? 262144, true);
  dv.setUint32(20, o.linktype ?? 253, true);
  return b;
}

export function classicRecord(r: Rec): Uint8Array {
  const b = new Uint8Array(16 + r.data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, r.sec ?? 1_700_000_000, true);
  dv.setUint32(4, r.frac ?? 0, true);
  dv.setUint32(8, r.incl ?? r.data.length, true);
  dv.setUint32(12, r.orig ?? r.data.length, true);
  b.set(r.data, 16);
  return b;
}

export function classicFile(h: Parameters<typeof classicHeader>[0], recs: Rec[]): Uint8Array {
  return cat(classicHeader(h), ...recs.map(classicRecord));
}

const pad4 = (n: number) => (n + 3) & ~3;

export function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + pad4(body.length);
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  b.set(body, 8);
  dv.setUint32(total - 4, total, true);
  return b;
}

export function shb(): Uint8Array {
  const body = new Uint8Array(16);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, 0x1a2b3c4d, true);
  dv.setUint16(4, 1, true);
  dv.setBigInt64(8, -1n, true);
  return block(0x0a0d0d0a, body);
}

/** An option: code, length (may differ from the value's: to plant a fault), value padded. */
export function option(code: number, value: Uint8Array, length = value.length): Uint8Array {
  const b = new Uint8Array(4 + pad4(value.length));
  const dv = new DataView(b.buffer);
  dv.setUint16(0, code, true);
  dv.setUint16(2, length, true);
  b.set(value, 4);
  return b;
}

export function idb(o: { linktype?: number; snaplen?: number; options?: Uint8Array[] } = {}): Uint8Array {
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, o.linktype ?? 253, true);
  dv.setUint32(4, o.snaplen ?? 0, true);
  const opts = o.options ?? [];
  return block(1, cat(head, ...opts, ...(opts.length > 0 ? [new Uint8Array(4)] : [])));
}

export function epb(units: bigint, data: Uint8Array, o: { iface?: number; caplen?: number } = {}): Uint8Array {
  const head = new Uint8Array(20);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, o.iface ?? 0, true);
  dv.setUint32(4, Number(units >> 32n), true);
  dv.setUint32(8, Number(units & 0xffffffffn), true);
  dv.setUint32(12, o.caplen ?? data.length, true);
  dv.setUint32(16, data.length, true);
  const padded = new Uint8Array(pad4(data.length));
  padded.set(data);
  return block(6, cat(head, padded));
}
