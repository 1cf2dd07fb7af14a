/**
 * The guard's flood path without a kernel: deletes written from lean-decoded numbers are the
 * bytes of the general encoder; the victim ring keeps the newest; the delete pipeline puts
 * NLM_F_ACK on the last message of each datagram only and matches error replies to their
 * messages by sequence number (ENOENT counted as missing, others as refused).
 */
import { describe, expect, it } from 'vitest';
import { writeDelete, MAX_DELETE_BYTES } from '../src/client/delete-encoder.js';
import { writeDeleteCompact, writeDeleteFields, type DeleteFields } from '../src/client/delete-compact.js';
import { DeletePipeline, RAW_KEY } from '../src/client/evict.js';
import type { ReceiveItem, Transport } from '../src/client/transport.js';
import { CompactEntry, HAS_ID, HAS_ORIG } from '../src/ctnetlink/compact.js';
import type { EntryKey } from '../src/ctnetlink/requests.js';
import { NLM_F_ACK, NLMSG_ERROR } from '../src/netlink/constants.js';
import { VictimRing, inHeavyPrefix } from '../src/guard/flood-evict.js';
import { parseIpv6 } from '../src/ctnetlink/address.js';

function words(addr: string): number[] {
  if (!addr.includes(':')) {
    const p = addr.split('.').map(Number);
    return [((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0, 0, 0, 0];
  }
  const b = parseIpv6(addr)!;
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return [0, 1, 2, 3].map((i) => v.getUint32(i * 4, false));
}

/** A lean-decoded entry with the key's fields (as the compact decoder fills it). */
function compactOf(k: EntryKey): CompactEntry {
  const e = new CompactEntry();
  const t = k.orig!;
  e.family = k.family;
  e.proto = t.proto!;
  if (t.proto === 1 || t.proto === 58) {
    e.sport = t.icmpId!;
    e.dport = (t.icmpType! << 8) | t.icmpCode!;
  } else {
    e.sport = t.srcPort!;
    e.dport = t.dstPort!;
  }
  e.zone = k.zone ?? 0;
  e.id = k.id ?? 0;
  e.has = HAS_ORIG | (k.id !== undefined ? HAS_ID : 0);
  e.addr.set([...words(t.src!), ...words(t.dst!)]);
  return e;
}

function encoded(write: (b: Uint8Array, v: DataView, off: number) => number): Uint8Array | undefined {
  const b = new Uint8Array(MAX_DELETE_BYTES + 8);
  const v = new DataView(b.buffer);
  const n = write(b, v, 4);
  return n < 0 ? undefined : b.slice(4, 4 + n);
}

describe('CT_DELETE from lean-decoded numbers', () => {
  const keys: EntryKey[] = [
    { family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1000, dstPort: 53 }, zone: 0, id: 5 },
    { family: 2, orig: { src: '255.255.255.255', dst: '0.0.0.0', proto: 6, srcPort: 65535, dstPort: 0 }, zone: 7, id: 0xfedcba98 },
    { family: 10, orig: { src: 'fd00::1', dst: '2001:db8::ffff:1', proto: 6, srcPort: 1, dstPort: 443 }, zone: 0, id: 1 },
    { family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpId: 77, icmpType: 8, icmpCode: 3 }, zone: 0, id: 9 },
    { family: 10, orig: { src: '::1', dst: '::1', proto: 58, icmpId: 9, icmpType: 128, icmpCode: 0 }, zone: 1, id: 2 },
    { family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 132, srcPort: 5, dstPort: 6 }, zone: 0 },
  ];
  for (const k of keys) {
    it(`${k.family} ${k.orig!.proto} ${k.orig!.src}: the bytes of the general encoder`, () => {
      const want = encoded((b, v, off) => writeDelete(b, v, off, k, 0x12345678, NLM_F_ACK))!;
      expect(want).toBeDefined();
      expect(encoded((b, v, off) => writeDeleteCompact(b, v, off, compactOf(k), 0x12345678, NLM_F_ACK))).toEqual(want);
    });
  }
  it('declines what it cannot write (no tuple, protocols without ports, other families)', () => {
    const e = compactOf(keys[0]!);
    e.proto = 47;
    expect(encoded((b, v, off) => writeDeleteCompact(b, v, off, e, 1, 0))).toBeUndefined();
    const f = compactOf(keys[0]!);
    f.has = 0;
    expect(encoded((b, v, off) => writeDeleteCompact(b, v, off, f, 1, 0))).toBeUndefined();
    const g = compactOf(keys[0]!);
    g.family = 7;
    expect(encoded((b, v, off) => writeDeleteCompact(b, v, off, g, 1, 0))).toBeUndefined();
  });
});

