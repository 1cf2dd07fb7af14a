/**
 * ctevents as a drop-in for conntrack(8), live, beside conntrack-tools on the same table in
 * a throwaway namespace: get/create/update against -G/-I/-U, the dump variants (--dying,
 * --unconfirmed, --expect, --zero), stats --expect, the NAT / zone / reply-port / ICMP
 * filters, -o extended,id and -o xml against conntrack's own output, the README's --state
 * example, JSON lines against the schema, and the rate line on a terminal (a pseudo-terminal:
 * the screen is rebuilt from the bytes and read). Skipped (with the reason printed) when not root.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason, tcpConnection, udpExchange, udpFlows, ping, type Netns } from './helpers/live.js';
import { validate } from './helpers/jsonschema.js';
import { screen } from './helpers/screen.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/ctevents.cjs');
const schema = JSON.parse(readFileSync(join(root, 'schema/ctevents.schema.json'), 'utf8'));
const skip = liveSkipReason();
if (skip) console.warn(`cli.ops.live.test.ts: ${skip}`);

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}
const lines = (s: string) => s.split('\n').filter(Boolean);
/** conntrack -L style lines with the timeout column blanked (it ticks between two reads). */
const untimed = (ls: string[]) => ls.map((l) => l.replace(/^((?:ipv[46]\s+\d+ )?\S+\s+\d+ )\d+ /, '$1T ').replace(/<timeout>\d+<\/timeout>/, '<timeout>T</timeout>')).sort();

