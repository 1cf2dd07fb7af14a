/**
 * `ctevents read` on damaged captures: report, skip, go on (issue 12). Each case plants
 * one fault in a small capture of real kernel datagrams and checks that every good record
 * is still decoded, that the fault is an in-band item (text line, JSON object, stderr line
 * in conntrack format) with its record number and byte offset, that the exit code is 1
 * and the summary counts it, and that only a lost framing ends the read early. What tshark
 * reads (versions 2.x, fractions over a second, records over snaplen, odd option lengths)
 * is read.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { MalformedRecord, NetlinkItemParser, type NetlinkItem } from '../src/pcap/index.js';
import { block, cat, classicFile, classicHeader, classicRecord, cooked, datagramsOf, epb, idb, option, shb } from './helpers/pcap-craft.js';

const dir = mkdtempSync(join(tmpdir(), 'ctev-pcap-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `f${n++}`);
  writeFileSync(p, bytes);
  return p;
}

/** Four NEW/DESTROY event datagrams of a real TCP connection, each one message. */
const TCP = datagramsOf('tcp-ipv4.pcap');
const [A, B, C] = [cooked(TCP[0]!), cooked(TCP[1]!), cooked(TCP[2]!)];

async function json(bytes: Uint8Array): Promise<{ code: number; items: Record<string, unknown>[]; stderr: string }> {
  const r = await runCli(['read', file(bytes), '--format', 'json']);
  return { code: r.code, items: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr: r.stderr };
}
const types = (items: Record<string, unknown>[]) => items.map((i) => i.type);
const malformed = (items: Record<string, unknown>[]) => items.filter((i) => i.type === 'malformed');

describe('classic pcap: records tshark reads are read', () => {
  it.each([
    ['2.2', 2],
    ['2.5', 5],
  ])('version %s', async (_v, minor) => {
    const r = await json(classicFile({ minor }, [{ data: A }, { data: B }]));
    expect(r.code).toBe(0);
    expect(types(r.items)).toEqual(['new', 'update']);
  });

  it('a µs fraction of a second or more carries into the seconds', async () => {
    const r = await json(classicFile({}, [{ sec: 1_700_000_000, frac: 2_500_000, data: A }]));
    expect(r.code).toBe(0);
    expect(r.items[0]).toMatchObject({ type: 'new', timestampNs: '1700000002500000000' });
  });

  it('a record longer than snaplen (within the bound) is decoded', async () => {
    const r = await json(classicFile({ snaplen: 20 }, [{ data: A }, { data: B }]));
    expect(r.code).toBe(0);
    expect(types(r.items)).toEqual(['new', 'update']);
  });
});

describe('classic pcap: a bad record is reported, the others decoded', () => {
  it('a record shorter than the 16-byte cooked header', async () => {
    const bytes = classicFile({}, [{ data: A }, { data: A.subarray(0, 10) }, { data: C }]);
    const r = await json(bytes);
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['new', 'malformed', r.items[2]!.type]);
    expect(r.items).toHaveLength(3);
    expect(r.items[1]).toMatchObject({ type: 'malformed', record: 2, offset: 24 + 16 + A.length });
    expect(String(r.items[1]!.error)).toMatch(/10 bytes, shorter than its 16-byte header/);
    expect(r.stderr).toMatch(/2 messages .* 1 malformed/);
  });

  it('a LINKTYPE_NETLINK record whose hatype is not ARPHRD_NETLINK', async () => {
    const r = await json(classicFile({}, [{ data: cooked(TCP[0]!, { hatype: 1 }) }, { data: B }]));
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['malformed', 'update']);
    expect(r.items[0]).toMatchObject({ record: 1, offset: 24, error: expect.stringMatching(/hatype 1, want 824/) });
  });

  it('a cooked-header protocol other than NETLINK_NETFILTER is reported by name', async () => {
    const r = await json(classicFile({}, [{ data: A }, { data: cooked(TCP[1]!, { protocol: 0 }) }]));
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['new', 'malformed']);
    expect(r.items[1]!.error).toMatch(/NETLINK_ROUTE \(0\) record, not NETLINK_NETFILTER \(12\)/);
  });

  it('a link type that is not netlink is named, each record reported', async () => {
    const r = await json(classicFile({ linktype: 1 }, [{ data: A }, { data: B }]));
    expect(r.code).toBe(1);
    expect(malformed(r.items)).toHaveLength(2);
    expect(r.items[0]!.error).toMatch(/LINKTYPE_ETHERNET \(1\) is not a netlink link type/);
    expect(r.stderr).toMatch(/0 messages .* 2 malformed/);
  });

  it('a record over the 262,144-byte bound is skipped (never buffered) and the next one decoded', async () => {
    const big = new Uint8Array(300_000);
    const r = await json(classicFile({ snaplen: 0 }, [{ data: A }, { data: big }, { data: C }]));
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['new', 'malformed', r.items[2]!.type]);
    expect(r.items[1]).toMatchObject({ record: 2, offset: 24 + 16 + A.length + 8, error: expect.stringMatching(/over the bound 262144/) });
    expect(r.items).toHaveLength(3);
  });

  it('a snaplen over the bound raises it', async () => {
    const big = cooked(cat(TCP[1]!, new Uint8Array(300_000)));
    // The datagram has trailing zero bytes: the message is decoded, the rest is reported.
    const r = await json(classicFile({ snaplen: 1 << 20 }, [{ data: big }]));
    expect(r.items[0]).toMatchObject({ type: 'update' });
  });

  it('one bad attribute in one message: every other message of the datagram is decoded', async () => {
    const dump = datagramsOf('dump-large.pcap').find((d) => countMessages(d) > 10)!;
    const total = countMessages(dump);
    const bad = dump.slice();
    const dv = new DataView(bad.buffer);
    const second = (dv.getUint32(0, true) + 3) & ~3;
    dv.setUint16(second + 20, 2, true); // the first attribute of message 2: nla_len 2 (< 4)
    const r = await json(classicFile({}, [{ data: cooked(bad) }]));
    expect(r.code).toBe(1);
    expect(r.items.filter((i) => i.type === 'entry')).toHaveLength(total - 1);
    expect(r.items[1]).toMatchObject({ type: 'malformed', record: 1, offset: 24, error: expect.stringMatching(new RegExp(`message at byte ${second} of the datagram`)) });
  });
});