describe('VictimRing', () => {
  it('gives the newest first, keeps the newest `capacity`, and round-trips every field', () => {
    const ring = new VictimRing(3);
    const ks = [0, 1, 2, 3, 4].map((i): EntryKey => ({ family: 2, orig: { src: `10.66.0.${i}`, dst: '10.3.0.2', proto: 6, srcPort: 1000 + i, dstPort: 80 }, zone: i, id: 100 + i }));
    for (const k of ks) ring.push(compactOf(k));
    expect(ring.size).toBe(3);
    expect(ring.overwritten).toBe(2);
    const f: DeleteFields = { family: 0, proto: 0, sport: 0, dport: 0, zone: 0, hasId: false, id: 0, addr: new Uint32Array(8), addrBase: 0 };
    for (const i of [4, 3, 2]) {
      expect(ring.pop(f)).toBe(true);
      const got = encoded((b, v, off) => writeDeleteFields(b, v, off, f, 7, 0));
      expect(got).toEqual(encoded((b, v, off) => writeDelete(b, v, off, ks[i]!, 7, 0)));
    }
    expect(ring.pop(f)).toBe(false);
    expect(ring.size).toBe(0);
  });
  it('heavy prefix test on the lean entry (IPv4 /16, IPv6 /48)', () => {
    const v4 = compactOf({ family: 2, orig: { src: '10.66.3.4', dst: '10.3.0.2', proto: 6, srcPort: 1, dstPort: 2 } });
    expect(inHeavyPrefix(v4, new Set([(10 << 8) | 66]))).toBe(true);
    expect(inHeavyPrefix(v4, new Set([(10 << 8) | 67]))).toBe(false);
  });
});

/** A transport that answers like the kernel: errors for chosen seqs, an ACK for NLM_F_ACK messages. */
class FakeKernel implements Transport {
  readonly portid = 1234;
  readonly datagrams: Uint8Array[] = [];
  private cb: ((items: ReceiveItem[]) => void) | undefined;
  constructor(private readonly refuse: Map<number, number>) {}
  onReceive(cb: (items: ReceiveItem[]) => void): void {
    this.cb = cb;
  }
  send(d: Uint8Array): void {
    const copy = d.slice();
    this.datagrams.push(copy);
    const v = new DataView(copy.buffer);
    const replies: Uint8Array[] = [];
    for (let off = 0; off < copy.length; ) {
      const len = v.getUint32(off, true);
      const flags = v.getUint16(off + 6, true);
      const seq = v.getUint32(off + 8, true);
      const errno = this.refuse.get(seq);
      if (errno !== undefined || flags & NLM_F_ACK) {
        const r = new Uint8Array(36);
        const rv = new DataView(r.buffer);
        rv.setUint32(0, 36, true);
        rv.setUint16(4, NLMSG_ERROR, true);
        rv.setUint32(8, seq, true);
        rv.setInt32(16, errno === undefined ? 0 : -errno, true);
        r.set(copy.subarray(off, off + 16), 20);
        replies.push(r);
      }
      off += (len + 3) & ~3;
    }
    const data = new Uint8Array(replies.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of replies) {
      data.set(r, o);
      o += r.length;
    }
    queueMicrotask(() => this.cb?.([{ data, pid: 0, groups: 0, truncated: false }]));
  }
  pause(): void {}
  resume(): void {}
  close(): void {}
}

