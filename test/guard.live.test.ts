/**
 * The guard against the live kernel, in a throwaway namespace with a constructed table
 * (entries created over ctnetlink) and a small budget (`maxEntries` / --max) so that no
 * global setting is touched: what it evicts (policy order, protection, exactly down to the
 * low watermark), that a dry run changes nothing, and that every timeout sysctl it
 * shortened is restored: at stop, after a crash of its logic, from a state file left by a
 * killed guard, and on SIGTERM of `ctevents guard`.
 */
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/index.js';
import { readConntrackSysctls } from '../src/client/sysctls.js';
import type { Conntrack } from '../src/ctnetlink/model.js';
import { Guard, type GuardRecord } from '../src/guard/guard.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';
import { ESTABLISHED, TIME_WAIT, tcpEntry } from './helpers/ct-fixtures.js';

const skip = liveSkipReason();
if (skip) console.warn(`guard.live.test.ts: ${skip}`);
const bin = join(new URL('..', import.meta.url).pathname, 'dist/cli/ctevents.cjs');

const tcp = tcpEntry;


describe.skipIf(skip !== undefined)('guard, live kernel', () => {
  let ns: Netns;
  let c: ConntrackClient;
  let dir: string;
  let udpTimeout: number;
  beforeAll(async () => {
    ns = createNetns();
    c = await ConntrackClient.open({ netns: ns.name });
    dir = mkdtempSync(join(tmpdir(), 'ctev-guard-'));
    udpTimeout = readConntrackSysctls(ns.name).nf_conntrack_udp_timeout!;
  });
  afterAll(async () => {
    await c?.close();
    ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** 100 idle attacker entries over 4 sources, 20 legitimate fresh ones, 5 protected idle ones, 5 closing. */
  async function fill(): Promise<void> {
    await c.flush();
    for (let i = 0; i < 100; i++) await c.create(tcp(`10.66.0.${i % 4}`, 1000 + i, ESTABLISHED, 431000 - i));
    for (let i = 0; i < 20; i++) await c.create(tcp('192.168.1.10', 2000 + i, ESTABLISHED, 432000));
    for (let i = 0; i < 5; i++) await c.create(tcp('192.168.7.7', 3000 + i, ESTABLISHED, 1000));
    for (let i = 0; i < 5; i++) await c.create(tcp('10.77.0.1', 4000 + i, TIME_WAIT, 100));
  }

  async function entries(): Promise<Conntrack[]> {
    const out: Conntrack[] = [];
    for await (const e of c.dump()) out.push(e);
    return out;
  }

  beforeEach(async () => {
    await fill();
  });

  function run(opts: ConstructorParameters<typeof Guard>[1], untilAction: string): Promise<{ log: GuardRecord[]; during: number | undefined }> {
    const log: GuardRecord[] = [];
    const stop = new AbortController();
    let during: number | undefined;
    const g = new Guard(c, {
      maxEntries: 100, high: 0.9, low: 0.75, intervalMs: 20, stateFile: join(dir, 'state.json'),
      shortTimeouts: { nf_conntrack_udp_timeout: 7 }, ...opts,
      log: (r) => {
        log.push(r);
        if (r.action === 'timeouts-shorten' && opts?.apply) during = readConntrackSysctls(ns.name).nf_conntrack_udp_timeout;
        if (r.action === untilAction) stop.abort();
      },
    });
    return g.run(stop.signal).then(() => ({ log, during }));
  }

  it.each(['table', 'dump'] as const)('view from the %s: evicts closing entries first, then the idlest assured ones of the busiest sources, down to the low watermark; restores timeouts', async (source) => {
    const { log, during } = await run({ apply: true, source, protect: (ct) => ct.orig?.src === '192.168.7.7' }, 'evict');
    const left = await entries();
    expect(left).toHaveLength(75);
    const from = (p: string) => left.filter((e) => e.orig!.src!.startsWith(p)).length;
    expect(from('10.77.')).toBe(0); // closing: first
    expect(from('192.168.1.10')).toBe(20); // fresh: untouched
    expect(from('192.168.7.7')).toBe(5); // protected (and idle): untouched
    expect(from('10.66.')).toBe(50); // the rest comes from the attacker, 50 removed of 100
    // Fair over its 4 sources; inside each, the idlest went (higher sport = less idle here).
    for (let s = 0; s < 4; s++) expect([12, 13]).toContain(left.filter((e) => e.orig!.src === `10.66.0.${s}`).length);
    const ev = log.find((r) => r.action === 'evict')!;
    expect(ev).toMatchObject({ deleted: 55, missing: 0, refused: 0, bySteps: { closing: 5, assured: 50 } });
    expect(log.find((r) => r.action === 'rank')).toMatchObject({ entries: 130, ranked: 105 }); // 55 needed now, then only the attacker's /16 (heavy)
    expect(during).toBe(7);
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(udpTimeout);
    expect(log.map((r) => r.action).filter((a) => a !== 'table-open')).toEqual(['start', 'pressure-start', 'timeouts-shorten', 'rank', 'evict', 'timeouts-restored', 'summary']);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
  });

  it('keeps no listener per interval on the stop signal (it runs for days)', async () => {
    const stop = new AbortController();
    const g = new Guard(c, { maxEntries: 1_000_000, high: 0.9, low: 0.75, intervalMs: 2, stateFile: join(dir, 'state.json'), source: 'dump', log: () => {} });
    const done = g.run(stop.signal);
    await new Promise((r) => setTimeout(r, 300)); // ~100 intervals without pressure
    const held = getEventListeners(stop.signal, 'abort').length;
    stop.abort();
    await done;
    expect(held).toBeLessThanOrEqual(3);
  });

  it('dry run: logs what it would do, changes nothing', async () => {
    const { log } = await run({ apply: false }, 'evict');
    expect(await entries()).toHaveLength(130);
    expect(log.find((r) => r.action === 'evict')).toMatchObject({ dryRun: true, need: 55, chosen: 55 });
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(udpTimeout);
  });

  it('a crash of its logic still restores the timeouts', async () => {
    const stop = new AbortController();
    const g = new Guard(c, {
      apply: true, maxEntries: 100, intervalMs: 20, stateFile: join(dir, 'state.json'), shortTimeouts: { nf_conntrack_udp_timeout: 7 },
      view: async () => {
        expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(7);
        throw new Error('boom');
      },
    });
    await expect(g.run(stop.signal)).rejects.toThrow('boom');
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(udpTimeout);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(await entries()).toHaveLength(130);
  });

  it('a state file left by a killed guard is restored at the next start', async () => {
    const file = join(dir, 'left.json');
    ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=5']);
    writeFileSync(file, JSON.stringify({ netns: ns.name, pid: 1, changedAt: 'x', original: { nf_conntrack_udp_timeout: udpTimeout } }));
    await c.flush();
    const { log } = await run({ apply: true, stateFile: file, maxEntries: 1000 }, 'start');
    expect(log[0]).toMatchObject({ action: 'timeouts-restored', why: 'state file left by an earlier guard' });
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(udpTimeout);
    expect(existsSync(file)).toBe(false);
  });

  it('ctevents guard --apply: NDJSON log, and SIGTERM restores the timeouts', async () => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    const file = join(dir, 'cli.json');
    const p = spawn(process.execPath, [bin, 'guard', '--apply', '--netns', ns.name, '--max', '100', '--interval', '20', '--state-file', file,
      '--protect', 'src=192.168.7.0/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const evicted = new Promise<void>((res) => p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('"action":"evict"')) res();
    }));
    const exited = new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
    await Promise.race([evicted, exited]);
    // the default short timeouts are in force while it runs
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(10);
    expect(existsSync(file)).toBe(true);
    p.kill('SIGTERM');
    expect(await exited, err).toBe(0);
    expect(readConntrackSysctls(ns.name).nf_conntrack_udp_timeout).toBe(udpTimeout);
    expect(existsSync(file)).toBe(false);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as GuardRecord);
    expect(lines.map((l) => l.action)).toContain('timeouts-restored');
    expect(lines.at(-1)!.action).toBe('summary');
    expect(err).toMatch(/guard .*55 entries evicted .*timeouts restored/);
    expect(await entries()).toHaveLength(75);
  });
});
