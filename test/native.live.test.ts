// The native shim's fault paths (issue 12, "The addon never takes the process down") and
// its receive thread and receive times (issues 9 and 13), against the running kernel.
//
// Fault injection: the addon exports `_fault(name, count)` for tests only; it makes the
// next `count` buffer reallocations in the receive drain ('realloc'), N-API handle scopes
// when the receive thread hands a batch to JS ('scope') or receive-thread chunk
// allocations ('chunk') fail, and returns how many of the previous setting were left.
// Nothing else uses it.
//
// Live parts need root and are skipped with the reason printed otherwise. Child processes
// run the built package (dist/): `npm run build` first, as for the CLI tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/client.js';
import type { EventItem } from '../src/client/events.js';
import { dumpRequest } from '../src/ctnetlink/requests.js';
import { encodeMessage } from '../src/ctnetlink/message.js';
import { ErrnoError } from '../src/socket/errno.js';
import { loadNative, nativeAddonPath } from '../src/socket/native.js';
import { NetlinkSocket, readFileInNetns, resolveNetnsPath, type ReceiveItem, type ReceivedDatagram } from '../src/socket/netlink-socket.js';
import { runCli } from './helpers/cli.js';
import { parseCapture } from '../src/pcap/index.js';
import { createNetns, isRoot, liveSkipReason, udpFlows, type Netns } from './helpers/live.js';

const ROOT = join(import.meta.dirname, '..');
const hasAddon = existsSync(nativeAddonPath());
if (!hasAddon) console.warn('test/native.live.test.ts: addon not built: skipped');
const skip = liveSkipReason();
if (skip) console.warn(`test/native.live.test.ts: ${skip}`);
const hasUnshare = spawnSync('sh', ['-c', 'command -v unshare'], { stdio: 'ignore' }).status === 0;
const hasDist = existsSync(join(ROOT, 'dist', 'socket', 'netlink-socket.js'));

const NETLINK_NETFILTER = 12;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function statsRequest(seq: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint32(0, 20, LE);
  v.setUint16(4, 0x0105, LE); // IPCTNL_MSG_CT_GET_STATS
  v.setUint16(6, 0x1 | 0x4, LE); // NLM_F_REQUEST | NLM_F_ACK
  v.setUint32(8, seq, LE);
  return b;
}

/** nlmsg_type of every message of a datagram. */
function types(d: Uint8Array): number[] {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: number[] = [];
  for (let off = 0; off + 16 <= d.byteLength; ) {
    const len = v.getUint32(off, LE);
    if (len < 16) break;
    out.push(v.getUint16(off + 4, LE));
    off += (len + 3) & ~3;
  }
  return out;
}

/** Entries in the test namespace's table, as conntrack(8) counts them. */
const tableCount = (ns: Netns) => Number(execFileSync('ip', ['netns', 'exec', ns.name, 'conntrack', '-C'], { encoding: 'utf8' }).trim());
const isDatagram = (i: ReceiveItem): i is ReceivedDatagram => !('overrun' in i);