describe.skipIf(skip !== undefined)('ctevents beside conntrack(8): operations, filters, output options', () => {
  let ns: Netns;
  beforeAll(() => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    ns = createNetns({ acct: true });
  });
  afterAll(() => ns?.remove());
  const ct = (...args: string[]) => lines(ns.exec('conntrack', args).toString());
  const ours = (...args: string[]) => run([...args, '--netns', ns.name]);
  const key = ['-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1000', '--dport', '53'];

  it('create, get, update: the table conntrack sees, and conntrack -G output', () => {
    ns.exec('conntrack', ['-F']);
    const c = ours('create', ...key, '-t', '300', '-m', '5', '-u', 'SEEN_REPLY');
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).toBe('ctevents: 1 entry created\n');
    const theirs = ct('-G', ...key);
    expect(theirs).toHaveLength(1);
    expect(theirs[0]).toMatch(/mark=5/);
    const g = ours('get', ...key, '--format', 'conntrack');
    expect(g.status, g.stderr).toBe(0);
    expect(untimed(lines(g.stdout))).toEqual(untimed(theirs));
    // -o extended,id like conntrack -G -o extended,id.
    const gx = ours('get', ...key, '-o', 'extended,id');
    expect(untimed(lines(gx.stdout))).toEqual(untimed(ct('-G', ...key, '-o', 'extended,id')));
    // update: mark and timeout, seen by conntrack.
    const u = ours('update', ...key, '-m', '9', '-t', '1000');
    expect(u.status, u.stderr).toBe(0);
    const after = ct('-G', ...key)[0]!;
    expect(after).toMatch(/mark=9/);
    expect(Number(/^udp\s+17 (\d+)/.exec(after)![1])).toBeGreaterThan(900);
    // update with a mask changes only the masked bits (conntrack -U -m VALUE/MASK).
    expect(ours('update', ...key, '-m', '0x10/0x10').status).toBe(0);
    expect(ct('-G', ...key)[0]).toMatch(/mark=25/);
    // Like conntrack -U, a partial tuple updates every entry it selects.
    for (const sp of ['5001', '5002', '5003']) expect(ours('create', '-p', 'udp', '-s', '192.0.2.50', '-d', '192.0.2.51', '--sport', sp, '--dport', '53', '-t', '300').status).toBe(0);
    const many = ours('update', '-s', '192.0.2.50', '-m', '33');
    expect(many.status, many.stderr).toBe(0);
    expect(many.stderr).toBe('ctevents: 3 entries updated\n');
    const marked = ct('-L', '-s', '192.0.2.50');
    expect(marked).toHaveLength(3);
    for (const l of marked) expect(l).toMatch(/mark=33/);
    expect(ct('-G', ...key)[0]).toMatch(/mark=25/);
    // The kernel's refusals: one line, exit 1.
    const dup = ours('create', ...key, '-t', '300');
    expect(dup.status).toBe(1);
    expect(dup.stderr).toMatch(/^ctevents: .*EEXIST/);
    expect(lines(dup.stderr)).toHaveLength(1);
    const missing = ours('get', '-p', 'udp', '-s', '192.0.2.9', '-d', '192.0.2.2', '--sport', '1', '--dport', '2');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^ctevents: .*ENOENT/);
    // A TCP entry with a state, as conntrack -I makes it.
    const tcp = ['-p', 'tcp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '2'];
    expect(ours('create', ...tcp, '--state', 'ESTABLISHED', '-u', 'ASSURED', '-t', '300').status).toBe(0);
    expect(ct('-G', ...tcp)[0]).toMatch(/^tcp\s+6 \d+ ESTABLISHED src=192.0.2.1 .*\[ASSURED\]/);
    // get --format json is schema-valid; get -o xml equals conntrack -G -o xml.
    const j = JSON.parse(ours('get', ...tcp, '--format', 'json').stdout);
    expect(validate(schema, j)).toEqual([]);
    expect(j).toMatchObject({ type: 'entry', state: 'ESTABLISHED', orig: { src: '192.0.2.1', sport: 1, dport: 2 } });
    // (conntrack -G -o xml leaves the document unclosed; we close it, so it parses.)
    const xo = lines(ours('get', ...tcp, '-o', 'xml').stdout);
    const xt = ct('-G', ...tcp, '-o', 'xml');
    expect(xo.at(-1)).toBe('</conntrack>');
    expect(untimed(xo.slice(0, -1))).toEqual(untimed(xt));
  });

  it('dump -o xml and -o extended,id print what conntrack -L prints; the NAT, zone, reply-port and ICMP filters select what conntrack selects', () => {
    ns.exec('conntrack', ['-F']);
    udpFlows(ns, 21000, 20);
    udpExchange(ns, '127.0.0.1', 5355);
    tcpConnection(ns, '127.0.0.1', 8090);
    ping(ns, '127.0.0.1');
    // A destination-NAT and a source-NAT entry, made by conntrack -I (the kernel sets the NAT bits).
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '2', '-r', '192.0.2.2', '-q', '192.0.2.1', '--reply-port-src', '2', '--reply-port-dst', '1', '-t', '100', '--dst-nat', '198.51.100.1']);
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.5', '-d', '192.0.2.2', '--sport', '1', '--dport', '2', '-r', '192.0.2.2', '-q', '192.0.2.5', '--reply-port-src', '2', '--reply-port-dst', '1', '-t', '100', '--src-nat', '203.0.113.9']);
    // Per-direction zones (conntrack -I refuses both at once; ours makes them one at a time).
    expect(ours('create', '-p', 'udp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '7', '--dport', '8', '-t', '100', '--orig-zone', '4').status).toBe(0);
    expect(ours('create', '-p', 'udp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '9', '--dport', '8', '-t', '100', '--reply-zone', '6').status).toBe(0);
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '10', '--dport', '8', '-t', '100', '--zone', '4']);
    // Long-lived entries for the reply-port and ICMP filters (the machine may be slow: no 30 s UDP timeouts).
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.10', '-d', '192.0.2.11', '--sport', '10', '--dport', '11', '-r', '192.0.2.11', '-q', '192.0.2.10', '--reply-port-src', '3333', '--reply-port-dst', '10', '-t', '300']);
    ns.exec('conntrack', ['-I', '-p', 'icmp', '-s', '192.0.2.12', '-d', '192.0.2.13', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77', '-t', '300']);
    const same = (oursArgs: string[], theirArgs: string[]) => {
      let a: string[] = [];
      let b: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = ours('dump', ...oursArgs);
        expect(r.status, `${oursArgs.join(' ')}: ${r.stderr}`).toBe(0);
        a = lines(r.stdout);
        b = ct('-L', ...theirArgs);
        if (JSON.stringify(untimed(a)) === JSON.stringify(untimed(b))) break;
      }
      expect(untimed(a), oursArgs.join(' ')).toEqual(untimed(b));
      return a;
    };
    const xml = same(['-o', 'xml'], ['-o', 'xml']);
    expect(xml[0]).toBe('<?xml version="1.0" encoding="utf-8"?>');
    expect(xml.length).toBeGreaterThan(25);
    same(['-o', 'extended,id'], ['-o', 'extended,id']);
    expect(same(['--dst-nat', '--format', 'conntrack'], ['--dst-nat'])).toHaveLength(1);
    expect(same(['--src-nat', '--format', 'conntrack'], ['--src-nat'])).toHaveLength(1);
    expect(same(['--any-nat', '--format', 'conntrack'], ['--any-nat'])).toHaveLength(2);
    expect(same(['--any-nat', '198.51.100.1', '--format', 'conntrack'], ['--any-nat', '198.51.100.1'])).toHaveLength(1);
    expect(same(['--dst-nat', '203.0.113.9', '--format', 'conntrack'], ['--dst-nat', '203.0.113.9'])).toHaveLength(0);
    expect(same(['--orig-zone', '4', '--format', 'conntrack'], ['--orig-zone', '4'])).toHaveLength(1);
    expect(same(['-w', '4', '--format', 'conntrack'], ['-w', '4'])).toHaveLength(1);
    expect(same(['--reply-zone', '6', '--format', 'conntrack'], ['--reply-zone', '6'])).toHaveLength(1);
    expect(same(['-p', 'udp', '--reply-port-src', '3333', '--format', 'conntrack'], ['-p', 'udp', '--reply-port-src', '3333'])).toHaveLength(1);
    expect(same(['-p', 'icmp', '--icmp-id', '77', '--format', 'conntrack'], ['-p', 'icmp', '--icmp-id', '77'])).toHaveLength(1);
    same(['-p', 'icmp', '--icmp-type', '8', '--format', 'conntrack'], ['-p', 'icmp', '--icmp-type', '8']);
    same(['-p', 'icmp', '--icmp-type', '0', '--format', 'conntrack'], ['-p', 'icmp', '--icmp-type', '0']);
    same(['-f', 'ipv4', '-p', 'udp', '-u', 'SEEN_REPLY', '--format', 'conntrack'], ['-f', 'ipv4', '-p', 'udp', '-u', 'SEEN_REPLY']);
    // The dump's JSON lines are schema-valid.
    for (const l of lines(ours('dump', '--format', 'json').stdout)) expect(validate(schema, JSON.parse(l))).toEqual([]);
  });

  it('dump --dying, --unconfirmed, --expect and stats --expect agree with conntrack', () => {
    expect(lines(ours('dump', '--dying', '--format', 'conntrack').stdout)).toEqual(ct('-L', 'dying'));
    expect(lines(ours('dump', '--unconfirmed', '--format', 'conntrack').stdout)).toEqual(ct('-L', 'unconfirmed'));
    expect(lines(ours('dump', '--expect', '--format', 'conntrack').stdout)).toEqual(ct('-L', 'expect'));
    const s = ours('stats', '--expect', '--format', 'conntrack');
    expect(s.status, s.stderr).toBe(0);
    expect(lines(s.stdout)).toEqual(ct('-S', 'expect'));
    for (const l of lines(ours('stats', '--expect', '--format', 'json').stdout)) expect(validate(schema, JSON.parse(l))).toEqual([]);
    for (const l of lines(ours('stats', '--format', 'json').stdout)) expect(validate(schema, JSON.parse(l))).toEqual([]);
  });

  it('dump --zero reads and zeroes the counters, like conntrack -L -z', () => {
    ns.exec('conntrack', ['-F']);
    udpExchange(ns, '127.0.0.1', 5356);
    const before = lines(ours('dump', '--zero', '--format', 'conntrack', '-p', 'udp').stdout);
    expect(before).toHaveLength(1);
    expect(before[0]).toMatch(/packets=1 bytes=\d+ .*packets=1 bytes=\d+/);
    const after = ct('-L', '-p', 'udp');
    expect(after[0]).toMatch(/packets=0 bytes=0 .*packets=0 bytes=0/);
  });

  it('dump --count N stops after N entries; dump --follow --count N counts the entries, then the events', async () => {
    ns.exec('conntrack', ['-F']);
    udpFlows(ns, 22000, 10);
    const three = ours('dump', '--count', '3', '--format', 'json');
    expect(lines(three.stdout)).toHaveLength(3);
    expect(three.stderr).toMatch(/^ctevents: 3 entries/m);
    const table = Number(ns.exec('conntrack', ['-C']).trim());
    expect(table).toBeGreaterThanOrEqual(10);
    const p = spawn(process.execPath, [bin, 'dump', '--follow', '--count', String(table + 2), '--netns', ns.name, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const code = new Promise<number>((res) => p.on('close', (c) => res(c ?? -1)));
    await new Promise((r) => setTimeout(r, 700));
    udpFlows(ns, 23000, 5);
    expect(await code).toBe(0);
    const objs = lines(out).map((l) => JSON.parse(l));
    expect(objs.filter((o) => o.type === 'entry')).toHaveLength(table);
    expect(objs.filter((o) => o.type === 'new')).toHaveLength(2);
    for (const o of objs) expect(validate(schema, o)).toEqual([]);
  });

  it('the README example: --proto tcp --dport --state ESTABLISHED prints the connection when it is established', async () => {
    const p = spawn(process.execPath, [bin, '--netns', ns.name, '--proto', 'tcp', '--dport', '8443', '--state', 'ESTABLISHED,TIME_WAIT', '--format', 'json', '--count', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const code = new Promise<number>((res) => p.on('close', (c) => res(c ?? -1)));
    await new Promise((r) => setTimeout(r, 700));
    tcpConnection(ns, '127.0.0.1', 8443);
    const timer = setTimeout(() => p.kill('SIGINT'), 10_000);
    expect(await code).toBe(0);
    clearTimeout(timer);
    const o = JSON.parse(lines(out)[0]!);
    expect(o).toMatchObject({ type: 'update', state: 'ESTABLISHED', orig: { dport: 8443 } });
  });

  it('watch --expect subscribes to expectation events only', async () => {
    const r = run(['watch', '--expect', '--netns', ns.name, '--duration', '0.5', '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^ctevents: 0 expectation events, 0 lost/m);
  });

  it('on a terminal the rate line never garbles the output (pseudo-terminal, screen read back)', async () => {
    // python3's pty runs ctevents with stdout and stderr on one terminal, as a user would.
    const py = `
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
end = time.time() + float(os.environ['PTY_SECONDS'])
sent = False
while True:
    if not sent and time.time() > end:
        os.write(fd, b'\\x03'); sent = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d: break
        out += d
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
`;
    const p = spawn('python3', ['-c', py, process.execPath, bin, '--netns', ns.name], { env: { ...process.env, PTY_SECONDS: '4.5' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let raw = '';
    p.stdout.on('data', (d) => (raw += d.toString('utf8')));
    const done = new Promise<void>((res) => p.on('close', () => res()));
    // Events arrive while the rate line is up: after the first draw (1 s) and after the next.
    await new Promise((r) => setTimeout(r, 1600));
    udpFlows(ns, 24000, 3);
    await new Promise((r) => setTimeout(r, 1200));
    udpFlows(ns, 25000, 3);
    await done;
    expect(raw).toContain('events/s');
    const rows = screen(raw);
    const events = rows.filter((l) => / NEW /.test(l));
    expect(events.length).toBeGreaterThanOrEqual(6);
    // Every event line starts at the line's start with its time, never after rate text.
    for (const l of events) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{6} NEW /);
    expect(rows.filter((l) => l.includes('events/s') && / NEW /.test(l))).toEqual([]);
    expect(rows.some((l) => /^(\^C)?ctevents: \d+ events \(new \d+/.test(l))).toBe(true);
  });
});
