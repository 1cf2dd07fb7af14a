/**
 * The addon's requester names (src/native/progname.c), live: a subscription socket with
 * `programNames` in a throwaway namespace names the process behind each event's
 * nlmsg_pid, through the namespace's own socket table (the lookup runs inside it), both
 * for a port id equal to the pid and for a random one (a second socket); the answer
 * stands after the process exits; a flood from one requester costs one lookup; a socket
 * without the option, or a port id never seen, gives undefined. Skipped (with the reason
 * printed) when not root or without the addon / dist build.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDatagram } from '../src/codec.js';
import { nativeAddonPath } from '../src/socket/native.js';
import { NetlinkSocket, type ReceiveItem } from '../src/socket/netlink-socket.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';

const ROOT = join(import.meta.dirname, '..');
const ready = existsSync(nativeAddonPath()) && existsSync(join(ROOT, 'dist', 'client', 'index.js'));
const skip = liveSkipReason() ?? (ready ? undefined : 'addon or dist/ not built');
if (skip) console.warn(`test/native.progname.live.test.ts: ${skip}`);

const NFNLGRP_CONNTRACK_NEW = 1;
const NFNLGRP_CONNTRACK_UPDATE = 2;
const NFNLGRP_CONNTRACK_DESTROY = 3;

/**
 * A node process inside the namespace with two clients (two request sockets: the first
 * bound to its pid, the second to a random port id). It creates one entry with each on
 * the "go" line, `count` more with the second on "flood", and exits on "exit".
 */
function requester(ns: Netns, base: number) {
  const script = `
    const { ConntrackClient } = await import(${JSON.stringify(join(ROOT, 'dist', 'client', 'index.js'))});
    const a = await ConntrackClient.open();
    const b = await ConntrackClient.open();
    const entry = (port) => ({ family: 2, orig: { src: '198.51.100.1', dst: '198.51.100.2', proto: 17, srcPort: port, dstPort: 53 }, reply: { src: '198.51.100.2', dst: '198.51.100.1', proto: 17, srcPort: 53, dstPort: port }, timeout: 100 });
    let buf = '';
    process.stdin.on('data', async (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\\n')) >= 0; ) {
        const cmd = buf.slice(0, i); buf = buf.slice(i + 1);
        if (cmd === 'go') { await a.create(entry(${base})); await b.create(entry(${base + 1})); console.log('done'); }
        if (cmd === 'flood') { for (let p = ${base + 2}; p < ${base + 1002}; p++) await b.create(entry(p)); console.log('done'); }
        if (cmd === 'exit') { await a.close(); await b.close(); process.exit(0); }
      }
    });
    process.on('unhandledRejection', (e) => { console.error(e); process.exit(1); });
    console.log('ready');
  `;
  const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters: (() => void)[] = [];
  p.stdout!.on('data', (d) => {
    out += d;
    while (out.includes('\n')) {
      out = out.slice(out.indexOf('\n') + 1);
      waiters.shift()?.();
    }
  });
  const exited = new Promise<void>((res) => p.on('close', () => res()));
  // A line, or an error if the requester ends first (never a hang).
  const next = () =>
    Promise.race([new Promise<void>((res) => waiters.push(res)), exited.then(() => Promise.reject(new Error('requester exited')))]);
  const readyLine = next();
  return {
    pid: p.pid!,
    ready: readyLine,
    send: (cmd: string) => {
      const done = next();
      p.stdin!.write(cmd + '\n');
      return done;
    },
    exited,
    exit: () => p.stdin!.write('exit\n'),
  };
}

/** nlmsg_pid of every event message received, in order. */
function collect(sock: NetlinkSocket): number[] {
  const pids: number[] = [];
  sock.onReceive(
    (items: ReceiveItem[]) => {
      for (const it of items) {
        if ('overrun' in it) continue;
        for (const m of decodeDatagram(it.data)) if (m.header.pid !== 0) pids.push(m.header.pid >>> 0);
      }
    },
    () => undefined,
  );
  return pids;
}

const until = async (cond: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

describe.skipIf(skip !== undefined)('requester names in the addon (programNames)', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => ns?.remove());

  it('names the process by port id = pid and by a random port id, inside the namespace, and keeps the answer after it exits', async () => {
    const groups = [NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY];
    const sock = NetlinkSocket.open({ netns: ns.name, groups, receiveThread: 1 << 20, programNames: true });
    const plain = NetlinkSocket.open({ netns: ns.name, groups, receiveThread: 1 << 20 });
    try {
      const pids = collect(sock);
      const plainPids = collect(plain);
      const r = requester(ns, 10000);
      await r.ready;
      await r.send('go');
      await until(() => pids.length >= 2 && plainPids.length >= 2);
      const [first, second] = [...new Set(pids)];
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      // `ip netns exec` execs node: the pid is the requester's, and its first socket's port id.
      expect(first).toBe(r.pid);
      expect(second).not.toBe(r.pid);
      expect(sock.programName(first!, 1000)).toBe('node');
      expect(sock.programName(second!, 1000)).toBe('node');
      // Without the option the addon never looks.
      expect(plain.programName(first!, 100)).toBeUndefined();
      // A port id never seen.
      expect(sock.programName(123456789, 10)).toBeUndefined();

      // A flood from one requester: one lookup (answers stand for 2 s).
      const before = sock.programNameStats();
      await r.send('flood');
      await until(() => pids.length >= 1002);
      expect(pids.filter((p) => p === second).length).toBeGreaterThanOrEqual(1001);
      const after = sock.programNameStats();
      expect(after.lookups - before.lookups).toBeLessThanOrEqual(2);
      expect(after.dropped).toBe(0);

      r.exit();
      await r.exited;
      // Gone now; the answer found while it lived stands.
      expect(sock.programName(first!, 0)).toBe('node');
      expect(sock.programName(second!, 0)).toBe('node');
      expect(after.found).toBeGreaterThanOrEqual(2);
    } finally {
      sock.close();
      plain.close();
    }
    // Closed: no answers, no throw.
    expect(sock.programName(1, 0)).toBeUndefined();
    expect(sock.programNameStats()).toEqual({ lookups: 0, found: 0, dropped: 0 });
  }, 60_000);

  it('a requester gone before its event is read gets null (looked up, not found), never a wrong name', async () => {
    const sock = NetlinkSocket.open({ netns: ns.name, groups: [NFNLGRP_CONNTRACK_NEW], receiveThread: 1 << 20, programNames: true });
    try {
      // The requester exits before JS asks: the receive thread named it when the events
      // arrived, or found it gone.
      const pids = collect(sock);
      const r = requester(ns, 20000);
      await r.ready;
      await r.send('go');
      r.exit();
      await r.exited;
      await until(() => pids.length >= 2);
      for (const p of new Set(pids)) {
        const n = sock.programName(p, 1000);
        // Found while it lived (the usual case) or not found: nothing else.
        expect(n === 'node' || n === null).toBe(true);
      }
    } finally {
      sock.close();
    }
  }, 60_000);
});