function countMessages(d: Uint8Array): number {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let k = 0;
  for (let off = 0; off + 16 <= d.length; k++) off += (dv.getUint32(off, true) + 3) & ~3;
  return k;
}

describe('pcapng', () => {
  const tsresol = (v: number, length = 1) => option(9, Uint8Array.of(v), length);

  it('an if_tsresol of an unexpected length is ignored (as tshark) and reported', async () => {
    const r = await json(cat(shb(), idb({ options: [tsresol(9, 2)] }), epb(1_700_000_000_000_000n, A)));
    expect(r.code).toBe(1);
    expect(r.items[0]).toMatchObject({ type: 'malformed', offset: 28 + 16, error: expect.stringMatching(/if_tsresol has length 2/) });
    expect(r.items[0]!.record).toBeUndefined();
    expect(r.items[1]).toMatchObject({ type: 'new', timestampNs: '1700000000000000000' });
  });

  it('an IDB option overrunning its block ends the options, the packets are read', async () => {
    const r = await json(cat(shb(), idb({ options: [option(2, Uint8Array.of(1, 2, 3, 4), 200)] }), epb(5n, A)));
    expect(types(r.items)).toEqual(['malformed', 'new']);
    expect(r.items[0]!.error).toMatch(/overruns its block/);
  });

  it('a small snaplen: the packet is read', async () => {
    const r = await json(cat(shb(), idb({ snaplen: 16 }), epb(5n, A)));
    expect(r.code).toBe(0);
    expect(types(r.items)).toEqual(['new']);
  });

  it('a timestamp no date can show: the messages without a time, the fault reported (json, text)', async () => {
    const bytes = cat(shb(), idb({ options: [tsresol(0)] }), epb(0xffff_ffff_ffff_0000n, A), epb(1_700_000_000n, B));
    const r = await json(bytes);
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['malformed', 'new', 'update']);
    expect(r.items[0]).toMatchObject({ record: 1, error: expect.stringMatching(/outside the range of a date/) });
    expect(r.items[1]!.time).toBeUndefined();
    expect(r.items[2]!.time).toBe('2023-11-14T22:13:20.000000Z');
    const t = await runCli(['read', file(bytes)]);
    expect(t.code).toBe(1);
    expect(t.stdout).not.toMatch(/NaN/);
    expect(t.stdout).toMatch(/^MALFORMED record 1 \(file offset 60\): timestamp/m);
  });

  it('a corrupted block type hides no packet silently', async () => {
    const bytes = cat(shb(), idb(), epb(5n, A), epb(6n, B), epb(7n, C));
    new DataView(bytes.buffer).setUint32(28 + 20 + A.length + 32, 0x16, true); // block 2's type
    const r = await json(bytes);
    expect(r.code).toBe(1);
    expect(r.items.map((i) => i.type)).toEqual(['new', 'malformed', r.items[2]!.type]);
    expect(r.items[1]).toMatchObject({ offset: 48 + A.length + 32, error: expect.stringMatching(/unknown pcapng block type 0x16/) });
  });

  it('a packet naming a missing interface is reported and skipped', async () => {
    const r = await json(cat(shb(), idb(), epb(5n, A, { iface: 3 }), epb(6n, B)));
    expect(types(r.items)).toEqual(['malformed', 'update']);
    expect(r.items[0]).toMatchObject({ record: 1, error: expect.stringMatching(/interface 3, section has 1/) });
  });
});

