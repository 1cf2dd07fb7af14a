/**
 * The [USERSPACE] progname lookup of live runs (src/cli/progname.ts) over a fake /proc:
 * port id -> inode through the socket table, the holder found by its fd links (the pid
 * itself first, then newest first), and an answer primed on arrival standing after the
 * requester has exited (the race conntrack -E wins only by being quick).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortidResolver, requesterPortids } from '../src/cli/progname.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function fakeProc(procs: Record<number, { name: string; sockets: string[] }>): string {
  dir = mkdtempSync(join(tmpdir(), 'ctev-proc-'));
  for (const [pid, p] of Object.entries(procs)) {
    mkdirSync(join(dir, pid, 'fd'), { recursive: true });
    writeFileSync(join(dir, pid, 'stat'), `${pid} (${p.name}) S 1 1 1 0 -1\n`);
    p.sockets.forEach((inode, i) => symlinkSync(`socket:[${inode}]`, join(dir!, pid, 'fd', String(i + 3))));
    symlinkSync('/dev/null', join(dir, pid, 'fd', '0'));
  }
  return dir;
}

const HEAD = 'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n';
const row = (portid: number, inode: string, eth = 12) => `0000000000000000 ${eth}   ${portid} 00000000 0        0        0     2        0        ${inode}\n`;

describe('the progname resolver', () => {
  it('finds the process by port id = pid, and by a random port id through the fd links', () => {
    const proc = fakeProc({ 300: { name: 'conntrack', sockets: ['7001', '7002'] }, 250: { name: 'bash', sockets: [] } });
    let table = HEAD + row(300, '7001') + row(2153594261, '7002') + row(999, '7003', 0);
    const r = createPortidResolver(() => table, proc);
    expect(r.name(300)).toBe('conntrack');
    expect(r.name(2153594261)).toBe('conntrack');
    // Not a NETLINK_NETFILTER socket, or not in the table: no name.
    expect(r.name(999)).toBeUndefined();
    expect(r.name(12345)).toBeUndefined();
    table = HEAD;
    expect(r.name(4242)).toBeUndefined();
  });

  it('an answer primed when the datagram arrived stands after the requester exits', () => {
    const proc = fakeProc({ 400: { name: 'conntrack', sockets: ['8001'] } });
    let table = HEAD + row(3000000001, '8001');
    const r = createPortidResolver(() => table, proc);
    r.prime(3000000001);
    // conntrack -D exits: its socket leaves the table and its /proc entry goes.
    table = HEAD;
    rmSync(join(proc, '400'), { recursive: true });
    expect(r.name(3000000001)).toBe('conntrack');
  });

  it('a flood of events from a requester that has exited reads the socket table once, not per event', () => {
    const proc = fakeProc({});
    let reads = 0;
    const r = createPortidResolver(() => {
      reads++;
      return HEAD;
    }, proc);
    for (let i = 0; i < 10_000; i++) {
      r.prime(3000000002);
      expect(r.name(3000000002)).toBeUndefined();
    }
    expect(reads).toBeLessThanOrEqual(3);
  });

  it('reads every nlmsg_pid of a datagram', () => {
    const d = new Uint8Array(40);
    const v = new DataView(d.buffer);
    const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    v.setUint32(0, 20, le);
    v.setUint32(12, 77, le);
    v.setUint32(20, 20, le);
    v.setUint32(32, 0, le);
    const seen: number[] = [];
    requesterPortids(d, (p) => seen.push(p));
    expect(seen).toEqual([77]);
    v.setUint32(32, 0xfffffff0, le);
    seen.length = 0;
    requesterPortids(d, (p) => seen.push(p));
    expect(seen).toEqual([77, 0xfffffff0]);
  });

  it("prefers the addon's answer once attached; looks up itself only what the addon never looked at", () => {
    const proc = fakeProc({ 500: { name: 'conntrack', sockets: ['9001'] } });
    let reads = 0;
    const r = createPortidResolver(() => {
      reads++;
      return HEAD + row(500, '9001');
    }, proc);
    const asked: [number, number][] = [];
    r.attach((portid, waitMs) => {
      asked.push([portid, waitMs]);
      return portid === 1 ? 'iptables' : portid === 2 ? null : undefined;
    });
    // Priming is the addon's job now: no /proc reads on arrival.
    r.prime(500);
    expect(reads).toBe(0);
    expect(r.name(1)).toBe('iptables');
    // The addon looked and found none: no second lookup in JS (it would only be later).
    expect(r.name(2)).toBeUndefined();
    expect(reads).toBe(0);
    // Never looked at by the addon (queue full, no lookup thread): JS looks it up.
    expect(r.name(500)).toBe('conntrack');
    expect(reads).toBe(1);
    expect(asked.every(([, w]) => w > 0)).toBe(true);
  });
});
