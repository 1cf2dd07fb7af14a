/**
 * The table mirror against the kernel: after churn, after forced overruns (a 4 KiB
 * receive buffer under a flood), and across a flush, the mirror's count and per-source
 * counts equal `conntrack -L` aggregated the same way. Each test runs in a namespace it
 * creates and removes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/client.js';
import { ConntrackTable, type ResyncReport } from '../src/table/index.js';
import { IPS_ASSURED, IPS_SEEN_REPLY } from '../src/ctnetlink/constants.js';
import { createNetns, liveSkipReason, parseConntrackLine, tcpConnection, udpFlows, type Netns } from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.warn(`table.live.test.ts: ${skip}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ground truth: conntrack -L aggregated by source, and the count. */
function truth(ns: Netns): { count: number; bySource: Map<string, number>; byDport: Map<string, number> } {
  const lines = ns.exec('conntrack', ['-L']).split('\n').filter((l) => l.trim().length > 0);
  const bySource = new Map<string, number>();
  const byDport = new Map<string, number>();
  for (const l of lines) {
    const r = parseConntrackLine(l);
    bySource.set(r.src!, (bySource.get(r.src!) ?? 0) + 1);
    if (r.dport !== undefined) byDport.set(r.dport, (byDport.get(r.dport) ?? 0) + 1);
  }
  return { count: lines.length, bySource, byDport };
}

function mirrorBySource(t: ConntrackTable): Map<string, number> {
  return new Map(t.top('source', 1_000_000).map((i) => [i.key, i.count]));
}

/** Wait until the mirror is in sync and agrees with conntrack -C (or time out). */
async function settle(t: ConntrackTable, ns: Netns, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(100);
    if (t.inSync && t.size === Number(ns.exec('conntrack', ['-C']).trim())) {
      await sleep(200);
      if (t.inSync && t.size === Number(ns.exec('conntrack', ['-C']).trim())) return;
    }
  }
}

/** Entries from many sources, created over ctnetlink (NEW events for the mirror). */
async function createMany(ct: ConntrackClient, n: number, base = 0): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const k = base + i;
    const src = `198.19.${(k >> 8) & 0xff}.${k % 7}`;
    const sport = 1024 + (k % 60000);
    const dport = [53, 80, 443, 8080][k % 4]!;
    all.push(
      ct.create({
        family: 2,
        orig: { src, dst: '198.18.0.1', proto: 17, srcPort: sport, dstPort: dport },
        reply: { src: '198.18.0.1', dst: src, proto: 17, srcPort: dport, dstPort: sport },
        timeout: 600,
        status: k % 3 === 0 ? IPS_ASSURED | IPS_SEEN_REPLY : 0,
      }),
    );
    if (all.length >= 256) await Promise.all(all.splice(0));
  }
  await Promise.all(all);
}

function expectSame(t: ConntrackTable, ns: Netns): void {
  const g = truth(ns);
  expect(t.size).toBe(g.count);
  expect(mirrorBySource(t)).toEqual(g.bySource);
  const dports = new Map(t.top('dport', 100000).map((i) => [i.key, i.count]));
  expect(dports).toEqual(g.byDport);
  // Every other grouping sums to the size.
  for (const grouping of ['proto', 'assured', 'zone', 'mark', 'destination', 'sourcePrefix'] as const) {
    expect(t.top(grouping, 1_000_000).reduce((a, i) => a + i.count, 0)).toBe(t.size);
  }
}

