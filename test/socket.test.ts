// Live tests of the raw netlink socket (src/socket) against the running kernel.
// They need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for netns) and skip otherwise.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrnoError, fromNativeError } from '../src/socket/errno.js';
import { NetlinkSocket, resolveNetnsPath, type ReceivedDatagram, type ReceiveItem } from '../src/socket/netlink-socket.js';
import { createNetns, type Netns } from './helpers/live.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('test/socket.test.ts: live netlink socket tests skipped: they must run as root');
const hasNft = spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status === 0;
if (isRoot && !hasNft) console.warn('test/socket.test.ts: overrun test skipped: nft (nftables) is not installed');

const LE = endianness() === 'LE';
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const NLMSG_ERROR = 2;
const IPCTNL_MSG_CT_GET_STATS = 0x0105; // NFNL_SUBSYS_CTNETLINK << 8 | 5
const NFNLGRP_CONNTRACK_NEW = 1;

/** nlmsghdr (host order) + nfgenmsg {family 0, version 0, res_id 0}: 20 bytes. */
function getStatsRequest(seq: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint32(0, 20, LE); // nlmsg_len
  v.setUint16(4, IPCTNL_MSG_CT_GET_STATS, LE); // nlmsg_type
  v.setUint16(6, 0x1 | 0x4, LE); // NLM_F_REQUEST | NLM_F_ACK
  v.setUint32(8, seq, LE); // nlmsg_seq
  v.setUint32(12, 0, LE); // nlmsg_pid
  return b; // nfgenmsg bytes 16..19 stay 0
}

/** {type, seq, error?} of each message in a datagram. */
function headers(d: Uint8Array): Array<{ type: number; seq: number; error?: number }> {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: Array<{ type: number; seq: number; error?: number }> = [];
  for (let off = 0; off + 16 <= d.byteLength; ) {
    const len = v.getUint32(off, LE);
    if (len < 16) break;
    const type = v.getUint16(off + 4, LE);
    const h: { type: number; seq: number; error?: number } = { type, seq: v.getUint32(off + 8, LE) };
    if (type === NLMSG_ERROR) h.error = v.getInt32(off + 16, LE);
    out.push(h);
    off += (len + 3) & ~3;
  }
  return out;
}

const isDatagram = (i: ReceiveItem): i is ReceivedDatagram => !('overrun' in i);

/** Starts receiving into an array. */
function collect(sock: NetlinkSocket): { items: ReceiveItem[]; errors: ErrnoError[] } {
  const acc = { items: [] as ReceiveItem[], errors: [] as ErrnoError[] };
  sock.onReceive(
    (batch) => acc.items.push(...batch),
    (err) => acc.errors.push(err),
  );
  return acc;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Inodes of this process's sockets. */
function ownSocketInodes(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  return out;
}

/** NETLINK_NETFILTER rows {pid, inode} of /proc/net/netlink, in a netns or here. */
function netfilterSockets(ns?: string): Array<{ pid: number; inode: string }> {
  const text = ns ? sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netlink']) : readFileSync('/proc/self/net/netlink', 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === '12')
    .map((f) => ({ pid: Number(f[2]), inode: f[9]! }));
}

describe('errno mapping', () => {
  it('names errno values and adds the missing capability on EPERM', () => {
    const native = Object.assign(new Error('setsockopt: Operation not permitted'), { errno: 1, syscall: 'setsockopt' });
    const e = fromNativeError(native, { detail: 'NETLINK_ADD_MEMBERSHIP', capability: 'CAP_NET_ADMIN' });
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e).toMatchObject({ errno: 1, code: 'EPERM', syscall: 'setsockopt', capability: 'CAP_NET_ADMIN' });
    expect((e as Error).message).toBe(
      'setsockopt(NETLINK_ADD_MEMBERSHIP) failed: EPERM (Operation not permitted); requires CAP_NET_ADMIN',
    );
    const other = fromNativeError(Object.assign(new Error('x'), { errno: 105, syscall: 'recvmsg' }), { capability: 'CAP_NET_ADMIN' });
    expect(other).toMatchObject({ code: 'ENOBUFS', syscall: 'recvmsg' });
    expect((other as ErrnoError).capability).toBeUndefined();
    const plain = new TypeError('no errno');
    expect(fromNativeError(plain)).toBe(plain);
  });

  it('resolves netns names, paths and pids', () => {
    expect(resolveNetnsPath(undefined)).toBeNull();
    expect(resolveNetnsPath('blue')).toBe('/var/run/netns/blue');
    expect(resolveNetnsPath('/run/netns/blue')).toBe('/run/netns/blue');
    expect(resolveNetnsPath('1234')).toBe('/proc/1234/ns/net');
    expect(() => resolveNetnsPath('../x')).toThrow(TypeError);
  });
});

