// Output formats (src/format) on real kernel messages: test/fixtures/format/*.json pair the
// bytes conntrack(8) 1.4.7 received (strace of the binary itself) with the lines it printed.
// Regenerate with `python3 test/fixtures/format/capture.py` (root); see that script.

import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDatagram, encodeMessage } from '../src/ctnetlink/message.js';
import type { Conntrack, Message } from '../src/ctnetlink/model.js';
import {
  createConntrackFormatter,
  formatCountConntrack,
  formatCpuStatsConntrack,
  formatMessage as formatConntrack,
  type ConntrackFormatOptions,
} from '../src/format/conntrack.js';
import { parseConnlabelConf } from '../src/host/connlabel.js';
import { procPortidResolver } from '../src/host/progname.js';
import { createFormatter, FORMAT_NAMES } from '../src/format/index.js';
import { formatMessage as formatJson, isoTime, stringifyJson, toJson } from '../src/format/json.js';
import { createTextFormatter, formatMessage as formatText } from '../src/format/text.js';

interface FixtureRecord {
  timeNs: string;
  hex: string;
  lines: string[];
  progname?: Record<string, string>;
}
interface Capture {
  name: string;
  command: string;
  records: FixtureRecord[];
}
interface Fixture {
  kernel: string;
  conntrack: string;
  littleEndian: boolean;
  timeZone: string;
  connlabelConf: string | null;
  captures: Capture[];
}

const DIR = fileURLToPath(new URL('./fixtures/format/', import.meta.url));
const FIXTURES: Record<string, Fixture> = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture]),
);

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

function decode(fx: Fixture, r: FixtureRecord): Message[] {
  return decodeDatagram(bytes(r.hex), fx.littleEndian);
}

/** conntrack's -o options of a capture command, as formatter options. */
function optionsFor(fx: Fixture, c: Capture, r: FixtureRecord): ConntrackFormatOptions {
  const o = / -o (\S+)/.exec(c.command)?.[1]?.split(',') ?? [];
  return {
    extended: o.includes('extended'),
    id: o.includes('id'),
    ktimestamp: o.includes('ktimestamp'),
    timestamp: o.includes('timestamp'),
    ...(o.includes('labels') && fx.connlabelConf ? { labels: parseConnlabelConf(fx.connlabelConf) } : {}),
    progname: (portid) => r.progname?.[String(portid)],
  };
}

/** The receive time, or for -o timestamp the time conntrack printed in the line itself. */
function contextFor(r: FixtureRecord, line: string | undefined): { timestampNs: bigint } {
  const m = line === undefined ? null : /^\[(\d+)\.(\d{6})\]\t/.exec(line);
  return { timestampNs: m ? BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n : BigInt(r.timeNs) };
}

const rows = Object.entries(FIXTURES).flatMap(([file, fx]) =>
  fx.captures.map((c) => ({ name: `${file}: ${c.command}`, fx, c })),
);

