/**
 * ctevents against the real kernel beside conntrack-tools, on the same traffic in a
 * throwaway namespace: `--format conntrack` equals `conntrack -E`, `dump --format
 * conntrack` equals `conntrack -L` (as sets of lines), `stats` agrees with `conntrack -S`
 * and `-C`, and a capture written with --write reads back to the live output and opens in
 * tshark as Netlink netfilter. Skipped (with the reason printed) when not root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCtevents } from './helpers/cli.js';
import { ConntrackClient } from '../src/client/index.js';
import { conntrackListener, createNetns, liveSkipReason, ping, tcpConnection, udpExchange, udpFlows, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/ctevents.cjs');
const skip = liveSkipReason();
if (skip) console.warn(`cli.live.test.ts: ${skip}`);

function ctevents(args: string[]) {
  return spawnCtevents(args);
}

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

function traffic(ns: Netns): void {
  tcpConnection(ns, '127.0.0.1', 8080);
  udpExchange(ns, '127.0.0.1', 5353);
  udpFlows(ns, 9000, 3);
  ping(ns, '127.0.0.1');
  tcpConnection(ns, '::1', 8081);
  udpExchange(ns, '::1', 5354);
  ping(ns, '::1');
}

describe.skipIf(skip !== undefined)('ctevents, live kernel, beside conntrack-tools', () => {
  let ns: Netns;
  let dir: string;
  beforeAll(() => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    ns = createNetns({ acct: true, timestamp: true });
    dir = mkdtempSync(join(tmpdir(), 'ctev-cli-'));
  });
  afterAll(() => {
    ns?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--format conntrack prints exactly what conntrack -E prints, and --write records it', async () => {
    const pcap = join(dir, 'watch.pcap');
    const ours = ctevents(['--netns', ns.name, '--format', 'conntrack', '--events', 'new,update,destroy', '--write', pcap]);
    const oursText = ctevents(['--netns', ns.name, '--events', 'new,update,destroy']);
    const theirs = conntrackListener(ns, ['-E']);
    await Promise.all([ours.ready, oursText.ready, theirs.ready]);
    traffic(ns);
    // Flush from a process that outlives the events: both tools name the requester the
    // same way ([USERSPACE] portid=, and progname= when /proc/<portid> exists).
    const client = await ConntrackClient.open({ netns: ns.name });
    await client.flush();
    const [a, t, b] = await Promise.all([ours.stop(), oursText.stop(), theirs.stop()]);
    await client.close();
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/^ctevents: \d+ events \(new \d+, update \d+, destroy \d+\), 0 lost/m);
    const lines = a.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines).toEqual(b);

    // The events caused by our flush name the flushing process, looked up through the
    // namespace's own socket table as conntrack does from inside it.
    expect(lines.filter((l) => l.includes('[USERSPACE]')).every((l) => / progname=node$/.test(l))).toBe(true);

    // The recording reads back to the same output (less the program names, which are
    // looked up live and are not in a capture), and tshark sees Netlink netfilter.
    const back = run(['read', pcap, '--format', 'conntrack']);
    expect(back.status).toBe(0);
    expect(back.stdout.split('\n').filter(Boolean)).toEqual(lines.map((l) => l.replace(/ progname=\S+$/, '')));
    const backText = run(['read', pcap]);
    expect(backText.stdout).toBe(t.stdout);
    const ts = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' });
    expect(ts.status).toBe(0);
    const frames = ts.stdout.split('\n').filter(Boolean);
    expect(frames.length).toBe(lines.length);
    for (const f of frames) expect(f).toBe('netlink:netlink-netfilter');
  });

  it('dump --format conntrack prints the same lines as conntrack -L', async () => {
    udpFlows(ns, 20000, 200);
    traffic(ns);
    ns.exec('conntrack', ['-I', '-p', 'tcp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '2', '--state', 'ESTABLISHED', '-t', '300', '-u', 'ASSURED', '-m', '7', '--zone', '5']);
    // Timeouts tick once a second: retry until both reads fall in the same second.
    let ours: string[] = [];
    let theirs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = run(['dump', '--netns', ns.name, '--format', 'conntrack']);
      theirs = ns.exec('conntrack', ['-L']).split('\n').filter(Boolean);
      expect(r.status).toBe(0);
      ours = r.stdout.split('\n').filter(Boolean);
      if (JSON.stringify([...ours].sort()) === JSON.stringify([...theirs].sort())) break;
    }
    expect(ours.length).toBeGreaterThan(200);
    // On a loaded machine the two reads may never fall in the same second: then the lines
    // must agree but for the ticking timeout and delta-time.
    const tick = (ls: string[]) => new Set(ls.map((l) => l.replace(/^(\S+\s+\d+ )\d+ /, '$1T ').replace(/delta-time=\d+/, 'delta-time=D')));
    expect(tick(ours)).toEqual(tick(theirs));
    // A filter gives the same entries as conntrack's own filter.
    const f1 = run(['dump', '--netns', ns.name, '--format', 'conntrack', '--proto', 'tcp']).stdout.split('\n').filter(Boolean);
    const c1 = ns.exec('conntrack', ['-L', '-p', 'tcp']).split('\n').filter(Boolean);
    expect(f1.length).toBe(c1.length);
    expect(tick(f1)).toEqual(tick(c1));
    const f2 = run(['dump', '--netns', ns.name, '--format', 'conntrack', '--mark', '7']).stdout.split('\n').filter(Boolean);
    expect(f2).toHaveLength(1);
    expect(f2[0]).toContain('mark=7');
  });

  it('stats agrees with conntrack -S and conntrack -C', () => {
    // --format json: the "stats" object (with buckets and fill) then one "stats-cpu" per CPU,
    // the same objects `read` prints of a recorded conntrack -S / -C.
    const objs = run(['stats', '--netns', ns.name, '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const json = { ...objs[0], cpus: objs.slice(1) };
    expect(json.type).toBe('stats');
    expect(json.cpus.every((c: { type: string }) => c.type === 'stats-cpu')).toBe(true);
    expect(json.entries).toBe(Number(ns.exec('conntrack', ['-C']).trim()));
    const s = ns.exec('conntrack', ['-S']).split('\n').filter(Boolean);
    expect(json.cpus).toHaveLength(s.length);
    const ours = run(['stats', '--netns', ns.name, '--format', 'conntrack']);
    expect(ours.stdout.split('\n').filter(Boolean)).toEqual(s);
    for (const [i, line] of s.entries()) {
      const kv = Object.fromEntries(line.trim().split(/\s+/).map((w) => w.split('=')));
      for (const k of ['found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong']) {
        expect(String(json.cpus[i][k]), k).toBe(kv[k]);
      }
    }
    const text = run(['stats', '--netns', ns.name]).stdout;
    expect(text).toMatch(/^entries\s+\d+$/m);
    expect(text).toMatch(/^max\s+\d+$/m);
    expect(text).toMatch(/^buckets\s+\d+$/m);
    expect(text).toMatch(/^fill\s+[\d.]+%$/m);
    expect(text).toMatch(/^sum\s/m);
  });

  it('dump --follow streams events after the table without a gap; --count and --duration stop it', async () => {
    ns.exec('conntrack', ['-F']);
    udpFlows(ns, 31000, 5);
    // --count counts the entries of the table, then the events after it.
    const p = ctevents(['dump', '--follow', '--netns', ns.name, '--format', 'json', '--count', '8']);
    await p.ready;
    udpFlows(ns, 32000, 3);
    const code = await p.exited;
    expect(code).toBe(0);
    const objs = (await p.stop()).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(objs.filter((o) => o.type === 'entry')).toHaveLength(5);
    expect(objs.filter((o) => o.type === 'new')).toHaveLength(3);
    const d = run(['--netns', ns.name, '--duration', '0.5']);
    expect(d.status).toBe(0);
    expect(d.stderr).toMatch(/^ctevents: 0 events/m);
  });

  it('ends quietly on a closed pipe (| head) with exit code 0', () => {
    udpFlows(ns, 33000, 100);
    const r = spawnSync('bash', ['-c', `${process.execPath} ${bin} dump --netns ${ns.name} | head -n 2; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out).toHaveLength(3);
    expect(out[2]).toBe('rc=0');
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(r.stderr).toMatch(/^ctevents: \d+ entries/);
  });

  it('says which capability is missing when run unprivileged', () => {
    const nobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];
    const readable = spawnSync('setpriv', [...nobody, 'test', '-r', bin]);
    if (readable.status !== 0) {
      console.warn('cli.live.test.ts: the checkout is not readable by nobody; unprivileged run not checked');
      return;
    }
    for (const cmd of [[], ['dump'], ['stats']]) {
      const r = spawnSync('setpriv', [...nobody, process.execPath, bin, ...cmd], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/EPERM.*CAP_NET_ADMIN/);
    }
  });

  it('names a missing namespace in one line', () => {
    const r = run(['--netns', 'ctev-no-such-ns']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ctevents: .*ctev-no-such-ns/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
