/**
 * Receive batches on the real kernel (issue 14): NetlinkSocket.onReceiveBatch and
 * Subscription({ raw, batches }) against the per-datagram items of a second socket on the
 * same events (the same datagrams, byte for byte, in the same order), receive times
 * (within the run, non-decreasing, sub-millisecond), and the receive thread's own drops
 * reported in-band in batch form. The receive thread takes up to 16 datagrams per
 * recvmmsg, so the flows here are many more than that. Skipped (reason printed) when not
 * root or without the addon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/client.js';
import type { EventItem } from '../src/client/events.js';
import { RB_FLAGS, RB_GROUPS, RB_LEN, RB_LOCAL_DROP, RB_PID, RB_STRIDE, batchTimeNs } from '../src/client/receive-batch.js';
import { NetlinkSocket } from '../src/socket/netlink-socket.js';
import { createNetns, liveSkipReason, ping, tcpConnection, udpFlows, type Netns } from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.warn(`listen-batch.live.test.ts: ${skip}`);

async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Netlink messages in a datagram. */
function messages(d: Uint8Array): number {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let n = 0;
  for (let off = 0; off + 16 <= d.length; ) {
    const len = v.getUint32(off, true);
    if (len < 16) break;
    n++;
    off += (len + 3) & ~3;
  }
  return n;
}