async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!hasAddon)('addon arguments', () => {
  it('refuses a NUL inside a namespace or file path with a typed error (it would be cut silently)', () => {
    const native = loadNative();
    expect(() => resolveNetnsPath('/var/run/netns/a\0b')).toThrow(TypeError);
    expect(() => resolveNetnsPath('a\0b')).toThrow(TypeError);
    let err: unknown;
    try {
      new native.NlSocket(NETLINK_NETFILTER, '/var/run/netns/a\0b');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect((err as Error).message).toMatch(/NUL/);
    expect(() => native.readFileInNetns('/proc/self/ns/net', '/proc/self/st\0at', 100)).toThrow(/NUL/);
    expect(() => native.readFileInNetns('/proc/self/ns/n\0et', '/proc/self/stat', 100)).toThrow(/NUL/);
    expect(() => new native.NlSocket(NETLINK_NETFILTER, '')).toThrow(TypeError);
  });

  it('bind refuses arguments that are not 32-bit unsigned integers instead of binding to 0', () => {
    const native = loadNative();
    const h = new native.NlSocket(NETLINK_NETFILTER, null);
    try {
      const bad: unknown[][] = [['x', 0], [-1, 0], [1.5, 0], [0, 2 ** 32], [0, NaN], [0]];
      for (const args of bad) {
        expect(() => (h.bind as (...a: unknown[]) => number)(...args), JSON.stringify(args)).toThrow(TypeError);
      }
      expect(h.bind(0, 0)).toBeGreaterThan(0); // still usable, nothing was bound before
    } finally {
      h.close();
    }
  });

  it('setReceiveThread refuses a buffer below 256 KiB and a late call', () => {
    expect(() => NetlinkSocket.open({ receiveThread: 1000 })).toThrow(RangeError);
    const native = loadNative();
    const h = new native.NlSocket(NETLINK_NETFILTER, null);
    try {
      expect(() => h.setReceiveThread(100)).toThrow(TypeError);
      h.start(() => {}, () => {});
      expect(() => h.setReceiveThread(1 << 20)).toThrow(/before start/);
    } finally {
      h.close();
    }
  });
});

describe.skipIf(skip !== undefined || !hasAddon)('addon faults (live, root)', () => {
  let ns: Netns;
  const opened: NetlinkSocket[] = [];
  const open = (opts?: Parameters<typeof NetlinkSocket.open>[0]) => {
    const s = NetlinkSocket.open(opts);
    opened.push(s);
    return s;
  };
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => {
    for (const s of opened) s.close();
    loadNative()._fault('realloc', 0);
    loadNative()._fault('scope', 0);
    loadNative()._fault('chunk', 0);
    ns?.remove();
  });

  it.skipIf(!hasUnshare || !hasDist)('a namespace it cannot enter is a typed error; one it cannot leave no longer aborts the process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctev-native-'));
    try {
      const script = join(dir, 'open.mjs');
      writeFileSync(
        script,
        `import { NetlinkSocket } from ${JSON.stringify(join(ROOT, 'dist', 'socket', 'netlink-socket.js'))};
try {
  const s = NetlinkSocket.open({ netns: process.argv[2] });
  s.send(new Uint8Array([20,0,0,0,5,1,5,0,1,0,0,0,0,0,0,0,0,0,0,0]));
  console.log(JSON.stringify({ ok: true, portid: s.portid }));
  s.close();
} catch (e) { console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, syscall: e.syscall, capability: e.capability })); }
`,
      );
      // In a user namespace, our own network namespace belongs to the initial user
      // namespace: setns() into it fails (EPERM). The error is typed; the process lives.
      const a = spawnSync('unshare', ['-Ur', process.execPath, script, '/proc/self/ns/net'], { encoding: 'utf8' });
      expect(a.status, a.stderr).toBe(0);
      expect(JSON.parse(a.stdout.trim())).toEqual({ ok: false, name: 'ErrnoError', code: 'EPERM', syscall: 'setns', capability: 'CAP_SYS_ADMIN' });
      // A namespace created inside the user namespace can be entered, but the way back
      // (to the initial one) is refused: before, the main thread was stranded there and
      // napi_fatal_error aborted the process (exit 134). Now a short-lived thread enters it.
      const b = spawnSync(
        'unshare',
        ['-Ur', 'sh', '-c', `unshare -n sleep 20 & p=$!; sleep 0.5; "$0" "$1" /proc/$p/ns/net; r=$?; kill $p; exit $r`, process.execPath, script],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(b.status, b.stderr).toBe(0);
      expect(JSON.parse(b.stdout.trim())).toMatchObject({ ok: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('readFileInNetns reads inside the namespace from its own thread; the caller never moves', () => {
    const here = readlinkSync('/proc/thread-self/ns/net');
    const s = open({ netns: ns.name });
    const table = Buffer.from(readFileInNetns(ns.name, '/proc/thread-self/net/netlink')).toString('latin1');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(here);
    const pids = table.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[2]));
    expect(pids).toContain(s.portid);
    let err: unknown;
    try {
      readFileInNetns(ns.name, '/nonexistent/file');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(here);
  });

  it('a failed buffer allocation while receiving waits and retries instead of spinning', async () => {
    const native = loadNative();
    const s = open();
    const got: ReceiveItem[] = [];
    s.onReceive((items) => got.push(...items), () => {});
    native._fault('realloc', 1_000_000);
    s.send(statsRequest(77));
    await new Promise((r) => setTimeout(r, 300));
    // A level-triggered poll that returned with nothing read would have spun through
    // thousands of attempts by now; a retry timer makes a few dozen at most.
    const left = native._fault('realloc', 0);
    expect(left).toBeGreaterThan(1_000_000 - 1000);
    expect(got).toHaveLength(0);
    await waitFor(() => got.filter(isDatagram).some((d) => types(d.data).includes(NLMSG_ERROR)));
  });

  it('a failed N-API call after a read-ahead keeps the batch and goes on: the dump completes', async () => {
    const native = loadNative();
    udpFlows(ns, 20000, 400);
    const s = open({ netns: ns.name, readAhead: true, batchBytes: 64 * 1024 });
    const got: ReceiveItem[] = [];
    s.onReceive((items) => got.push(...items.map((i) => (isDatagram(i) ? { ...i, data: new Uint8Array(i.data) } : i))), () => {});
    native._fault('scope', 3);
    s.send(encodeMessage(dumpRequest()));
    const all = () => got.filter(isDatagram).flatMap((d) => types(d.data));
    await waitFor(() => all().includes(NLMSG_DONE));
    expect(native._fault('scope', 0)).toBe(0); // all three failures happened
    expect(all().filter((t) => t === 0x0100).length).toBe(400); // IPCTNL_MSG_CT_NEW entries
  });

  it('read-ahead waits for a consumer that stopped taking batches: bounded memory, nothing lost', async () => {
    udpFlows(ns, 20000, 3000);
    const s = open({ netns: ns.name, readAhead: true, batchBytes: 64 * 1024 });
    const got: ReceiveItem[] = [];
    let paused = false;
    s.onReceive((items) => {
      got.push(...items.map((i) => (isDatagram(i) ? { ...i, data: new Uint8Array(i.data) } : i)));
      if (!paused) {
        paused = true;
        s.pause(); // the thread reads on until its buffer is full, then waits
      }
    }, () => {});
    s.send(encodeMessage(dumpRequest()));
    await waitFor(() => paused);
    await new Promise((r) => setTimeout(r, 300));
    const held = s.receiveStats();
    expect(held.chunks).toBeLessThanOrEqual(held.maxChunks!);
    expect(held.chunks! * held.chunkBytes!).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    s.resume();
    const all = () => got.filter(isDatagram).flatMap((d) => types(d.data));
    await waitFor(() => all().includes(NLMSG_DONE));
    expect(got.every(isDatagram)).toBe(true); // no loss marker of any kind
    expect(all().filter((t) => t === 0x0100).length).toBe(tableCount(ns));
    expect(s.localDrops()).toBe(0);
    // Each batch is about batchBytes however far the thread read ahead (one datagram at least).
    for (const d of got.filter(isDatagram)) expect(d.data.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it('read-ahead without memory for a single chunk fails the dump with ENOMEM, never hangs or drops', async () => {
    const native = loadNative();
    udpFlows(ns, 20000, 100);
    const s = open({ netns: ns.name, readAhead: true });
    let error: unknown;
    const got: ReceiveItem[] = [];
    s.onReceive((items) => got.push(...items), (e) => (error = e));
    native._fault('chunk', 1);
    s.send(encodeMessage(dumpRequest()));
    await waitFor(() => error !== undefined);
    native._fault('chunk', 0);
    expect(error).toBeInstanceOf(ErrnoError);
    expect(error).toMatchObject({ errno: 12, code: 'ENOMEM', syscall: 'mmap' });
    expect(got).toHaveLength(0);
  });

  it('read-ahead with fewer chunks than its bound (allocations failing) still completes the dump', async () => {
    const native = loadNative();
    udpFlows(ns, 20000, 3000);
    const s = open({ netns: ns.name, readAhead: true, batchBytes: 64 * 1024 });
    const got: ReceiveItem[] = [];
    let first = true;
    s.onReceive((items) => {
      if (first) {
        first = false;
        native._fault('chunk', 1_000_000); // from now on, no chunk beyond those it has
      }
      got.push(...items.map((i) => (isDatagram(i) ? { ...i, data: new Uint8Array(i.data) } : i)));
    }, () => {});
    s.send(encodeMessage(dumpRequest()));
    const all = () => got.filter(isDatagram).flatMap((d) => types(d.data));
    try {
      await waitFor(() => all().includes(NLMSG_DONE));
    } finally {
      native._fault('chunk', 0);
    }
    expect(got.every(isDatagram)).toBe(true);
    expect(all().filter((t) => t === 0x0100).length).toBe(tableCount(ns));
  });

  it('fd 0 is a socket like any other: closed even while a read-ahead is in flight', () => {
    if (!hasDist) return;
    const script = `
      const { closeSync, readlinkSync } = require('node:fs');
      import(${JSON.stringify(join(ROOT, 'dist', 'socket', 'netlink-socket.js'))}).then(async ({ NetlinkSocket }) => {
        const { encodeMessage } = await import(${JSON.stringify(join(ROOT, 'dist', 'ctnetlink', 'message.js'))});
        const { dumpRequest } = await import(${JSON.stringify(join(ROOT, 'dist', 'ctnetlink', 'requests.js'))});
        let leaked = 0, onZero = 0;
        for (let i = 0; i < 20; i++) {
          try { closeSync(0); } catch {}
          const s = NetlinkSocket.open({ readAhead: true, batchBytes: 65536 });
          try { if (readlinkSync('/proc/self/fd/0').startsWith('socket:')) onZero++; } catch {}
          await new Promise((res) => {
            s.onReceive(() => { s.close(); res(); }, () => res());
            s.send(encodeMessage(dumpRequest()));
          });
          // The fd is closed when the in-flight read-ahead ends (on a loaded machine the pool
          // may take a while); a leaked one stays open for good.
          const isSocket = () => { try { return readlinkSync('/proc/self/fd/0').startsWith('socket:'); } catch { return false; } };
          for (let t = 0; t < 300 && isSocket(); t++) await new Promise((r) => setTimeout(r, 10));
          if (isSocket()) leaked++;
        }
        console.log(JSON.stringify({ leaked, onZero }));
      });`;
    const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ leaked: 0, onZero: 20 });
  });
});

describe.skipIf(skip !== undefined || !hasAddon)('receive thread and receive times (live, root)', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => {
    loadNative()._fault('chunk', 0);
    ns?.remove();
  });

  it('keeps draining the kernel while JS is paused; its own buffer overflow is counted in-band, apart from the kernel drops', async () => {
    const s = NetlinkSocket.open({ netns: ns.name, groups: [1], receiveBufferSize: 64 << 20, receiveThread: 256 * 1024 });
    try {
      const got: ReceiveItem[] = [];
      s.onReceive((items) => got.push(...items), () => {});
      s.pause();
      udpFlows(ns, 1000, 3000); // ~3000 x ~150 bytes: more than two 128 KiB chunks
      await waitFor(() => (s.receiveStats().localDrops ?? 0) > 0);
      const stats = s.receiveStats();
      expect(stats.chunks).toBeLessThanOrEqual(stats.maxChunks!);
      expect(got).toHaveLength(0); // paused: nothing delivered
      s.resume();
      const counted = () => got.filter(isDatagram).flatMap((d) => types(d.data)).length + got.reduce((a, i) => a + ('overrun' in i && i.source === 'buffer' ? i.lost ?? 0 : 0), 0);
      await waitFor(() => counted() >= 3000);
      const markers = got.filter((i) => 'overrun' in i);
      expect(markers.length).toBeGreaterThan(0);
      expect(markers.every((m) => 'overrun' in m && m.source === 'buffer')).toBe(true);
      expect(counted()).toBe(3000);
      expect(s.drops()).toBe(0); // the kernel dropped nothing: the thread kept reading
      // and the stream goes on, with nothing lost now
      const before = got.length;
      udpFlows(ns, 5000, 5);
      await waitFor(() => got.slice(before).filter(isDatagram).length >= 5);
      expect(got.slice(before).some((i) => 'overrun' in i)).toBe(false);
    } finally {
      s.close();
    }
  });

  it('counts what it discards when no chunk can be allocated, and reports it once memory is back', async () => {
    const native = loadNative();
    const s = NetlinkSocket.open({ netns: ns.name, groups: [1], receiveThread: 1 << 20 });
    try {
      const got: ReceiveItem[] = [];
      s.onReceive((items) => got.push(...items), () => {});
      native._fault('chunk', 1_000_000_000);
      udpFlows(ns, 8000, 10);
      await waitFor(() => (s.receiveStats().localDrops ?? 0) >= 10);
      native._fault('chunk', 0);
      udpFlows(ns, 8100, 1);
      await waitFor(() => got.filter(isDatagram).length >= 1);
      expect(got[0]).toMatchObject({ overrun: true, source: 'buffer', lost: 10 });
    } finally {
      s.close();
      native._fault('chunk', 0);
    }
  });

  it('stamps every datagram with its own receive time, with sub-millisecond resolution', async () => {
    const ct = await ConntrackClient.open({ netns: ns.name });
    try {
      const sub = ct.events({ types: ['new'] });
      const t0 = BigInt(Date.now() - 1) * 1_000_000n;
      udpFlows(ns, 9000, 50);
      const items: EventItem[] = [];
      await waitFor(() => {
        items.push(...sub.drain());
        return items.filter((i) => i.kind === 'event').length >= 50;
      });
      const t1 = BigInt(Date.now() + 1) * 1_000_000n;
      const times = items.filter((i) => i.kind === 'event').map((i) => i.receivedNs);
      for (const t of times) {
        expect(t >= t0 && t <= t1).toBe(true);
      }
      for (let i = 1; i < times.length; i++) expect(times[i]! >= times[i - 1]!).toBe(true);
      expect(new Set(times.map(String)).size).toBeGreaterThan(1); // per datagram, not per batch
      expect(times.some((t) => t % 1_000_000n !== 0n)).toBe(true); // not Date.now() in disguise
      sub.close();
    } finally {
      await ct.close();
    }
  });
});

describe.skipIf(skip !== undefined || !hasAddon)('ctevents receive times (live, root)', () => {
  it('prints and records (--write) each datagram with its own receive time, finer than a millisecond', async () => {
    const ns = createNetns();
    const dir = mkdtempSync(join(tmpdir(), 'ctev-ts-'));
    try {
      const file = join(dir, 'ev.pcap');
      const t = setTimeout(() => udpFlows(ns, 7000, 30), 500);
      const r = await runCli(['--netns', ns.name, '--events', 'new', '--count', '30', '--format', 'json', '--write', file, '--duration', '10']);
      clearTimeout(t);
      expect(r.code, r.stderr).toBe(0);
      const printed = r.stdout.trim().split('\n').map((l) => BigInt(JSON.parse(l).timestampNs as string));
      expect(printed).toHaveLength(30);
      expect(new Set(printed.map(String)).size).toBeGreaterThan(1);
      expect(printed.some((t) => t % 1_000_000n !== 0n)).toBe(true);
      const recorded = [...parseCapture(readFileSync(file))].map((rec) => rec.timestampNs);
      expect(recorded.length).toBeGreaterThanOrEqual(30);
      expect(recorded.some((t) => t % 1_000_000n !== 0n)).toBe(true);
      // The capture holds the same times (at its microsecond resolution) as the output.
      const us = new Set(recorded.map((t) => t / 1000n));
      for (const t of printed) expect(us.has(t / 1000n)).toBe(true);
    } finally {
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip !== undefined || !hasAddon)('a deleted namespace (live, root)', () => {
  it('is reported once, in-band, and the subscription goes on', async () => {
    const ns = createNetns();
    let removed = false;
    try {
      const ct = await ConntrackClient.open({ netns: ns.name });
      const sub = ct.events({ types: ['new'], netnsCheckMs: 50 });
      await new Promise((r) => setTimeout(r, 200));
      expect(sub.drain()).toEqual([]);
      ns.remove();
      removed = true;
      const items: EventItem[] = [];
      await waitFor(() => {
        items.push(...sub.drain());
        return items.some((i) => i.kind === 'netns-gone');
      });
      // The namespace lives on while our sockets hold it: entries made there still arrive.
      await ct.create({ family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1, dstPort: 2 }, reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 17, srcPort: 2, dstPort: 1 }, timeout: 30 });
      await waitFor(() => {
        items.push(...sub.drain());
        return items.some((i) => i.kind === 'event');
      });
      await new Promise((r) => setTimeout(r, 200));
      items.push(...sub.drain());
      expect(items.filter((i) => i.kind === 'netns-gone')).toHaveLength(1);
      sub.close();
      await ct.close();
    } finally {
      if (!removed) ns.remove();
    }
  });

  it('ctevents says so once on stderr and goes on', async () => {
    const ns = createNetns();
    let removed = false;
    try {
      // Delete the namespace once ctevents has subscribed in it (its socket with groups).
      const t = setInterval(() => {
        const rows = ns.exec('cat', ['/proc/net/netlink']).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
        if (!rows.some((r) => r[1] === '12' && r[3] !== undefined && !/^0+$/.test(r[3]))) return;
        clearInterval(t);
        ns.remove();
        removed = true;
      }, 50);
      const r = await runCli(['--netns', ns.name, '--duration', '3', '--format', 'json']);
      clearInterval(t);
      expect(removed).toBe(true);
      expect(r.code).toBe(0);
      expect(r.stderr.match(/was deleted/g)).toHaveLength(1);
      expect(r.stderr).toMatch(/ctevents: 0 events/);
    } finally {
      if (!removed) ns.remove();
    }
  });
});

describe.skipIf(skip !== undefined || !hasAddon)('receive thread under a sustained flood (live, root)', () => {
  it('closes promptly while the kernel never lets the socket run dry', async () => {
    const ns = createNetns();
    const dir = mkdtempSync(join(tmpdir(), 'ctev-close-'));
    try {
      const flood = join(dir, 'flood');
      execFileSync('cc', ['-O2', '-o', flood, join(ROOT, 'bench', 'flood.c')]);
      ns.exec('nft', ['add', 'rule', 'inet', 'ctev', 'pre', 'meta', 'l4proto', 'udp', 'drop']);
      const s = NetlinkSocket.open({ netns: ns.name, groups: [1], receiveBufferSize: 64 << 20, receiveThread: 1 << 20 });
      let n = 0;
      s.onReceive((items) => (n += items.length), () => {});
      s.pause(); // JS takes nothing: the thread reads and discards at the kernel's pace
      const sender = spawn('ip', ['netns', 'exec', ns.name, flood, '200000', '0'], { stdio: 'ignore' });
      await waitFor(() => (s.receiveStats().localDrops ?? 0) > 1000);
      s.close(); // joins the thread: it must leave its drain loop although data keeps coming
      expect(s.closed).toBe(true);
      sender.kill('SIGKILL');
      await new Promise((r) => sender.on('exit', r));
      expect(n).toBe(0);
    } finally {
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
