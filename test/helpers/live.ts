/**
 * Live-test support: root detection, throwaway network namespaces with conntrack enabled
 * by an nftables rule, traffic generated inside them, and conntrack-tools run beside us.
 */
import { existsSync } from 'node:fs';

export const isRoot = process.getuid?.() === 0;
export const hasConntrackTool = existsSync('/usr/sbin/conntrack') || existsSync('/sbin/conntrack');

/** Why live tests are skipped here, or undefined when they run. */
export function liveSkipReason(): string | undefined {
  if (!isRoot) return 'live kernel tests need root (CAP_NET_ADMIN): skipped';
  return undefined;
}

export { createNetns, sh, type Netns } from '../../tools/netns.js';
import type { Netns } from '../../tools/netns.js';

/** A node one-liner run inside the namespace (traffic generation without extra tools). */
export function nodeIn(ns: Netns, script: string): string {
  return ns.exec(process.execPath, ['-e', script]);
}

/** UDP datagrams from 127.0.0.1 to ports [from, from+count) (no replies: UNREPLIED entries). */
export function udpFlows(ns: Netns, from: number, count: number, host = '127.0.0.1'): void {
  nodeIn(ns, `
    const s = require('dgram').createSocket(${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')});
    let i = 0; const b = Buffer.from('x');
    const next = () => { if (i >= ${count}) return s.close(); s.send(b, ${from} + i++, ${JSON.stringify(host)}, next); };
    next();`);
}

/** One TCP connection: listen, connect, send, close both sides; waits until closed. */
export function tcpConnection(ns: Netns, host = '127.0.0.1', port = 8080): void {
  nodeIn(ns, `
    const net = require('net');
    const srv = net.createServer((c) => { c.on('data', () => c.end()); c.on('end', () => c.end()); });
    srv.listen(${port}, ${JSON.stringify(host)}, () => {
      const c = net.connect(${port}, ${JSON.stringify(host)}, () => c.write('hello'));
      c.on('data', () => {}); c.on('end', () => c.end());
      c.on('close', () => setTimeout(() => srv.close(), 50));
    });`);
}

/** A UDP request/response pair (SEEN_REPLY). */
export function udpExchange(ns: Netns, host = '127.0.0.1', port = 5353): void {
  nodeIn(ns, `
    const dgram = require('dgram'); const fam = ${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')};
    const srv = dgram.createSocket(fam); const cli = dgram.createSocket(fam);
    srv.on('message', (m, r) => srv.send(m, r.port, r.address));
    cli.on('message', () => { cli.close(); srv.close(); });
    srv.bind(${port}, ${JSON.stringify(host)}, () => cli.send('q', ${port}, ${JSON.stringify(host)}));`);
}

export function ping(ns: Netns, host: string): void {
  ns.exec('ping', [host.includes(':') ? '-6' : '-4', '-c', '1', '-W', '1', host]);
}

/** Start `conntrack ARGS` in the namespace; resolves its stdout lines when stopped. */
export function conntrackListener(ns: Netns, args: string[]): { ready: Promise<void>; stop(): Promise<string[]> } {
  const p = ns.spawn('conntrack', args);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  // conntrack -E prints nothing when it is ready; give it time to bind.
  const ready = new Promise<void>((res) => setTimeout(res, 300));
  return {
    ready,
    stop: () =>
      new Promise((res) => {
        setTimeout(() => {
          p.on('close', () => res(out.split('\n').filter((l) => l.length > 0)));
          p.kill('SIGINT');
        }, 200);
      }),
  };
}

/**
 * Parse a conntrack(8) text line into key=value pairs: the reply direction's tuple keys
 * get an `r.` prefix, the entry id (`-o id`) is `ctid`, bracketed flags map to 'flag'.
 */
export function parseConntrackLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const words = line.trim().split(/\s+/);
  let i = 0;
  const ev = /^\[(NEW|UPDATE|DESTROY)\]$/.exec(words[0] ?? '');
  if (ev) {
    out.event = ev[1]!.toLowerCase();
    i = 1;
  }
  out.proto = words[i]!;
  out.protoNum = words[i + 1]!;
  i += 2;
  const tupleKeys = new Set(['src', 'dst', 'sport', 'dport', 'type', 'code', 'packets', 'bytes', 'srckey', 'dstkey']);
  let reply = false;
  for (; i < words.length; i++) {
    const w = words[i]!;
    const kv = /^([a-z_-]+)=(.*)$/.exec(w);
    if (kv) {
      const key = kv[1]!;
      if (key === 'src' && 'src' in out) reply = true;
      if (key === 'id') {
        const icmp = words[i - 1]?.startsWith('code=');
        out[icmp ? (reply ? 'r.id' : 'icmpid') : 'ctid'] = kv[2]!;
      } else out[reply && tupleKeys.has(key) ? `r.${key}` : key] = kv[2]!;
    } else if (/^\d+$/.test(w) && !('src' in out)) out.timeout = w;
    else if (/^[A-Z_0-9]+$/.test(w) && !('src' in out)) out.state = w;
    else if (w.startsWith('[')) out[w] = 'flag';
  }
  return out;
}