describe('DeletePipeline.addFields: one ACK per datagram, errors matched by sequence number', () => {
  it('frames batches with NLM_F_ACK on the last message only and counts refusals', async () => {
    const ring = new VictimRing(16);
    for (let i = 0; i < 10; i++) ring.push(compactOf({ family: 2, orig: { src: `10.66.0.${i}`, dst: '10.3.0.2', proto: 6, srcPort: 2000 + i, dstPort: 80 }, zone: 0, id: i + 1 }));
    const t = new FakeKernel(new Map());
    const errors: [EntryKey, string][] = [];
    const p = new DeletePipeline(t, { batch: 4, onError: (k, e) => errors.push([k, e.code]) });
    const f: DeleteFields = { family: 0, proto: 0, sport: 0, dport: 0, zone: 0, hasId: false, id: 0, addr: new Uint32Array(8), addrBase: 0 };
    let n = 0;
    while (ring.pop(f)) {
      const r = p.addFields(f);
      expect(r).not.toBe(false);
      n++;
      if (r) await r;
    }
    expect(n).toBe(10);
    const c = await p.finish();
    // Datagrams of 4, 4, 2 messages; only the last of each asks for an ACK.
    expect(t.datagrams.length).toBe(3);
    const counts: number[] = [];
    for (const d of t.datagrams) {
      const v = new DataView(d.buffer);
      const flags: number[] = [];
      for (let off = 0; off < d.length; off += (v.getUint32(off, true) + 3) & ~3) flags.push(v.getUint16(off + 6, true) & NLM_F_ACK);
      counts.push(flags.length);
      expect(flags.slice(0, -1).every((x) => x === 0)).toBe(true);
      expect(flags[flags.length - 1]).toBe(NLM_F_ACK);
    }
    expect(counts).toEqual([4, 4, 2]);
    expect(c).toMatchObject({ requested: 10, deleted: 10, missing: 0, failed: 0 });
    expect(errors).toEqual([]);
  });

  it('ENOENT is missing, EPERM is refused and kept as the first error; onError gets RAW_KEY', async () => {
    const refuse = new Map<number, number>();
    const t = new FakeKernel(refuse);
    const errors: [EntryKey, string][] = [];
    const p = new DeletePipeline(t, { batch: 4, onError: (k, e) => errors.push([k, e.code]) });
    const f: DeleteFields = { family: 2, proto: 6, sport: 1, dport: 80, zone: 0, hasId: true, id: 1, addr: new Uint32Array(8), addrBase: 0 };
    // 8 deletes in all: two datagrams of 4. The fake kernel decides its refusals when a
    // datagram is sent: refuse the 2nd message (ENOENT) and the 6th (EPERM) by their seqs.
    expect(p.addFields(f)).toBeUndefined();
    expect(p.addFields(f)).toBeUndefined();
    // The first datagram goes out with the 4th add; its messages carry seqs s..s+3.
    const sendOrig = t.send.bind(t);
    t.send = (d: Uint8Array) => {
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const s = v.getUint32(8, true);
      if (refuse.size === 0) {
        refuse.set(s + 1, 2); // ENOENT
        refuse.set(s + 5, 1); // EPERM (second datagram)
      }
      sendOrig(d);
    };
    for (let i = 0; i < 6; i++) {
      const r = p.addFields(f);
      if (r) await r;
    }
    const c = await p.finish();
    expect(c.requested).toBe(8);
    expect(c.missing).toBe(1);
    expect(c.failed).toBe(1);
    expect(c.deleted).toBe(6);
    expect(c.errors).toEqual({ ENOENT: 1, EPERM: 1 });
    expect(c.firstError?.code).toBe('EPERM');
    expect(errors.map(([k, code]) => [k === RAW_KEY, code])).toEqual([
      [true, 'ENOENT'],
      [true, 'EPERM'],
    ]);
  });
});
