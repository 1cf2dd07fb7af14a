/**
 * ctevents in-process (main() with injected streams) over recorded captures, and the
 * built binary spawned: help, version, bad input, offline decoding without the addon.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const root = new URL('..', import.meta.url).pathname;
const captures = readdirSync(join(root, 'captures')).filter((f) => f.endsWith('.pcap')).map((f) => join(root, 'captures', f));
const tcpCapture = captures.find((f) => f.endsWith('tcp-ipv4.pcap'))!;

describe('ctevents main()', () => {
  it('prints help and version', async () => {
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: ctevents/);
    for (const flag of ['--events', '--count', '--duration', '--follow', '--format', '--netns', '--buffer-size', '--write', '--family', '--proto', '--src', '--dst', '--reply-src', '--reply-dst', '--sport', '--dport', '--zone', '--mark', '--status', '--state']) {
      expect(h.stdout).toContain(flag);
    }
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^ctevents \d+\.\d+\.\d+\n$/);
  });

  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--format', 'yaml'], /--format must be one of text, json, conntrack, xml/],
    [['--events', 'new,bogus'], /--events: unknown event "bogus"/],
    [['--count', '0'], /--count needs a whole number from 1/],
    [['--duration', 'soon'], /--duration needs a number of seconds above 0/],
    [['--src', '10.0.0.300'], /--src: not an IP address: "10.0.0.300"/],
    [['--dst', '10.0.0.0/33'], /--dst: bad prefix length \/33/],
    [['--mark', '5/0xzz'], /--mark: not a 32-bit number: "0xzz"/],
    [['--proto', 'tpc'], /--proto: unknown protocol "tpc"/],
    [['--status', 'ASURED'], /--status: unknown conntrack status flag: ASURED/],
    [['--state', 'OPEN'], /--state: unknown TCP state "OPEN"/],
    [['--family', 'ipv4', '--src', '2001:db8::1'], /--src 2001:db8::1 is not an IPv4 address/],
    [['--sport', '70000'], /--sport: not a port number/],
    [['read'], /read needs one FILE/],
    [['watch', '--follow'], /--follow does not apply to watch/],
  ])('rejects %j with one clear line and exit code 2', async (argv, msg) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a missing or corrupt capture file in one line, exit 1', async () => {
    const missing = await runCli(['read', '/nonexistent/x.pcap']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('ctevents: /nonexistent/x.pcap: no such file\n');
    const dir = mkdtempSync(join(tmpdir(), 'ctev-'));
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, Buffer.from('this is not a capture file at all'));
    const corrupt = await runCli(['read', bad]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr.trim().split('\n')).toHaveLength(1);
    expect(corrupt.stderr).toMatch(/^ctevents: .*(magic|pcap)/i);
    // A truncated capture: the records before the cut still print, then one error line.
    const whole = readFileSync(tcpCapture);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 7));
    const trunc = await runCli(['read', cut]);
    expect(trunc.code).toBe(1);
    expect(trunc.stdout.length).toBeGreaterThan(0);
    expect(trunc.stderr).toMatch(/^ctevents: .*offset \d+/m);
    rmSync(dir, { recursive: true });
  });

  it('decodes every recorded capture in every format', async () => {
    expect(captures.length).toBeGreaterThan(0);
    for (const file of captures) {
      for (const format of ['text', 'json', 'conntrack']) {
        const r = await runCli(['read', file, '--format', format]);
        expect(r.code, `${file} ${format}: ${r.stderr}`).toBe(0);
        expect(r.stderr).toMatch(/^ctevents: \d+ messages/);
        if (format === 'json') for (const line of r.stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
      }
    }
  });

  it('reads standard input with -, and filters and counts the same way', async () => {
    const bytes = readFileSync(tcpCapture);
    const fromFile = await runCli(['read', tcpCapture, '--format', 'json']);
    const fromStdin = await runCli(['read', '-', '--format', 'json'], { stdin: bytes });
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    const tcpOnly = await runCli(['read', tcpCapture, '--format', 'json', '--proto', 'udp']);
    const objs = tcpOnly.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(objs.filter((o) => ['new', 'update', 'destroy', 'entry'].includes(o.type))).toEqual([]);
    const two = await runCli(['read', tcpCapture, '--format', 'json', '--count', '2']);
    expect(two.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((o) => ['new', 'update', 'destroy'].includes(o.type))).toHaveLength(2);
  });
});

describe('the installed ctevents binary', () => {
  const bin = join(root, 'dist/cli/ctevents.cjs');

  it('runs --help and decodes a capture', () => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ctevents/);
    const bad = spawnSync(process.execPath, [bin, '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('decodes captures where the native addon was never built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctev-noaddon-'));
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    const out = execFileSync(process.execPath, [join(dir, 'dist/cli/ctevents.cjs'), 'read', tcpCapture, '--format', 'conntrack'], { encoding: 'utf8' });
    expect(out.split('\n').filter(Boolean).length).toBeGreaterThan(0);
    const live = spawnSync(process.execPath, [join(dir, 'dist/cli/ctevents.cjs'), 'dump'], { encoding: 'utf8' });
    expect(live.status).toBe(1);
    expect(live.stderr).toMatch(/native netlink addon was not built/);
    expect(live.stderr.trim().split('\n')).toHaveLength(1);
    rmSync(dir, { recursive: true });
  });
});
