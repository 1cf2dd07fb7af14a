/**
 * `ctevents delete` / `flush` and ConntrackClient.deleteMany / deleteWhere against the
 * live kernel: a table built with `conntrack -I` in a throwaway namespace, then
 * `conntrack -L` before and after each run must differ by exactly the entries the filter
 * names (both the kernel-side flush path and the dump + batched-delete path).
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/index.js';
import { main } from '../src/cli/main.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.warn(`delete.live.test.ts: ${skip}`);

class Sink extends PassThrough {
  text = '';
  isTTY = false;
  constructor() {
    super();
    this.on('data', (d) => (this.text += d));
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = new PassThrough();
  const code = await main(args, { stdout, stderr, stdin });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Entries as `conntrack -L` shows them, one canonical key per line (src dst sport dport). */
function table(ns: Netns): string[] {
  const out = ns.exec('sh', ['-c', 'conntrack -L 2>/dev/null; true']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const w = l.split(/\s+/);
      const kv = (k: string) => w.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
      return `${w[0]} ${kv('src')}>${kv('dst')}:${kv('dport')}${l.includes('zone=') ? ' z' + kv('zone') : ''}`;
    })
    .sort();
}

const ENTRIES: string[][] = [
  // tcp, ESTABLISHED, assured, idle ~431,000 s (remaining 1000 of 432,000)
  ['-s', '10.0.0.1', '-d', '10.0.0.2', '-p', 'tcp', '--sport', '1000', '--dport', '80', '--state', 'ESTABLISHED', '-u', 'ASSURED,SEEN_REPLY', '-t', '1000'],
  // tcp, ESTABLISHED, assured, fresh
  ['-s', '10.0.0.1', '-d', '10.0.0.2', '-p', 'tcp', '--sport', '1001', '--dport', '80', '--state', 'ESTABLISHED', '-u', 'ASSURED,SEEN_REPLY', '-t', '432000'],
  ['-s', '10.0.0.1', '-d', '10.0.0.3', '-p', 'tcp', '--sport', '1002', '--dport', '80', '--state', 'SYN_SENT', '-t', '100'],
  ['-s', '10.0.1.9', '-d', '10.0.0.2', '-p', 'udp', '--sport', '1000', '--dport', '53', '-t', '20', '-m', '7'],
  ['-s', '10.0.0.1', '-d', '10.0.0.2', '-p', 'udp', '--sport', '1000', '--dport', '53', '-t', '100', '-w', '1'],
  ['-s', '10.0.0.1', '-d', '10.0.0.2', '-p', 'udp', '--sport', '1000', '--dport', '53', '-t', '100'],
  ['-s', 'fd00::1', '-d', 'fd00::2', '-p', 'tcp', '--sport', '1000', '--dport', '80', '--state', 'ESTABLISHED', '-u', 'ASSURED,SEEN_REPLY', '-t', '100'],
  ['-s', 'fd00::1', '-d', 'fd00::2', '-p', 'udp', '--sport', '1000', '--dport', '53', '-t', '100', '-m', '7'],
];