describe('a lost framing ends the read early, with the count', () => {
  it('bad magic', async () => {
    const r = await json(cat(new Uint8Array(24), classicRecord({ data: A })));
    expect(r.code).toBe(1);
    expect(r.items).toEqual([{ type: 'malformed', offset: 0, error: 'unknown magic', fatal: true }]);
    expect(r.stderr).toMatch(/0 messages .* 1 malformed; the read ended early at file offset 0: unknown magic/);
  });

  it('a truncated record header after good records', async () => {
    const bytes = cat(classicHeader(), classicRecord({ data: A }), classicRecord({ data: B }).subarray(0, 9));
    const r = await json(bytes);
    expect(r.code).toBe(1);
    expect(types(r.items)).toEqual(['new', 'malformed']);
    expect(r.items[1]).toMatchObject({ record: 2, fatal: true, error: expect.stringMatching(/truncated record header/) });
    expect(r.stderr).toMatch(/1 messages .*1 malformed; the read ended early/);
  });

  it('text and conntrack formats say it too (conntrack on stderr)', async () => {
    const bytes = classicFile({}, [{ data: A }, { data: A.subarray(0, 10) }]);
    const t = await runCli(['read', file(bytes)]);
    expect(t.stdout).toMatch(/^MALFORMED record 2 \(file offset \d+\): LINKTYPE_NETLINK record of 10 bytes/m);
    const c = await runCli(['read', file(bytes), '--format', 'conntrack']);
    expect(c.code).toBe(1);
    expect(c.stdout).not.toMatch(/MALFORMED|malformed/);
    expect(c.stderr).toMatch(/ctevents: .*: record 2 \(file offset \d+\): LINKTYPE_NETLINK record of 10 bytes/);
  });
});

describe('the item reader (library): over-long records are dropped as they arrive', () => {
  const digest = (items: NetlinkItem[]) =>
    items.map((i) => (i instanceof MalformedRecord ? `M ${i.index} ${i.fileOffset} ${i.fatal} ${i.reason}` : `D ${i.index} ${i.fileOffset} ${Buffer.from(i.data).toString('hex')}`));
  function read(bytes: Uint8Array, chunk: number): { items: string[]; maxPending: number } {
    const p = new NetlinkItemParser();
    const items: NetlinkItem[] = [];
    let maxPending = 0;
    for (let at = 0; at < bytes.length; at += chunk) {
      p.push(bytes.subarray(at, at + chunk));
      p.drain(items);
      // What the parser still holds of the input: never more than the bound plus a chunk.
      maxPending = Math.max(maxPending, (p as unknown as { parser: { queue: { available: number } } }).parser.queue.available);
    }
    p.end(items);
    return { items: digest(items), maxPending };
  }
  it.each([
    ['classic', () => classicFile({ snaplen: 0 }, [{ data: A }, { data: new Uint8Array(1_000_000) }, { data: B }])],
    ['pcapng', () => cat(shb(), idb(), epb(5n, A), epb(6n, new Uint8Array(1_000_000)), epb(7n, B))],
  ])('%s: the same items in any chunking, and nothing of the record held', (_n, make) => {
    const bytes = make();
    const whole = read(bytes, bytes.length).items;
    expect(whole.map((l) => l[0])).toEqual(['D', 'M', 'D']);
    expect(whole[1]).toMatch(/^M 1 \d+ false .*over the bound/);
    for (const chunk of [1000, 4096, 65536]) {
      const r = read(bytes, chunk);
      expect(r.items).toEqual(whole);
      expect(r.maxPending).toBeLessThanOrEqual(chunk + 64);
    }
  });
});

describe.skipIf(spawnSync('tshark', ['--version']).status !== 0)('what tshark reads, we read: the same frames', () => {
  const tsresol = (v: number, length = 1) => option(9, Uint8Array.of(v), length);
  it.each([
    ['pcap 2.2', () => classicFile({ minor: 2 }, [{ data: A }, { data: B }])],
    ['pcap 2.5', () => classicFile({ minor: 5 }, [{ data: A }, { data: B }])],
    ['µs fraction over a second', () => classicFile({}, [{ frac: 2_500_000, data: A }, { data: B }])],
    ['record over snaplen', () => classicFile({ snaplen: 20 }, [{ data: A }, { data: B }])],
    ['pcapng small snaplen', () => cat(shb(), idb({ snaplen: 16 }), epb(5n, A), epb(6n, B))],
    ['pcapng if_tsresol of length 2', () => cat(shb(), idb({ options: [tsresol(9, 2)] }), epb(5n, A), epb(6n, B))],
    ['pcapng unknown block', () => cat(shb(), idb(), epb(5n, A), block(0x16, new Uint8Array(8)), epb(6n, B))],
  ])('%s', async (_name, make) => {
    const path = file(make());
    const ts = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(ts.status, ts.stderr).toBe(0);
    const frames = ts.stdout.split('\n').filter(Boolean).length;
    const r = await json(readFileSync(path));
    expect(r.items.filter((i) => i.type !== 'malformed')).toHaveLength(frames);
  });
});
