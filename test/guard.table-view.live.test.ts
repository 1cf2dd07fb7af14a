/**
 * The guard's view over the live mirror (src/guard/table-view.ts), in a throwaway namespace
 * with a constructed table (entries created over ctnetlink; no global setting touched):
 * the entries it gives carry the same key/source/state/assured/idle as a dump snapshot,
 * the policy ranks them in the documented order, the per-source aggregate finds a
 * concentrated source, and the Guard, on the table (its default), evicts exactly as the
 * dump-based view did, or flushes a heavy source inside the kernel.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConntrackClient } from '../src/client/index.js';
import { readConntrackSysctls } from '../src/client/sysctls.js';
import type { Conntrack } from '../src/ctnetlink/model.js';
import { Guard, type GuardRecord } from '../src/guard/guard.js';
import { chooseVictims } from '../src/guard/policy.js';
import { TableView, heavySources } from '../src/guard/table-view.js';
import { heavyPrefixes, streamEvict } from '../src/guard/stream-evict.js';
import { SnapshotView } from '../src/guard/view.js';
import { ConntrackTable } from '../src/table/table.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';
import { ESTABLISHED, TIME_WAIT, tcpEntry } from './helpers/ct-fixtures.js';

const skip = liveSkipReason();
if (skip) console.warn(`guard.table-view.live.test.ts: ${skip}`);


const tcp = tcpEntry;

function udp(src: string, sport: number, timeout: number): Conntrack {
  return {
    family: 2,
    orig: { src, dst: '10.9.9.9', proto: 17, srcPort: sport, dstPort: 53 },
    reply: { src: '10.9.9.9', dst: src, proto: 17, srcPort: 53, dstPort: sport },
    timeout, status: 0,
  };
}

describe.skipIf(skip !== undefined)('guard view over the live table', () => {
  let ns: Netns;
  let c: ConntrackClient;
  let dir: string;
  beforeAll(async () => {
    ns = createNetns();
    c = await ConntrackClient.open({ netns: ns.name });
    dir = mkdtempSync(join(tmpdir(), 'ctev-guard-tv-'));
  });
  afterAll(async () => {
    await c?.close();
    ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** 100 idle attacker entries over 4 sources, 20 fresh legitimate ones, 5 idle protected, 5 closing, 5 unreplied UDP. */
  beforeEach(async () => {
    await c.flush();
    for (let i = 0; i < 100; i++) await c.create(tcp(`10.66.0.${i % 4}`, 1000 + i, ESTABLISHED, 431000 - i));
    for (let i = 0; i < 20; i++) await c.create(tcp('192.168.1.10', 2000 + i, ESTABLISHED, 432000));
    for (let i = 0; i < 5; i++) await c.create(tcp('192.168.7.7', 3000 + i, ESTABLISHED, 1000));
    for (let i = 0; i < 5; i++) await c.create(tcp('10.77.0.1', 4000 + i, TIME_WAIT, 100));
    for (let i = 0; i < 5; i++) await c.create(udp('10.88.0.1', 5000 + i, 20));
  });

  it('gives the same candidates as a dump, and the policy ranks them in order', async () => {
    const table = await ConntrackTable.open(c, { netns: ns.name });
    try {
      const sysctls = readConntrackSysctls(ns.name);
      const protect = (ct: Conntrack) => ct.orig?.src === '192.168.7.7';
      const tv = TableView.take(table, { sysctls, protect });
      const sv = await SnapshotView.take(c, sysctls, protect);
      expect(tv.count()).toBe(135);
      const norm = (e: { key: { orig?: { src?: string; srcPort?: number } }; src: string; proto: number; tcpState?: number; assured: boolean; idle: number; protected?: boolean }) =>
        `${e.key.orig!.src}:${e.key.orig!.srcPort} ${e.src} ${e.proto} ${e.tcpState ?? '-'} ${e.assured} ${Math.round(e.idle / 2)} ${e.protected ?? false}`;
      expect([...tv.entries()].map(norm).sort()).toEqual([...sv.entries()].map(norm).sort());
      for (const e of tv.entries()) {
        expect(e.key.id).toBeGreaterThan(0);
        if (e.src.startsWith('10.66.')) expect(e.src4).toBe((10 << 24 | 66 << 16) + Number(e.src.split('.')[3]));
      }

      const v = chooseVictims(tv.entries(), 115);
      const steps = v.map((x) => x.step);
      // closing first, then the unreplied UDP (idle >= 5 s of its 30 s), then the assured attacker entries; fresh and protected never
      expect(steps.slice(0, 5)).toEqual(Array(5).fill('closing'));
      expect(v.slice(0, 5).every((x) => x.entry.src === '10.77.0.1')).toBe(true);
      expect(steps.slice(5, 10)).toEqual(Array(5).fill('unassured'));
      expect(steps.slice(10, 110)).toEqual(Array(100).fill('assured'));
      expect(v.slice(10, 110).every((x) => x.entry.src.startsWith('10.66.0.'))).toBe(true);
      // fair over the 4 attacker sources: any 8 consecutive assured victims hit each twice
      const firstEight = v.slice(10, 18).map((x) => x.entry.src).sort();
      expect(new Set(firstEight).size).toBe(4);
      // inside a source, the idlest first (higher sport = created with less timeout left = idler)
      const of0 = v.filter((x) => x.entry.src === '10.66.0.0').map((x) => x.entry.key.orig!.srcPort!);
      expect(of0).toEqual([...of0].sort((a, b) => b - a));
      expect(v.slice(110).every((x) => x.step === 'fresh' && x.entry.src === '192.168.1.10')).toBe(true);
      expect(v.some((x) => x.entry.src === '192.168.7.7')).toBe(false);

      // per-source counts from the table's aggregate, no scan
      expect(heavySources(table, 25).sort((a, b) => a.src.localeCompare(b.src))).toEqual([0, 1, 2, 3].map((i) => ({ src: `10.66.0.${i}`, count: 25 })));
      expect(tv.sourceCount('192.168.1.10')).toBe(20);
    } finally {
      table.close();
    }
  });

  function run(opts: ConstructorParameters<typeof Guard>[1], until: (r: GuardRecord) => boolean): Promise<GuardRecord[]> {
    const log: GuardRecord[] = [];
    const stop = new AbortController();
    const g = new Guard(c, {
      maxEntries: 100, high: 0.9, low: 0.75, intervalMs: 20, stateFile: join(dir, 'state.json'), shortenTimeouts: false, ...opts,
      log: (r) => {
        log.push(r);
        if (until(r)) stop.abort();
      },
    });
    return g.run(stop.signal).then(() => log);
  }

  const attackerLeft = (left: Record<string, number>) => Object.entries(left).filter(([s]) => s.startsWith('10.66.')).reduce((a, [, n]) => a + n, 0);

  async function hasPort(sport: number): Promise<boolean> {
    for await (const e of c.dump()) if (e.orig?.srcPort === sport) return true;
    return false;
  }

  async function sources(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (const e of c.dump()) out[e.orig!.src!] = (out[e.orig!.src!] ?? 0) + 1;
    return out;
  }

  it('the Guard on the table (default): evicts in policy order down to the low watermark', async () => {
    const log = await run({ apply: true, protect: (ct) => ct.orig?.src === '192.168.7.7' }, (r) => r.action === 'evict');
    expect(log.find((r) => r.action === 'table-open')).toMatchObject({ entries: 135 });
    expect(log.find((r) => r.action === 'rank')).toMatchObject({ source: 'table', entries: 135 });
    expect(log.find((r) => r.action === 'evict')).toMatchObject({ deleted: 60, missing: 0, refused: 0, bySteps: { closing: 5, unassured: 5, assured: 50 } });
    const left = await sources();
    expect(left['10.77.0.1']).toBeUndefined();
    expect(left['10.88.0.1']).toBeUndefined();
    expect(left['192.168.1.10']).toBe(20);
    expect(left['192.168.7.7']).toBe(5);
    for (let s = 0; s < 4; s++) expect([12, 13]).toContain(left[`10.66.0.${s}`]);
  });

  it('a source holding flushShare of the maximum: its ASSURED entries go by one kernel-side flush each', async () => {
    let n = 0;
    const log = await run({ apply: true, flushShare: 0.25 }, (r) => r.action === 'flush-source' && ++n === 4);
    const flushes = log.filter((r) => r.action === 'flush-source');
    expect(flushes.map((r) => r.src).sort()).toEqual(['10.66.0.0', '10.66.0.1', '10.66.0.2', '10.66.0.3']);
    for (const f of flushes) expect(f).toMatchObject({ entries: 25, deleted: 25 });
    const left = await sources();
    expect(Object.keys(left).filter((s) => s.startsWith('10.66.'))).toEqual([]);
    expect(left['192.168.1.10']).toBe(20); // 20 entries: under 25 % of 100
    expect(left['10.88.0.1']).toBe(5);
  });

  it('insert flood (floodRate reached): rows of the heavy prefix straight from the store, exactly the need, protect respected', async () => {
    const log = await run({ apply: true, flushShare: 0, floodRate: 0, protect: (ct) => ct.orig?.srcPort === 1000 }, (r) => r.action === 'evict');
    expect(log.find((r) => r.action === 'evict')).toMatchObject({ deleted: 60, missing: 0, refused: 0 });
    expect(log.some((r) => r.action === 'rank')).toBe(false);
    const left = await sources();
    expect(attackerLeft(left)).toBe(40);
    expect(left['192.168.1.10']).toBe(20);
    expect(left['10.77.0.1']).toBe(5);
    expect(await hasPort(1000)).toBe(true);
  });

  it('a mirror behind the kernel is suspended: eviction from dumps, heavy prefix only, exactly down to the low watermark', async () => {
    const log = await run({ apply: true, flushShare: 0, streamBelow: 2 }, (r) => r.action === 'evict');
    expect(log.find((r) => r.action === 'table-suspend')).toMatchObject({ mirrored: 135, count: 135 });
    expect(log.find((r) => r.action === 'evict')).toMatchObject({ deleted: 60, missing: 0, refused: 0, streamed: 60, prefixes: [String(10 * 256 + 66)] });
    const left = await sources();
    expect(attackerLeft(left)).toBe(40);
    expect(left['192.168.1.10']).toBe(20);
    expect(left['192.168.7.7']).toBe(5);
    expect(left['10.77.0.1']).toBe(5);
  });

  it('streaming eviction: heavy prefixes decided on a sample of the dump, never more than the need, protect respected', async () => {
    const table = await ConntrackTable.open(c, { netns: ns.name });
    try {
      expect([...heavyPrefixes(table)]).toEqual([(10 * 256 + 66)]); // 10.66/16: 100 of 135
    } finally {
      table.close();
    }
    const keys: number[] = [];
    const r = await streamEvict(c, { need: 30, sample: 50, protect: (ct) => ct.orig?.srcPort === 1000, onKey: (k) => keys.push(k.id!) });
    expect(r).toMatchObject({ chosen: 30, deleted: 30, missing: 0, failed: 0, prefixes: [String(10 * 256 + 66)].map(Number) });
    expect(keys).toHaveLength(30);
    const left = await sources();
    expect(attackerLeft(left)).toBe(70);
    expect(left['192.168.1.10']).toBe(20);
    expect(left['10.77.0.1']).toBe(5);
    // the protected one is still there
    expect(await hasPort(1000)).toBe(true);
    // nothing heavy in a table where no prefix stands out is still bounded by the need
    expect((await streamEvict(c, { need: 0 })).chosen).toBe(0);
  });
});
