/**
 * The mirror's lean decoder (src/ctnetlink/compact.ts) against the full decoder, on every
 * conntrack message of the kernel corpus and the recorded captures.
 */
import { describe, expect, it } from 'vitest';
import { CompactEntry, COMPACT_CONNTRACK, COMPACT_DONE, COMPACT_ERROR, EV_DESTROY, EV_NEW, EV_NONE, EV_UPDATE, HAS_MARK, HAS_STATUS, HAS_TCP_STATE, HAS_TIMEOUT, HAS_ZONE, decodeCompactDatagram } from '../src/ctnetlink/compact.js';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import { parseIpv4, parseIpv6 } from '../src/ctnetlink/address.js';
import { loadCorpus } from './helpers/corpus.js';

function words(addr: string | undefined): number[] {
  if (addr === undefined) return [0, 0, 0, 0];
  const b = (addr.includes(":") ? parseIpv6(addr) : parseIpv4(addr))!;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [0, 0, 0, 0];
  for (let i = 0; i < b.length / 4; i++) out[i] = dv.getUint32(i * 4, false);
  return out;
}

describe('compact decoder', () => {
  it('agrees with the full decoder on every recorded conntrack message', async () => {
    const corpus = await loadCorpus();
    let compared = 0;
    let events = 0;
    for (const entry of corpus) {
      let full;
      try {
        full = decodeDatagram(entry.bytes);
      } catch {
        continue; // malformed on purpose (error fixtures): the full decoder's business
      }
      const got: { kind: number; event: number; has: number; family: number; proto: number; sport: number; dport: number; zone: number; status: number; timeout: number; mark: number; id: number; tcpState: number; error: number; addr: number[] }[] = [];
      decodeCompactDatagram(entry.bytes, new CompactEntry(), (e) => got.push({ ...e, addr: [...e.addr] }));
      expect(got.length, entry.origin).toBe(full.length);
      full.forEach((m, i) => {
        const c = got[i]!;
        if (m.kind === 'done') expect(c.kind).toBe(COMPACT_DONE);
        if (m.kind === 'error') {
          expect(c.kind).toBe(COMPACT_ERROR);
          expect(c.error).toBe(m.error.error);
        }
        if (m.kind !== 'conntrack') return;
        const t = m.header.type & 0xff;
        if (t !== 0 && t !== 2) return; // GET/flush requests are not mirror material
        expect(c.kind, entry.origin).toBe(COMPACT_CONNTRACK);
        const ct = m.conntrack;
        const want = m.event === 'new' ? EV_NEW : m.event === 'update' ? EV_UPDATE : m.event === 'destroy' ? EV_DESTROY : EV_NONE;
        expect(c.event, entry.origin).toBe(want);
        if (m.event) events++;
        expect(c.family).toBe(ct.family);
        const o = ct.orig ?? {};
        expect(c.proto).toBe(o.proto ?? 0);
        expect(c.addr.slice(0, 4)).toEqual(words(o.src));
        expect(c.addr.slice(4, 8)).toEqual(words(o.dst));
        if (o.icmpType !== undefined || o.icmpId !== undefined) {
          expect(c.sport).toBe(o.icmpId ?? 0);
          expect(c.dport).toBe(((o.icmpType ?? 0) << 8) | (o.icmpCode ?? 0));
        } else {
          expect(c.sport).toBe(o.srcPort ?? 0);
          expect(c.dport).toBe(o.dstPort ?? 0);
        }
        expect(c.has & HAS_STATUS ? c.status : undefined).toBe(ct.status);
        expect(c.has & HAS_TIMEOUT ? c.timeout : undefined).toBe(ct.timeout);
        expect(c.has & HAS_MARK ? c.mark : undefined).toBe(ct.mark);
        expect(c.has & HAS_ZONE ? c.zone : undefined).toBe(ct.zone);
        expect(c.id).toBe(ct.id ?? 0);
        expect(c.has & HAS_TCP_STATE ? c.tcpState : undefined).toBe(ct.protoinfo?.tcp?.state);
        compared++;
      });
    }
    expect(compared).toBeGreaterThan(500);
    expect(events).toBeGreaterThan(100);
  });

  it('throws NetlinkDecodeError on broken framing', () => {
    const b = new Uint8Array(20);
    new DataView(b.buffer).setUint32(0, 400, true);
    expect(() => decodeCompactDatagram(b, new CompactEntry(), () => {})).toThrow(/nlmsg_len 400/);
  });
});