describe.skipIf(skip !== undefined)('delete / flush, live kernel, against conntrack -L', () => {
  let ns: Netns;
  let all: string[];
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => ns?.remove());
  beforeEach(() => {
    ns.exec('sh', ['-c', 'conntrack -F 2>/dev/null; true']);
    for (const e of ENTRIES) ns.exec('sh', ['-c', `conntrack -I ${e.join(' ')} 2>/dev/null`]);
    all = table(ns);
    expect(all).toHaveLength(ENTRIES.length);
  });

  /** Run the CLI and check that exactly the entries `gone` (by predicate on the key) left. */
  async function expectDeleted(args: string[], gone: (key: string) => boolean, method?: 'flush' | 'dump') {
    const r = await cli(['delete', '--netns', ns.name, '--format', 'json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const after = table(ns);
    expect(after).toEqual(all.filter((k) => !gone(k)));
    const summary = JSON.parse(r.stdout.trim()) as { method: string; deleted: number };
    expect(summary.deleted).toBe(all.length - after.length);
    if (method) expect(summary.method).toBe(method);
  }

  it('exact source + family: one kernel-side filtered flush, IPv6 untouched', async () => {
    await expectDeleted(['--src', '10.0.0.1'], (k) => k.includes(' 10.0.0.1>'), 'flush');
  });

  it('status and mark go to the kernel; mark 7 hits both families', async () => {
    await expectDeleted(['--mark', '7'], (k) => k === 'udp 10.0.1.9>10.0.0.2:53' || k === 'udp fd00::1>fd00::2:53', 'flush');
  });

  it('family + protocol + port through CTA_FILTER', async () => {
    await expectDeleted(['--family', 'ipv4', '--proto', 'udp', '--dport', '53'], (k) => k.startsWith('udp 10.'), 'flush');
  });

  it('zone 1 only', async () => {
    await expectDeleted(['--zone', '1'], (k) => k.endsWith(' z1'), 'flush');
  });

  it('a CIDR prefix goes through the dump path and deletes nothing outside it', async () => {
    await expectDeleted(['--src', '10.0.1.0/24'], (k) => k.startsWith('udp 10.0.1.9>'), 'dump');
  });

  it('a TCP state goes through the dump path', async () => {
    await expectDeleted(['--state', 'SYN_SENT'], (k) => k === 'tcp 10.0.0.1>10.0.0.3:80', 'dump');
  });

  it('--idle-over uses the namespace timeouts (idle = established timeout - remaining)', async () => {
    // Only the entry with 1000 s left of 432,000 has been idle for over 400,000 s.
    const r = await cli(['delete', '--netns', ns.name, '--idle-over', '400000', '--proto', 'tcp']);
    expect(r.code, r.stderr).toBe(0);
    expect(all.filter((k) => !table(ns).includes(k))).toHaveLength(1);
    expect(ns.exec('conntrack', ['-L', '-p', 'tcp', '--sport', '1000'])).not.toMatch(/dport=80 /);
  });

  it('--remaining-under', async () => {
    await expectDeleted(['--remaining-under', '50'], (k) => k === 'udp 10.0.1.9>10.0.0.2:53', 'dump');
  });

  it('--dry-run counts by group and deletes nothing', async () => {
    const r = await cli(['delete', '--netns', ns.name, '--proto', 'tcp', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(table(ns)).toEqual(all);
    expect(r.stdout).toMatch(/^\s+3\s+tcp ESTABLISHED ASSURED$/m);
    expect(r.stdout).toMatch(/^\s+1\s+tcp SYN_SENT not-assured$/m);
    expect(r.stdout).toMatch(/^\s+4\s+total$/m);
    expect(r.stderr).toMatch(/4 entries match \(nothing deleted\)/);
  });

  it('delete without a filter is refused; flush without one needs --yes off a terminal', async () => {
    expect((await cli(['delete', '--netns', ns.name])).code).toBe(2);
    const r = await cli(['flush', '--netns', ns.name]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(table(ns)).toEqual(all);
    const ok = await cli(['flush', '--netns', ns.name, '--yes']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(table(ns)).toEqual([]);
  });

  it('flush with a filter is a filtered delete', async () => {
    const r = await cli(['flush', '--netns', ns.name, '--family', 'ipv6']);
    expect(r.code, r.stderr).toBe(0);
    expect(table(ns)).toEqual(all.filter((k) => !k.includes('fd00')));
  });

  it('bad options are usage errors (exit 2)', async () => {
    expect((await cli(['delete', '--netns', ns.name, '--idle-over', 'x'])).code).toBe(2);
    expect((await cli(['delete', '--netns', ns.name, '--src', '10.0.0.1', '--follow'])).code).toBe(2);
    expect((await cli(['delete', '--netns', ns.name, '--src', '10.0.0.1', '--method', 'magic'])).code).toBe(2);
    expect(table(ns)).toEqual(all);
  });

  it('deleteMany: batched, ENOENT for raced-away keys counted, not thrown', async () => {
    const c = await ConntrackClient.open({ netns: ns.name });
    try {
      const keys = [];
      for await (const e of c.dump()) keys.push({ family: e.family, orig: e.orig!, ...(e.zone !== undefined ? { zone: e.zone } : {}), id: e.id! });
      const gone = { family: 2, orig: { src: '10.9.9.9', dst: '10.9.9.8', proto: 17, srcPort: 1, dstPort: 2 } };
      const stale = { ...keys[0]!, id: (keys[0]!.id + 1) >>> 0 }; // the tuple exists, the id does not: never deleted
      const r = await c.deleteMany([stale, gone, ...keys.slice(1), gone], { batch: 3, window: 2 });
      expect(r.requested).toBe(keys.length + 2);
      expect(r.missing).toBe(3);
      expect(r.deleted).toBe(keys.length - 1);
      expect(r.failed).toBe(0);
      expect(table(ns)).toHaveLength(1);
      await expect(c.deleteWhere({})).rejects.toThrow(/flush\(\)/);
    } finally {
      await c.close();
    }
  });
});
