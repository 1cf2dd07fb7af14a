/**
 * The lean print path (src/cli/lean.ts) end to end on the real kernel: what a live run
 * prints with `--format json` / `--format conntrack` (lean path, with fallbacks for ICMP
 * and the rest) equals what `read` prints of the datagrams the same run recorded with
 * --write (the full decoder and formatters, the reference), line for line; events and
 * dumps, with accounting and timestamps on. Skipped (with the reason printed) when not root.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCtevents } from './helpers/cli.js';
import { ConntrackClient } from '../src/client/index.js';
import { createNetns, liveSkipReason, ping, tcpConnection, udpExchange, udpFlows, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/ctevents.cjs');
const skip = liveSkipReason();
if (skip) console.warn(`lean.live.test.ts: ${skip}`);

function start(args: string[]) {
  return spawnCtevents(args);
}

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

const lines = (s: string) => s.split('\n').filter(Boolean);

describe.skipIf(skip !== undefined)('lean print path, live kernel', () => {
  let ns: Netns;
  let dir: string;
  beforeAll(() => {
    ns = createNetns({ acct: true, timestamp: true });
    dir = mkdtempSync(join(tmpdir(), 'ctev-lean-'));
  });
  afterAll(() => {
    ns?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('events: the live lines equal read of the recorded datagrams (json and conntrack)', async () => {
    const pj = join(dir, 'ev-json.pcap');
    const pc = join(dir, 'ev-ct.pcap');
    const j = start(['--netns', ns.name, '--format', 'json', '--events', 'new,update,destroy', '--write', pj]);
    const c = start(['--netns', ns.name, '--format', 'conntrack', '--events', 'new,update,destroy', '--write', pc]);
    await Promise.all([j.ready, c.ready]);
    tcpConnection(ns, '127.0.0.1', 8080);
    udpExchange(ns, '127.0.0.1', 5353);
    udpFlows(ns, 9000, 50);
    ping(ns, '127.0.0.1');
    tcpConnection(ns, '::1', 8081);
    udpExchange(ns, '::1', 5354);
    ping(ns, '::1');
    const client = await ConntrackClient.open({ netns: ns.name });
    await client.flush(); // DESTROY events naming our port id
    const [a, b] = await Promise.all([j.stop(), c.stop()]);
    await client.close();
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const live = lines(a.stdout);
    expect(live.length).toBeGreaterThan(100);
    expect(live.some((l) => l.includes('"proto":"icmp"'))).toBe(true); // a fallback
    expect(live.some((l) => l.includes('"counters"'))).toBe(true);
    // (the capture keeps the receive time in microseconds)
    const us = (ls: string[]) => ls.map((l) => l.replace(/("timestampNs":"\d+)\d{3}"/, '$1"'));
    expect(us(lines(run(['read', pj, '--format', 'json']).stdout))).toEqual(us(live));
    const liveCt = lines(b.stdout);
    expect(liveCt.length).toBe(live.length);
    // (read names no program: a capture's processes are gone)
    expect(lines(run(['read', pc, '--format', 'conntrack']).stdout)).toEqual(liveCt.map((l) => l.replace(/ progname=\S+$/, '')));
  });

  it('dump: the live lines equal read of the recorded dump (json and conntrack)', () => {
    udpFlows(ns, 20000, 300);
    tcpConnection(ns, '127.0.0.1', 8082);
    ping(ns, '127.0.0.1');
    for (const format of ['json', 'conntrack']) {
      const pcap = join(dir, `dump-${format}.pcap`);
      const live = run(['dump', '--netns', ns.name, '--format', format, '--write', pcap]);
      expect(live.status).toBe(0);
      const ours = lines(live.stdout);
      expect(ours.length).toBeGreaterThan(300);
      // (read also prints the request and NLMSG_DONE)
      const back = lines(run(['read', pcap, '--format', format]).stdout).filter((l) => format !== 'json' || l.startsWith('{"type":"entry"'));
      // A live dump prints every entry with the time the dump started, read with the
      // capture time of its datagram; conntrack's delta-time counts to that time.
      const untimed = (ls: string[]) => ls.map((l) => l.replace(/"time":"[^"]*","timestampNs":"\d+",/, '').replace(/delta-time=\d+/, 'delta-time=D'));
      expect(untimed(back)).toEqual(untimed(ours));
    }
  });
});