describe.skipIf(skip !== undefined)('ConntrackTable, live kernel', { timeout: 60_000 }, () => {
  let ns: Netns;
  let ct: ConntrackClient;

  beforeAll(async () => {
    ns = createNetns();
    ct = await ConntrackClient.open({ netns: ns.name });
  });
  afterAll(async () => {
    await ct?.close();
    ns?.remove();
  });

  it('mirrors the table after churn: count and per-source counts equal conntrack -L', async () => {
    udpFlows(ns, 20000, 300);
    await createMany(ct, 500);
    const t = await ConntrackTable.open(ct, { netns: ns.name, unwatchedResyncMs: 500 });
    try {
      expect(t.inSync).toBe(true);
      expectSame(t, ns);
      // Churn while following: more entries, TCP, deletes of some, updates of others.
      await createMany(ct, 1500, 500);
      // IPv6 entries (a side store in the mirror) from a few sources.
      for (let k = 0; k < 60; k++) {
        const src = `2001:db8::${(k % 5) + 1}`;
        await ct.create({
          family: 10,
          orig: { src, dst: '2001:db8::ff', proto: 17, srcPort: 3000 + k, dstPort: 53 },
          reply: { src: '2001:db8::ff', dst: src, proto: 17, srcPort: 53, dstPort: 3000 + k },
          timeout: 600,
        });
      }
      for (let k = 0; k < 20; k++) {
        await ct.delete({ family: 10, orig: { src: `2001:db8::${(k % 5) + 1}`, dst: '2001:db8::ff', proto: 17, srcPort: 3000 + k, dstPort: 53 } });
      }
      tcpConnection(ns, '127.0.0.1', 8088);
      for (let k = 0; k < 200; k++) {
        const src = `198.19.${(k >> 8) & 0xff}.${k % 7}`;
        await ct.delete({ family: 2, orig: { src, dst: '198.18.0.1', proto: 17, srcPort: 1024 + k, dstPort: [53, 80, 443, 8080][k % 4]! } });
      }
      await ct.update({ family: 2, orig: { src: '198.19.1.0', dst: '198.18.0.1', proto: 17, srcPort: 1024 + 259, dstPort: 8080 }, mark: 7 });
      await settle(t, ns);
      expectSame(t, ns);
      const e = t.get({ orig: { src: '198.19.1.0', dst: '198.18.0.1', proto: 17, srcPort: 1024 + 259, dstPort: 8080 } });
      expect(e?.mark).toBe(7);
      expect(e?.timeout).toBeGreaterThan(500);
      expect(t.count('mark', 7)).toBe(1);
      expect(t.get({ orig: { src: '198.19.0.0', dst: '198.18.0.1', proto: 17, srcPort: 1024, dstPort: 53 } })).toBeUndefined();
      const v6 = t.get({ orig: { src: '2001:db8::1', dst: '2001:db8::ff', proto: 17, srcPort: 3020, dstPort: 53 } });
      expect(v6).toMatchObject({ family: 10, src: '2001:db8::1', dst: '2001:db8::ff', srcPort: 3020, dstPort: 53 });
      expect(t.count('source', '2001:db8::1')).toBe(8);
      expect(t.top('sourcePrefix', 100).find((i) => i.key === '2001:db8::/64')?.count).toBe(40);
      const c = t.counters;
      expect(c.new).toBeGreaterThanOrEqual(1500);
      // The IPv6 deletes at least (entries created while we listened); the IPv4 ones were
      // created before and may send no event at all (nf_conntrack_events=2): a resync removes them.
      expect(c.destroy).toBeGreaterThanOrEqual(20);
      expect(c.destroyedUnexpired).toBeGreaterThanOrEqual(20);
      expect([...t].length).toBe(t.size);
      const h = t.lifetimeHistogram();
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(t.size);
      const idle = t.idleHistogram();
      expect(idle.counts.reduce((a, b) => a + b, 0)).toBe(t.size);
    } finally {
      t.close();
    }
    await ct.flush();
  });

  it('repairs itself after forced overruns (4 KiB receive buffer, no receive thread, under a flood)', async () => {
    await createMany(ct, 300, 7000);
    // Without the addon's receive thread nothing drains the 4 KiB socket while this process
    // is busy: the kernel must drop, and the mirror must repair it.
    const t = await ConntrackTable.open(ct, { netns: ns.name, receiveBufferSize: 4096, receiveThreadBuffer: 0, unwatchedResyncMs: 500 });
    const reports: ResyncReport[] = [];
    t.on('resync', (r) => reports.push(r));
    let overruns = 0;
    t.on('overrun', () => overruns++);
    try {
      // Synchronous: this process cannot read while the flood runs, so the socket overflows.
      udpFlows(ns, 30000, 3000);
      ns.exec('conntrack', ['-D', '-p', 'udp', '--orig-port-dst', '53']);
      udpFlows(ns, 40000, 2000);
      await settle(t, ns, 20_000);
      expect(overruns).toBeGreaterThan(0);
      expect(t.counters.resyncs).toBeGreaterThan(0);
      expect(reports.some((r) => r.reason === 'overrun')).toBe(true);
      const repaired = t.counters.repairedAdded + t.counters.repairedRemoved;
      if (t.counters.lost > 0) expect(repaired).toBeGreaterThan(0);
      expect(t.inSync).toBe(true);
      expectSame(t, ns);
    } finally {
      t.close();
    }
    await ct.flush();
  });

  it('follows a flush: the mirror empties with the table', async () => {
    await createMany(ct, 2000, 20000);
    const t = await ConntrackTable.open(ct, { netns: ns.name, unwatchedResyncMs: 500 });
    try {
      expect(t.size).toBe(2000);
      // Created before anyone listened (nf_conntrack_events=2): no DESTROY events will come
      // for them; the periodic resync for such entries repairs the mirror.
      expect(t.counters.unwatched).toBe(2000);
      ns.exec('conntrack', ['-F']);
      await settle(t, ns);
      expect(t.size).toBe(0);
      expectSame(t, ns);
      expect(t.top('source', 10)).toEqual([]);
      expect(t.counters.unwatched).toBe(0);
      await createMany(ct, 100, 30000);
      await settle(t, ns);
      expectSame(t, ns);
    } finally {
      t.close();
    }
    await ct.flush();
  });
});
