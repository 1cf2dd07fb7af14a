/**
 * The guard's flood evictor (src/guard/flood-evict.ts) against the kernel, in a throwaway
 * namespace with a constructed table (entries created over ctnetlink; nothing global
 * touched): victims from NEW events are the newest entries of the heavy prefix, the rest
 * come from a dump, never more than asked, never outside the heavy prefix, never a
 * protected or a non-assured entry (those are early_drop's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/index.js';
import { FloodEvictor } from '../src/guard/flood-evict.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';
import { ESTABLISHED, tcpEntry } from './helpers/ct-fixtures.js';

const skip = liveSkipReason();
if (skip) console.warn(`guard.flood.live.test.ts: ${skip}`);

const HEAVY = new Set<string | number>([10 * 256 + 66]);

describe.skipIf(skip !== undefined)('flood evictor on the live table', () => {
  let ns: Netns;
  let c: ConntrackClient;
  beforeAll(async () => {
    ns = createNetns();
    c = await ConntrackClient.open({ netns: ns.name });
  });
  afterAll(async () => {
    await c?.close();
    ns?.remove();
  });

  async function ports(): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for await (const e of c.dump()) {
      const k = e.orig!.src!;
      if (!out.has(k)) out.set(k, []);
      out.get(k)!.push(e.orig!.srcPort!);
    }
    return out;
  }

  it('newest heavy-prefix entries from events first, then a dump; exactly the need; protect and other prefixes untouched', async () => {
    await c.flush();
    // Before the subscription: 100 attacker entries (one protected: port 1000), 20 legitimate.
    for (let i = 0; i < 100; i++) await c.create(tcpEntry(`10.66.0.${i % 4}`, 1000 + i, ESTABLISHED, 432000));
    for (let i = 0; i < 20; i++) await c.create(tcpEntry('192.168.1.10', 2000 + i, ESTABLISHED, 432000));
    // Non-assured entries of the heavy prefix: early_drop's, never the flood evictor's.
    for (let i = 0; i < 5; i++) await c.create(tcpEntry('10.66.2.1', 5000 + i, ESTABLISHED, 432000, false));
    const f = new FloodEvictor(c, { prefixes: HEAVY, protect: (ct) => ct.orig?.srcPort === 1000 }).open();
    try {
      // After it: 50 more attacker entries and 10 legitimate ones, seen as NEW events.
      for (let i = 0; i < 50; i++) await c.create(tcpEntry(`10.66.1.${i % 4}`, 3000 + i, ESTABLISHED, 432000));
      for (let i = 0; i < 10; i++) await c.create(tcpEntry('192.168.1.11', 4000 + i, ESTABLISHED, 432000));
      for (let t = 0; t < 100 && f.stats.events < 60; t++) await new Promise((r) => setTimeout(r, 20));
      expect(f.queued).toBe(50);
      expect(f.stats).toMatchObject({ events: 60, kept: 50, overruns: 0 });

      // 30 from events, no dump: the 30 newest (ports 3020..3049).
      const r1 = await f.evict(30, { dump: false });
      expect(r1).toMatchObject({ fromEvents: 30, fromDump: 0, requested: 30, deleted: 30, missing: 0, failed: 0 });
      let p = await ports();
      const newer = [0, 1, 2, 3].flatMap((i) => p.get(`10.66.1.${i}`) ?? []).sort((a, b) => a - b);
      expect(newer).toEqual(Array.from({ length: 20 }, (_, i) => 3000 + i));

      // 100 more: the 20 left from events, then 80 from a dump (heavy prefix, not protected).
      const r2 = await f.evict(100);
      expect(r2).toMatchObject({ fromEvents: 20, fromDump: 80, deleted: 100, missing: 0, failed: 0 });
      p = await ports();
      const attacker = [...p].filter(([src]) => src.startsWith('10.66.') && src !== '10.66.2.1').flatMap(([, v]) => v);
      expect(attacker).toHaveLength(20);
      expect(attacker).toContain(1000); // protected
      expect(p.get('192.168.1.10')).toHaveLength(20);
      expect(p.get('192.168.1.11')).toHaveLength(10);

      // Only 19 unprotected attacker entries are left: asking for more deletes just those.
      const r3 = await f.evict(1000);
      expect(r3).toMatchObject({ fromEvents: 0, fromDump: 19, deleted: 19 });
      p = await ports();
      expect([...p].filter(([src]) => src.startsWith('10.66.') && src !== '10.66.2.1').flatMap(([, v]) => v)).toEqual([1000]);
      expect(p.get('10.66.2.1')).toHaveLength(5);
      expect(await f.evict(0)).toMatchObject({ requested: 0, fromEvents: 0, fromDump: 0 });
    } finally {
      f.close();
    }
  });
});