let savedTz: string | undefined;
beforeAll(() => {
  // ktimestamp columns are ctime(3) in the capture host's zone (UTC).
  savedTz = process.env.TZ;
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

/** Find the first message of a capture whose conntrack line matches. */
function pick(file: string, capture: string, re: RegExp): { m: Message; ctx: { timestampNs: bigint }; line: string } {
  const fx = FIXTURES[file]!;
  const c = fx.captures.find((x) => x.name === capture)!;
  for (const r of c.records) {
    const ms = decode(fx, r).filter((m) => m.kind !== 'done');
    for (let i = 0; i < ms.length; i++) {
      const line = r.lines[i];
      if (line !== undefined && re.test(line)) return { m: ms[i]!, ctx: { timestampNs: BigInt(r.timeNs) }, line };
    }
  }
  throw new Error(`no line matches ${re} in ${file}/${capture}`);
}

describe('fixtures', () => {
  it('were captured on a little-endian host in UTC and cover the required cases', () => {
    const all = Object.values(FIXTURES).flatMap((fx) => fx.captures.flatMap((c) => c.records.flatMap((r) => r.lines)));
    for (const fx of Object.values(FIXTURES)) {
      expect(fx.littleEndian).toBe(true);
      expect(fx.timeZone).toBe('UTC');
    }
    for (const re of [
      /SYN_SENT/, /SYN_RECV/, /ESTABLISHED/, /FIN_WAIT/, /LAST_ACK/, /TIME_WAIT/, /^\[DESTROY\] tcp/, /^ +\[NEW\] udp .*\[UNREPLIED\]/,
      /^ \[UPDATE\] udp /, /^ +\[NEW\] icmp /, /^ +\[NEW\] icmpv6 /, /src=::1 dst=::1 sport=/, / mark=42/, / zone=5/,
      / zone-orig=3/, / zone-reply=4/, / packets=\d+ bytes=\d+/, / delta-time=/, /labels=one,five/, / helper=ftp/,
      /\[USERSPACE\] portid=\d+ progname=conntrack$/, /\[USERSPACE\] portid=\d+$/, /^sctp /, /^gre /, /^udplite /,
      /^unknown  50 /, /^cpu=0   \t/, /^\d+$/, /proto=6 .* mask-src=/,
    ]) {
      expect(all.some((l) => re.test(l)), String(re)).toBe(true);
    }
  });
});

describe('conntrack format: identical to the conntrack binary', () => {
  it.each(rows)('$name', ({ fx, c }) => {
    let n = 0;
    for (const r of c.records) {
      const ms = decode(fx, r);
      const got: string[] = [];
      for (const m of ms) {
        const line = createConntrackFormatter(optionsFor(fx, c, r))(m, contextFor(r, r.lines[got.length]));
        if (line !== undefined) got.push(line);
      }
      expect(got).toEqual(r.lines);
      n += got.length;
    }
    expect(n).toBeGreaterThan(0);
  });

  it('prints nothing for DONE, ACK, errors and requests', () => {
    const fx = FIXTURES.plain!;
    const dump = fx.captures.find((c) => c.name === 'dump')!;
    const done = dump.records.flatMap((r) => decode(fx, r)).find((m) => m.kind === 'done')!;
    expect(done).toBeDefined();
    expect(formatConntrack(done)).toBeUndefined();
    const req: Message = {
      kind: 'conntrack',
      header: { type: 0x0101, flags: 0x301, seq: 1, pid: 0 },
      nfgen: { family: 2, version: 0, resId: 0 },
      conntrack: { family: 2 },
    };
    expect(formatConntrack(req)).toBeUndefined();
    const ack: Message = {
      kind: 'error',
      header: { type: 2, flags: 0x100, seq: 1, pid: 5 },
      error: { error: 0, request: { len: 20, type: 0x0100, flags: 5, seq: 1, pid: 5 } },
    };
    expect(formatConntrack(ack)).toBeUndefined();
    expect(formatConntrack({ ...ack, error: { ...ack.error, error: -2 } })).toBeUndefined();
    expect(formatConntrack({ kind: 'overrun', header: { type: 4, flags: 0, seq: 0, pid: 0 } })).toBeUndefined();
  });

  it('formats stats and counts', () => {
    expect(formatCpuStatsConntrack({ cpu: 3, found: 1, invalid: 2, insertFailed: 0, chainTooLong: 4 }))
      .toBe('cpu=3   \tfound=1 invalid=2 insert_failed=0 chaintoolong=4 ');
    expect(formatCpuStatsConntrack({ cpu: 12345, unknown: [{ type: 16, data: Uint8Array.of(0, 0, 1, 0) }, { type: 20, data: Uint8Array.of(0, 0, 0, 1) }] }))
      .toBe('cpu=12345\tunknown1=256 ');
    expect(formatCountConntrack(14)).toBe('14');
    expect(formatCountConntrack(0xffffffff)).toBe('-1');
  });

  const base: Conntrack = {
    family: 2,
    orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, srcPort: 1000, dstPort: 80 },
    reply: { src: '10.0.0.2', dst: '10.0.0.1', proto: 6, srcPort: 80, dstPort: 1000 },
    status: 0x0e,
    timeout: 50,
    protoinfo: { tcp: { state: 3 } },
  };
  const event = (ct: Conntrack, flags = 0, type = 0x0100, pid = 0): Message => ({
    kind: 'conntrack',
    header: { type, flags, seq: 0, pid },
    nfgen: { family: ct.family, version: 0, resId: 0 },
    event: type === 0x0102 ? 'destroy' : flags & 0x600 ? 'new' : 'update',
    conntrack: ct,
  });
  const none = () => undefined;

  it('follows libnetfilter_conntrack for attributes the fixtures cannot produce', () => {
    const f = createConntrackFormatter({ progname: none });
    const line = f(event({
      ...base,
      status: 0x0e | 0x8000,
      secmark: 9,
      secctx: 'system_u:object_r:x_t:s0',
      mark: 0,
      zone: 7,
      helper: { name: 'a-very-long-helper-name' },
      timestamp: { start: 10_999_999_999n, stop: 9_000_000_000n },
      use: 3,
      id: 99,
      labels: Uint8Array.of(0xff),
    }))!;
    // HW_OFFLOAD wins over ASSURED; helper names are cut to 15 characters; a stop before
    // the start wraps like the unsigned subtraction in C; id and labels need -o.
    expect(line).toBe(' [UPDATE] tcp      6 50 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 src=10.0.0.2 ' +
      'dst=10.0.0.1 sport=80 dport=1000 [HW_OFFLOAD] mark=0 secmark=9 secctx=system_u:object_r:x_t:s0 zone=7 ' +
      'delta-time=18446744073709551615 helper=a-very-long-hel use=3');
    expect(f(event({ ...base, status: 0x0e | 0x4000 }))).toContain(' [OFFLOAD]');
    expect(f(event({ ...base, protoinfo: { tcp: { state: 42 } } }))).toContain(' 50 NONE src=');
    expect(f(event({ ...base, orig: { ...base.orig, proto: 33 }, reply: { ...base.reply, proto: 33 }, protoinfo: { dccp: { state: 4 } } })))
      .toBe(' [UPDATE] dccp     33 50 OPEN src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1000 [ASSURED]');
    // Without a stop time, delta-time counts to the receive time (conntrack: to "now").
    expect(f(event({ ...base, timestamp: { start: 100_500_000_000n } }), { timestampNs: 160_100_000_000n })).toContain(' delta-time=60');
    // No status: neither [UNREPLIED] nor [ASSURED]; no reply tuple: nothing for it.
    const { status: _s, reply: _r, ...bare } = base;
    expect(f(event(bare))).toBe(' [UPDATE] tcp      6 50 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80');
    // NLM_F_CREATE makes a NEW; a DELETE a DESTROY; a process adds the [USERSPACE] suffix.
    expect(f(event(base, 0x400))!.startsWith('    [NEW] tcp')).toBe(true);
    expect(f(event(base, 0, 0x0102, 77))).toMatch(/^\[DESTROY\] tcp .* \[ASSURED\] \[USERSPACE\] portid=77$/);
  });

  it('prints labels only with -o labels: named bits, else "labels"', () => {
    const map = parseConnlabelConf('0 zero\n1 one\n');
    const f = createConntrackFormatter({ labels: map, progname: none });
    const ct = { ...base, labels: Uint8Array.of(0b11, 0, 0, 0) };
    expect(f(event(ct))).toMatch(/ \[ASSURED\] labels=zero,one$/);
    expect(f(event({ ...base, labels: Uint8Array.of(0b100) }))).toMatch(/ \[ASSURED\] labels$/);
    expect(f(event({ ...base, labels: new Uint8Array(0) }))).toMatch(/ \[ASSURED\]$/);
    expect(createConntrackFormatter({ progname: none })(event(ct))).toMatch(/ \[ASSURED\]$/);
  });

  it('parses connlabel.conf like libnetfilter_conntrack', () => {
    const map = parseConnlabelConf([
      '# comment', '0 zero', ' 1\tone  ', '0x2 two', '010 eight', '1 uno', '3 one', '4 bad;name', '5', '1024 big',
      '-1 neg', 'x nonum', '6 with space', '', '#7 commented',
    ].join('\n'));
    expect([...map]).toEqual([[0, 'zero'], [1, 'one'], [2, 'two'], [8, 'eight'], [6, 'with space']]);
  });
});

describe('progname lookup (conntrack -E [USERSPACE])', () => {
  let proc: string;
  beforeAll(() => {
    proc = mkdtempSync(join(tmpdir(), 'ctevents-proc-'));
    mkdirSync(join(proc, 'net'));
    writeFileSync(join(proc, 'net', 'netlink'), [
      'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode',
      'ffff8880041e2000 0   4242       00000000 0        0        0     2        0        1111    ',
      'ffff8880041e3000 12  4242       00000000 0        0        0     2        0        2222    ',
      'ffff8880041e4000 12  3393581413 00000000 0        0        0     2        0        3333    ',
      'ffff8880041e5000 12  777        00000000 0        0        0     2        0        4444    ',
      '',
    ].join('\n'));
    const proc1 = (pid: number, comm: string, fds: Record<string, string>) => {
      mkdirSync(join(proc, String(pid), 'fd'), { recursive: true });
      writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1\n`);
      for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(proc, String(pid), 'fd', fd));
    };
    proc1(4242, 'conntrack', { '0': '/dev/null', '3': 'socket:[2222]' });
    proc1(5000, 'ctd (worker)', { '4': 'socket:[9]', '7': 'socket:[3333]' });
    proc1(1, 'init', { '3': 'socket:[4444]' });
  });
  afterAll(() => rmSync(proc, { recursive: true, force: true }));

  it('finds the NETLINK_NETFILTER socket, then its process', () => {
    const resolve = procPortidResolver(proc);
    expect(resolve(4242)).toBe('conntrack');
    // Port ids that are not process ids: every /proc/<pid>/fd is searched; comm stops at ')'.
    expect(resolve(3393581413)).toBe('ctd (worker');
    // pid 1 is never searched; unknown port ids give nothing.
    expect(resolve(777)).toBeUndefined();
    expect(resolve(999)).toBeUndefined();
    expect(procPortidResolver(join(proc, 'missing'))(4242)).toBeUndefined();
  });

  it('feeds the [USERSPACE] suffix', () => {
    const m = pick('plain', 'events', /\[USERSPACE\] portid=\d+ progname=conntrack$/);
    const f = createConntrackFormatter({ progname: () => undefined });
    expect(f(m.m, m.ctx)).toBe(m.line.replace(/ progname=conntrack$/, ''));
  });
});

describe('text format', () => {
  const text = (file: string, capture: string, re: RegExp) => {
    const p = pick(file, capture, re);
    return formatText(p.m, p.ctx);
  };
  const T = createTextFormatter({ utc: true });
  const utc = (file: string, capture: string, re: RegExp) => {
    const p = pick(file, capture, re);
    return T(p.m, p.ctx)!;
  };

  it('shows events with fixed columns', () => {
    const p = pick('plain', 'events', /^ +\[NEW\] tcp +6 120 SYN_SENT src=127\.0\.0\.1 .*dport=8081 /);
    const sport = /sport=(\d+)/.exec(p.line)![1];
    expect(T(p.m, p.ctx)).toMatch(new RegExp(
      `^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} NEW     tcp     127\\.0\\.0\\.1:${sport} -> 127\\.0\\.0\\.1:8081 SYN_SENT \\[UNREPLIED\\] timeout=120 ctid=\\d+$`));
    expect(text('plain', 'events', /^ +\[NEW\] tcp +6 120 SYN_SENT src=127/)).toMatch(/^\d\d:\d\d:\d\d\.\d{6} NEW /);
  });

  it('renders each fixture kind', () => {
    const strip = (s: string) => s.replace(/^\d\d:\d\d:\d\d\.\d{6} /, '').replace(/ ctid=\d+/g, ' ctid=N').replace(/:(\d{5})\b/g, (x, port: string) => (Number(port) >= 32768 ? ':P' : x));
    expect(strip(utc('plain', 'events', /^ \[UPDATE\] tcp .*dport=8082 .*ESTABLISHED|^ \[UPDATE\] tcp +6 432000 ESTABLISHED .*dport=8082/)))
      .toBe('UPDATE  tcp     127.0.0.1:P -> 127.0.0.1:8082 ESTABLISHED reply 127.0.0.1:8081 -> 127.0.0.1:P [ASSURED] timeout=432000 ctid=N');
    expect(strip(utc('plain', 'events', /^ +\[NEW\] icmpv6 +58 30 src=::1/)))
      .toMatch(/^NEW     icmpv6  ::1 -> ::1 type=128 code=0 id=\d+ \[UNREPLIED\] timeout=30 ctid=N$/);
    expect(strip(utc('plain', 'events', /^ +\[NEW\] tcp .*mark=7 \[USERSPACE\]/)))
      .toMatch(/^NEW     tcp     1\.1\.1\.1:1 -> 2\.2\.2\.2:2 ESTABLISHED \[UNREPLIED\] \[ASSURED\] timeout=100 mark=7 ctid=N portid=\d+$/);
    expect(strip(utc('plain', 'dump', /^tcp .*2001:db8::1/)))
      .toMatch(/^tcp     \[2001:db8::1\]:11 -> \[2001:db8::2\]:12 ESTABLISHED \[UNREPLIED\] \[ASSURED\] timeout=\d+ mark=0 use=1 ctid=N$/);
    expect(strip(utc('plain', 'events', /zone-reply=4/)))
      .toMatch(/^NEW     udp     127\.0\.0\.1:P -> 127\.0\.0\.1:5557 \[UNREPLIED\] timeout=2 zone-reply=4 ctid=N$/);
    expect(strip(utc('plain', 'dump', /^gre /)))
      .toMatch(/^gre     1\.1\.1\.1 -> 2\.2\.2\.2 srckey=0x10 dstkey=0x20 \[UNREPLIED\] timeout=\d+ mark=0 use=1 ctid=N$/);
    expect(strip(utc('acct', 'events-acct', /^\[DESTROY\] tcp +6 TIME_WAIT src=127/)))
      .toMatch(/^DESTROY tcp     127\.0\.0\.1:P -> 127\.0\.0\.1:8081 TIME_WAIT \[ASSURED\] pkts=6\/4 bytes=326\/222 duration=\d+\.\d{3}s ctid=N$/);
    expect(strip(utc('expect', 'events-expect', /^ +\[NEW\] /)))
      .toMatch(/^EXP-NEW tcp     127\.0\.0\.1:\* -> 127\.0\.0\.1:20020 master 127\.0\.0\.1:P -> 127\.0\.0\.1:21 timeout=\d+ class=0 helper=ftp ctid=N$/);
    expect(strip(utc('expect', 'dump-helper', /helper=ftp/))).toMatch(/ helper=ftp use=2 ctid=N$/);
    expect(strip(utc('labels', 'events-labels-o', /labels=one,five/))).toMatch(/ labels=1,5 ctid=N$/);
    expect(strip(utc('plain', 'stats', /^cpu=0/)))
      .toBe('stats cpu=0 found=0 invalid=0 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0'.replace(/insert=0/, `insert=${/insert=(\d+)/.exec(pick('plain', 'stats', /^cpu=0/).line)![1]}`));
    expect(strip(utc('plain', 'count', /^\d+$/))).toMatch(/^stats entries=\d+ max=\d+$/);
  });

  it('has a line for every other message', () => {
    const h = { type: 2, flags: 0x300, seq: 3, pid: 4242 };
    const req = { len: 36, type: 0x0102, flags: 5, seq: 3, pid: 4242 };
    const err: Message = { kind: 'error', header: h, error: { error: -2, request: req, extAck: { message: 'conntrack not found', offset: 20 } } };
    expect(formatText(err)).toBe('error ENOENT (seq 3) IPCTNL_MSG_CT_DELETE offset=20: conntrack not found');
    expect(formatText({ ...err, error: { error: 0, request: req } } as Message)).toBe('ack (seq 3) IPCTNL_MSG_CT_DELETE');
    expect(formatText({ kind: 'done', header: { ...h, type: 3 }, done: { error: 0 } })).toBe('done (seq 3)');
    expect(formatText({ kind: 'done', header: { ...h, type: 3 }, done: { error: -4 } })).toBe('done EINTR (seq 3)');
    expect(formatText({ kind: 'request', header: { type: 0x0101, flags: 0x301, seq: 3, pid: 0 }, nfgen: { family: 2, version: 0, resId: 0 } } as Message))
      .toBe('request IPCTNL_MSG_CT_GET dump family=ipv4 seq=3');
    expect(formatText({
      kind: 'conntrack', header: { type: 0x0100, flags: 0x605, seq: 9, pid: 0 }, nfgen: { family: 2, version: 0, resId: 0 },
      conntrack: { ...{ family: 2 }, orig: { src: '1.1.1.1', dst: '2.2.2.2', proto: 17, srcPort: 1, dstPort: 2 }, timeout: 30, natDst: { minIp: '3.3.3.3', minPort: 53 } },
    }, { timestampNs: 0n })).toMatch(/^\d\d:\d\d:\d\d\.000000 request IPCTNL_MSG_CT_NEW ack,excl,create family=ipv4 seq=9 udp     1\.1\.1\.1:1 -> 2\.2\.2\.2:2 timeout=30 dnat=3\.3\.3\.3:53$/);
    expect(formatText({ kind: 'overrun', header: { type: 4, flags: 0, seq: 0, pid: 0 } })).toBe('overrun');
    expect(formatText({ kind: 'other', header: { type: 0x0a01, flags: 0, seq: 1, pid: 0 }, payload: new Uint8Array(8) }))
      .toBe('other 0x0a01 subsys=10 flags=0x0 seq=1 pid=0 len=8');
  });

  it('prefers CTA_TIMESTAMP_EVENT for the time column', () => {
    const ct = { family: 2, orig: { src: '1.1.1.1', dst: '2.2.2.2', proto: 50 }, eventTimestamp: 3_723_000_001_000n };
    const m: Message = { kind: 'conntrack', header: { type: 0x0100, flags: 0, seq: 0, pid: 0 }, nfgen: { family: 2, version: 0, resId: 0 }, event: 'update', conntrack: ct };
    expect(createTextFormatter({ utc: true, date: true })(m, { timestampNs: 5n })).toBe('1970-01-01 01:02:03.000001 UPDATE  50      1.1.1.1 -> 2.2.2.2');
  });
});

describe('json format', () => {
  const json = (file: string, capture: string, re: RegExp) => {
    const p = pick(file, capture, re);
    const line = formatJson(p.m, p.ctx)!;
    return { line, obj: JSON.parse(line) as Record<string, unknown>, p };
  };

  it('writes every fixture message as one parseable line', () => {
    let n = 0;
    for (const fx of Object.values(FIXTURES)) {
      for (const c of fx.captures) {
        for (const r of c.records) {
          for (const m of decode(fx, r)) {
            const line = formatJson(m, { timestampNs: BigInt(r.timeNs) })!;
            expect(line).not.toContain('\n');
            const o = JSON.parse(line) as Record<string, unknown>;
            expect(o.timestampNs).toBe(r.timeNs);
            expect(JSON.stringify(o)).not.toContain('null');
            n++;
          }
        }
      }
    }
    expect(n).toBeGreaterThan(200);
  });

  it('matches the documented schema for an event', () => {
    const { obj, p } = json('plain', 'events', /^ +\[NEW\] tcp +6 100 ESTABLISHED src=1\.1\.1\.1 .*mark=7 \[USERSPACE\]/);
    const pid = Number(/portid=(\d+)/.exec(p.line)![1]);
    const ct = (p.m as Extract<Message, { kind: 'conntrack' }>).conntrack;
    expect(obj).toEqual({
      type: 'new',
      time: isoTime(p.ctx.timestampNs),
      timestampNs: String(p.ctx.timestampNs),
      pid,
      family: 'ipv4',
      proto: 'tcp',
      protoNum: 6,
      state: 'ESTABLISHED',
      orig: { src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2 },
      reply: { src: '2.2.2.2', dst: '1.1.1.1', sport: 2, dport: 1 },
      status: ['ASSURED', 'CONFIRMED'],
      timeout: 100,
      mark: 7,
      id: ct.id,
      synproxy: { isn: 0, its: 0, tsoff: 0 },
      protoinfo: {
        tcp: { state: 3, stateName: 'ESTABLISHED', wscaleOriginal: 0, wscaleReply: 0, flagsOriginal: { flags: 10, mask: 0 }, flagsReply: { flags: 10, mask: 0 } },
      },
    });
  });

  it('keeps 64-bit counters and timestamps exact as strings', () => {
    const { obj, p } = json('acct', 'events-acct', /^\[DESTROY\] tcp +6 TIME_WAIT src=127/);
    const ct = (p.m as Extract<Message, { kind: 'conntrack' }>).conntrack;
    expect(obj.type).toBe('destroy');
    expect(obj.counters).toEqual({ orig: { packets: '6', bytes: '326' }, reply: { packets: '4', bytes: '222' } });
    const ts = obj.timestamps as { start: string; stop: string };
    expect(BigInt(ts.start)).toBe(ct.timestamp!.start);
    expect(BigInt(ts.stop)).toBe(ct.timestamp!.stop);
    expect(ts.start).toMatch(/^\d{19}$/);
    // Beyond 2^53 too.
    const big: Message = { ...p.m, conntrack: { ...ct, countersOrig: { packets: 2n ** 64n - 1n, bytes: 9007199254740993n } } } as Message;
    const o = JSON.parse(formatJson(big)!) as { counters: { orig: { packets: string; bytes: string } } };
    expect(o.counters.orig).toEqual({ packets: '18446744073709551615', bytes: '9007199254740993' });
    expect(stringifyJson({ a: 2n ** 70n })).toBe('{"a":"1180591620717411303424"}');
  });

  it('describes dumps, expectations, stats, labels, zones', () => {
    const entry = json('plain', 'dump', /^tcp .* zone=5 /).obj;
    expect(entry).toMatchObject({ type: 'entry', msgType: 'IPCTNL_MSG_CT_NEW', seq: expect.any(Number), pid: expect.any(Number), flags: 2, zone: 5, use: 1, mark: 0 });
    expect(json('plain', 'events', /zone-orig=3 \[UNREPLIED\]/).obj.orig).toMatchObject({ zone: 3 });
    expect(json('labels', 'events-labels', /dport=6667 \[UNREPLIED\]/).obj.labels).toEqual([7, 100]);
    expect(json('plain', 'dump', /^icmp .*id=77/).obj).toMatchObject({
      proto: 'icmp', orig: { src: '1.1.1.1', dst: '2.2.2.2', type: 8, code: 0, id: 77 }, reply: { type: 0, code: 0, id: 77 },
    });
    const exp = json('expect', 'events-expect', /^ +\[NEW\]/).obj;
    expect(exp).toMatchObject({
      type: 'expect-new', family: 'ipv4', proto: 'tcp', protoNum: 6,
      tuple: { src: '127.0.0.1', dst: '127.0.0.1', sport: 0, dport: 20020 },
      mask: { src: '255.255.255.255', dst: '255.255.255.255', sport: 0, dport: 65535 },
      master: { dport: 21 }, helper: 'ftp', class: 0, expectFlags: [],
    });
    expect(exp).not.toHaveProperty('seq');
    expect(json('expect', 'events-expect', /^\[DESTROY\]/).obj.type).toBe('expect-destroy');
    expect(json('expect', 'dump-expect', /proto=6/).obj.type).toBe('expect');
    expect(json('plain', 'stats', /^cpu=1/).obj).toMatchObject({ type: 'stats-cpu', cpu: 1, found: 0, insert_failed: 0, chaintoolong: 0 });
    expect(json('expect', 'stats-expect', /^cpu=0/).obj).toMatchObject({ type: 'expect-stats-cpu', cpu: 0, expect_new: 0 });
    expect(json('plain', 'count', /^\d+$/).obj).toMatchObject({ type: 'stats', entries: expect.any(Number), max: expect.any(Number) });
  });

  it('describes control messages', () => {
    const h = { type: 2, flags: 0x300, seq: 3, pid: 4242 };
    const err: Message = {
      kind: 'error', header: h,
      error: { error: -2, request: { len: 20, type: 0x0102, flags: 5, seq: 3, pid: 4242 }, extAck: { message: 'nope', offset: 20 } },
    };
    expect(toJson(err)).toEqual({
      type: 'error', msgType: 'NLMSG_ERROR', seq: 3, pid: 4242, flags: 0x300, errno: 2, code: 'ENOENT', message: 'nope',
      extAck: { offset: 20 }, request: { msgType: 'IPCTNL_MSG_CT_DELETE', len: 20, flags: 5, seq: 3, pid: 4242 },
    });
    expect(toJson({ kind: 'done', header: { ...h, type: 3, flags: 2 }, done: { error: 0 } }, { timestampNs: 1_500_000_123n }))
      .toEqual({ type: 'done', time: '1970-01-01T00:00:01.500000Z', timestampNs: '1500000123', msgType: 'NLMSG_DONE', seq: 3, pid: 4242, flags: 2 });
    expect(toJson({ kind: 'overrun', header: { type: 4, flags: 0, seq: 0, pid: 0 } })).toEqual({ type: 'overrun' });
    expect(toJson({ kind: 'request', header: { type: 0x0104, flags: 0x301, seq: 1, pid: 0 }, nfgen: { family: 0, version: 0, resId: 0 } } as Message))
      .toEqual({ type: 'request', msgType: 'IPCTNL_MSG_CT_GET_STATS_CPU', seq: 1, pid: 0, flags: 0x301, family: 0 });
    expect(toJson({ kind: 'other', header: { type: 0x0a01, flags: 0, seq: 1, pid: 0 }, payload: Uint8Array.of(1, 0xab) }))
      .toEqual({ type: 'other', msgType: '0x0a01', seq: 1, pid: 0, flags: 0, payload: '01ab' });
  });

  it('formats times as UTC ISO-8601 with microseconds', () => {
    expect(isoTime(1795532821745528999n)).toBe('2026-11-24T15:07:01.745528Z');
    expect(isoTime(-1n)).toBe('1969-12-31T23:59:59.999999Z');
  });
});

describe('index', () => {
  it('creates each formatter', () => {
    const p = pick('plain', 'dump', /^gre /);
    for (const name of FORMAT_NAMES) expect(typeof createFormatter(name)(p.m, p.ctx)).toBe('string');
    expect(createFormatter('conntrack')(p.m, p.ctx)).toBe(p.line);
  });

  it('re-encodes fixture messages byte for byte (the fixtures are sound codec input)', () => {
    const fx = FIXTURES.plain!;
    const r = fx.captures.find((c) => c.name === 'events')!.records[0]!;
    expect(Buffer.from(encodeMessage(decode(fx, r)[0]!, fx.littleEndian)).toString('hex')).toBe(r.hex);
  });
});