describe.skipIf(skip !== undefined)('receive batches (live kernel)', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => ns?.remove());

  it('a batch subscription gets the datagrams a per-datagram one gets, in order, with their receive times', async () => {
    const ct = await ConntrackClient.open({ netns: ns.name });
    try {
      const batched = ct.events({ raw: true, batches: true });
      const plain = ct.events({ raw: true });
      const got: { data: Uint8Array; ns: bigint; pid: number; groups: number }[] = [];
      const ref: Uint8Array[] = [];
      const t0 = BigInt(Date.now() - 1) * 1_000_000n;
      udpFlows(ns, 9000, 400);
      tcpConnection(ns, '127.0.0.1', 8080);
      ping(ns, '127.0.0.1');
      const take = () => {
        for (const it of batched.drain()) {
          expect(it.kind).toBe('batch');
          if (it.kind !== 'batch') continue;
          let off = it.offset;
          for (let i = it.first; i < it.end; i++) {
            const m = i * RB_STRIDE;
            const len = it.meta[m + RB_LEN]!;
            got.push({ data: it.data.slice(off, off + len), ns: batchTimeNs(it.meta, m), pid: it.meta[m + RB_PID]!, groups: it.meta[m + RB_GROUPS]! });
            off += len;
          }
        }
        for (const it of plain.drain()) if (it.kind === 'datagram') ref.push(it.data.slice());
      };
      // 400 UDP NEW + DESTROY on a 30 s timeout: NEWs now, the TCP connection's NEW/UPDATEs, ICMP
      await waitFor(() => {
        take();
        return got.length >= 403 && ref.length >= 403;
      });
      await new Promise((r) => setTimeout(r, 50));
      take();
      const t1 = BigInt(Date.now() + 1) * 1_000_000n;
      expect(got.length).toBe(ref.length);
      got.forEach((g, i) => expect(Buffer.from(g.data).equals(Buffer.from(ref[i]!)), `datagram ${i}`).toBe(true));
      for (const g of got) {
        expect(g.ns >= t0 && g.ns <= t1).toBe(true);
        expect(g.pid).toBe(0); // from the kernel
        expect(g.groups).not.toBe(0); // multicast
      }
      for (let i = 1; i < got.length; i++) expect(got[i]!.ns >= got[i - 1]!.ns).toBe(true);
      expect(got.some((g) => g.ns % 1_000_000n !== 0n)).toBe(true);
      batched.close();
      plain.close();
    } finally {
      await ct.close();
    }
  });

  it('the receive thread\'s own drops arrive in-band between the batches, with their count', async () => {
    const s = NetlinkSocket.open({ netns: ns.name, groups: [1], receiveBufferSize: 64 << 20, receiveThread: 256 * 1024 });
    try {
      const batches: { data: Uint8Array; meta: Uint32Array }[] = [];
      s.onReceiveBatch((data, meta) => batches.push({ data, meta }), () => {});
      s.pause();
      udpFlows(ns, 20000, 3000); // more than the 256 KiB buffer holds
      await waitFor(() => (s.receiveStats().localDrops ?? 0) > 0);
      expect(batches).toHaveLength(0);
      s.resume();
      let kept = 0;
      let lost = 0;
      let markers = 0;
      const count = () => {
        kept = 0;
        lost = 0;
        markers = 0;
        for (const b of batches) {
          let off = 0;
          for (let m = 0; m < b.meta.length; m += RB_STRIDE) {
            const len = b.meta[m + RB_LEN]!;
            if (b.meta[m + RB_FLAGS]! & RB_LOCAL_DROP) {
              markers++;
              lost += b.meta[m + RB_PID]!;
              expect(len).toBe(0);
            } else {
              kept += messages(b.data.subarray(off, off + len));
            }
            off += len;
          }
          expect(off).toBe(b.data.length);
        }
        return kept + lost;
      };
      await waitFor(() => count() >= 3000);
      expect(count()).toBe(3000);
      expect(markers).toBeGreaterThan(0);
      expect(lost).toBe(s.localDrops());
      expect(s.drops()).toBe(0);
    } finally {
      s.close();
    }
  });

  it('the subscription turns those rows into overrun items; kept + lost is every event', async () => {
    const ct = await ConntrackClient.open({ netns: ns.name, receiveThreadBuffer: 256 * 1024 });
    try {
      const sub = ct.events({ types: ['new'], raw: true, batches: true, highWaterBytes: 1 });
      const items: EventItem[] = [];
      udpFlows(ns, 30000, 1);
      await sub.wait(); // the first batch pauses delivery (1 byte high water)
      udpFlows(ns, 30001, 2999);
      await new Promise((r) => setTimeout(r, 1500));
      let kept = 0;
      let lost = 0;
      await waitFor(() => {
        for (const it of sub.drain()) {
          items.push(it);
          if (it.kind === 'overrun') lost += it.source === 'buffer' ? it.lost ?? 0 : 0;
          if (it.kind === 'batch') {
            let off = it.offset;
            for (let i = it.first; i < it.end; i++) {
              const len = it.meta[i * RB_STRIDE + RB_LEN]!;
              kept += messages(it.data.subarray(off, off + len));
              off += len;
            }
          }
        }
        return kept + lost >= 3000;
      });
      expect(kept + lost).toBe(3000);
      expect(lost).toBeGreaterThan(0);
      expect(items.some((i) => i.kind === 'overrun' && i.source === 'buffer')).toBe(true);
      sub.close();
    } finally {
      await ct.close();
    }
  });
  it('maxDelayMs: 0 (woken after every drain) gets the same datagrams; out-of-range values are refused before a socket opens', async () => {
    const ct = await ConntrackClient.open({ netns: ns.name });
    try {
      expect(() => ct.events({ maxDelayMs: 1001 })).toThrow(RangeError);
      expect(() => ct.events({ maxDelayMs: -1 })).toThrow(RangeError);
      expect(() => ct.events({ maxDelayMs: 0.5 })).toThrow(/maxDelayMs/);
      const prompt = ct.events({ raw: true, batches: true, maxDelayMs: 0 });
      const plain = ct.events({ raw: true });
      const got: Uint8Array[] = [];
      const ref: Uint8Array[] = [];
      udpFlows(ns, 40000, 300);
      const take = () => {
        for (const it of prompt.drain()) {
          if (it.kind !== 'batch') continue;
          let off = it.offset;
          for (let i = it.first; i < it.end; i++) {
            const len = it.meta[i * RB_STRIDE + RB_LEN]!;
            got.push(it.data.slice(off, off + len));
            off += len;
          }
        }
        for (const it of plain.drain()) if (it.kind === 'datagram') ref.push(it.data.slice());
      };
      await waitFor(() => {
        take();
        return got.length >= 300 && ref.length >= 300;
      });
      await new Promise((r) => setTimeout(r, 100));
      take();
      // The same datagrams in the same order (an earlier test's flow may expire meanwhile:
      // both sockets get its DESTROY, one of them perhaps after the last drain).
      const n = Math.min(got.length, ref.length);
      expect(n).toBeGreaterThanOrEqual(300);
      expect(Buffer.concat(got.slice(0, n)).equals(Buffer.concat(ref.slice(0, n)))).toBe(true);
      prompt.close();
      plain.close();
    } finally {
      await ct.close();
    }
  });
});