describe.skipIf(!isRoot)('NetlinkSocket (live, root)', () => {
  const ns = `ctev-test-${process.pid}`;
  let nsHandle: Netns | undefined;
  const opened: NetlinkSocket[] = [];
  const open = (opts?: Parameters<typeof NetlinkSocket.open>[0]) => {
    const s = NetlinkSocket.open(opts);
    opened.push(s);
    return s;
  };

  beforeAll(() => {
    nsHandle = createNetns({ name: ns, ruleset: null });
  });
  afterAll(() => {
    for (const s of opened) s.close();
    nsHandle?.remove();
  });

  it('opens, assigns a port id, closes idempotently', () => {
    const a = open();
    const b = open();
    expect(Number.isInteger(a.portid) && a.portid > 0).toBe(true);
    expect(b.portid).not.toBe(a.portid);
    const mine = netfilterSockets().filter((r) => r.pid === a.portid);
    expect(mine).toHaveLength(1);
    a.close();
    a.close();
    expect(a.closed).toBe(true);
    expect(netfilterSockets().some((r) => r.pid === a.portid)).toBe(false);
    expect(() => a.send(getStatsRequest(1))).toThrow(ErrnoError);
    try {
      a.send(getStatsRequest(1));
    } catch (e) {
      expect(e).toMatchObject({ code: 'EBADF', syscall: 'sendto' });
    }
  });

  it('reports the effective receive buffer (SO_RCVBUFFORCE 8 MiB)', () => {
    const s = open({ receiveBufferSize: 8 << 20 });
    expect(s.receiveBufferSize).toBeGreaterThanOrEqual(8 << 20);
    s.setOption(SOL_SOCKET, SO_RCVBUF, 4096);
    expect(s.receiveBufferSize).toBeLessThan(64 << 10);
  });

  it('sends IPCTNL_MSG_CT_GET_STATS and receives the reply and the ACK from the kernel', async () => {
    const s = open();
    const got = collect(s);
    s.send(getStatsRequest(4242));
    const msgs = () => got.items.filter(isDatagram).flatMap((d) => headers(d.data));
    await waitFor(() => msgs().some((h) => h.type === NLMSG_ERROR && h.seq === 4242));
    expect(got.errors).toEqual([]);
    for (const d of got.items) {
      expect(isDatagram(d)).toBe(true);
      if (isDatagram(d)) expect(d).toMatchObject({ pid: 0, groups: 0, truncated: false });
    }
    expect(msgs()).toContainEqual({ type: IPCTNL_MSG_CT_GET_STATS, seq: 4242 });
    expect(msgs()).toContainEqual({ type: NLMSG_ERROR, seq: 4242, error: 0 });
  });

  it('fires no callback after close', async () => {
    const s = open();
    let calls = 0;
    s.onReceive(
      () => calls++,
      () => calls++,
    );
    s.send(getStatsRequest(7));
    s.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(0);
  });

  it('pauses and resumes', async () => {
    const s = open();
    const got = collect(s);
    s.pause();
    s.send(getStatsRequest(8));
    await new Promise((r) => setTimeout(r, 100));
    expect(got.items).toHaveLength(0);
    s.resume();
    await waitFor(() => got.items.length >= 2);
  });

  it('opens inside a netns by name, by path and by pid', async () => {
    let sleeper: ChildProcess | undefined;
    try {
      sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '30'], { stdio: 'ignore' });
      // `ip netns exec` execs sleep in place, so the pid ends up inside the netns.
      const here = readlinkSync('/proc/self/ns/net');
      await waitFor(() => {
        try {
          return readlinkSync(`/proc/${sleeper!.pid}/ns/net`) !== here;
        } catch {
          return false;
        }
      });
      for (const netns of [ns, `/var/run/netns/${ns}`, String(sleeper.pid)]) {
        const s = open({ netns });
        const inodes = ownSocketInodes();
        const inside = netfilterSockets(ns).filter((r) => r.pid === s.portid && inodes.has(r.inode));
        expect(inside, `netns ${netns}`).toHaveLength(1);
        expect(netfilterSockets().some((r) => r.inode === inside[0]!.inode)).toBe(false);
        // The kernel answers from inside the netns too.
        const got = collect(s);
        s.send(getStatsRequest(9));
        await waitFor(() => got.items.filter(isDatagram).some((d) => headers(d.data).some((h) => h.type === NLMSG_ERROR)));
        s.close();
      }
    } finally {
      sleeper?.kill();
    }
  });

  it('fails with ENOENT from open() for a missing netns', () => {
    const name = `ctev-missing-${process.pid}`;
    let err: unknown;
    try {
      NetlinkSocket.open({ netns: name });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err).toMatchObject({ errno: 2, code: 'ENOENT', syscall: 'open', path: `/var/run/netns/${name}` });
  });

  describe.skipIf(!hasNft)('overrun', () => {
    const ovr = `ctev-ovr-${process.pid}`;
    let ovrHandle: Netns | undefined;
    beforeAll(() => {
      // A rule that uses conntrack makes the netns track connections.
      ovrHandle = createNetns({ name: ovr, ruleset: 'table inet t {\n  chain c { type filter hook output priority 0; ct state new accept; }\n}\n' });
    });
    afterAll(() => {
      ovrHandle?.remove();
    });

    // One UDP datagram to each port in [from, to]: one new conntrack entry each.
    const SENDER = `
      const dgram = require('node:dgram');
      const [from, to] = process.argv.slice(1).map(Number);
      const s = dgram.createSocket('udp4');
      let pending = 0;
      s.bind(0, '127.0.0.1', () => {
        for (let p = from; p <= to; p++) {
          pending++;
          s.send('x', p, '127.0.0.1', () => { if (--pending === 0) s.close(); });
        }
      });`;
    const burst = (from: number, to: number) =>
      sh('ip', ['netns', 'exec', ovr, process.execPath, '-e', SENDER, String(from), String(to)]);

    it('reports ENOBUFS as an overrun item and keeps reading after it', async () => {
      const s = open({ netns: ovr, groups: [NFNLGRP_CONNTRACK_NEW] });
      s.setOption(SOL_SOCKET, SO_RCVBUF, 4096); // plain SO_RCVBUF: a tiny queue
      s.pause();
      const got = collect(s);
      burst(10000, 12000);
      s.resume();
      const overrunAt = () => got.items.findIndex((i) => 'overrun' in i);
      await waitFor(() => overrunAt() >= 0 && got.items.length > overrunAt() + 1);
      expect(got.errors).toEqual([]);
      const after = got.items.slice(overrunAt() + 1).filter(isDatagram);
      expect(after.length).toBeGreaterThan(0);
      for (const d of got.items.filter(isDatagram)) {
        expect(d).toMatchObject({ pid: 0, groups: 1 << (NFNLGRP_CONNTRACK_NEW - 1), truncated: false });
        expect(headers(d.data)[0]!.type).toBe(0x0100); // IPCTNL_MSG_CT_NEW
      }
      // Drained: new events still arrive, now without loss.
      const before = got.items.length;
      burst(13000, 13004);
      await waitFor(() => got.items.slice(before).filter(isDatagram).flatMap((d) => headers(d.data)).length >= 5);
      expect(got.items.slice(before).some((i) => 'overrun' in i)).toBe(false);
    }, 60_000);
  });
});
