/**
 * Records the cttimeout golden fixture (test/fixtures/cttimeout/nfct.json) from the running
 * kernel: real requests made by conntrack-tools' `nfct` and by nft (`ct timeout` objects,
 * an nftables subsystem the codec does not know: it must stay raw), and the kernel's
 * replies, inside a throwaway network namespace (the per-netns default timeouts that
 * DEFAULT_SET changes die with it).
 *
 * Every datagram nfct / nft sends on, or receives from, its netlink socket is taken from
 * `strace -e write=FD -e read=FD` hex dumps, so the bytes are exactly what crossed the
 * socket. Run as root after `tsc -p bench`:
 *
 *   node build/tools/record-cttimeout.js [OUT.json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createNetns, type Netns } from './netns.js';

interface Datagram {
  dir: 'send' | 'recv';
  hex: string;
}

interface Exchange {
  command: string;
  /** Exit status of the command (nfct exits 1 on a kernel error). */
  status: number;
  datagrams: Datagram[];
}

/** The commands recorded, in order (each sees the state the previous ones left). */
const COMMANDS: string[][] = [
  ['nfct', 'add', 'timeout', 't-tcp', 'inet', 'tcp', 'established', '100', 'syn_sent', '10'],
  ['nfct', 'add', 'timeout', 't-udp', 'inet', 'udp', 'unreplied', '11', 'replied', '22'],
  ['nfct', 'add', 'timeout', 't-udplite', 'inet', 'udplite', 'unreplied', '12', 'replied', '23'],
  ['nfct', 'add', 'timeout', 't-icmp', 'inet', 'icmp', 'timeout', '7'],
  ['nfct', 'add', 'timeout', 't-icmpv6', 'inet6', 'icmpv6', 'timeout', '8'],
  ['nfct', 'add', 'timeout', 't-sctp', 'inet', 'sctp', 'established', '500', 'closed', '9'],
  ['nfct', 'add', 'timeout', 't-dccp', 'inet', 'dccp', 'open', '600', 'request', '13'],
  ['nfct', 'add', 'timeout', 't-gre', 'inet', 'gre', 'unreplied', '14', 'replied', '25'],
  ['nfct', 'add', 'timeout', 't-gen', 'inet', 'generic', 'timeout', '333'],
  ['nfct', 'get', 'timeout', 't-udp'],
  ['nfct', 'list', 'timeout'],
  ['nfct', 'delete', 'timeout', 't-udp'],
  ['nfct', 'get', 'timeout', 't-udp'],
  ['nfct', 'default-get', 'timeout', 'inet', 'tcp'],
  ['nfct', 'default-get', 'timeout', 'inet', 'udp'],
  ['nfct', 'default-set', 'timeout', 'inet', 'udp', 'unreplied', '31'],
  ['nfct', 'default-get', 'timeout', 'inet', 'udp'],
  ['nfct', 'default-get', 'timeout', 'inet6', 'icmpv6'],
  ['nft', 'table inet arch {\n ct timeout ct1 {\n  protocol tcp\n  l3proto ip\n  policy = { established: 123, close: 4 }\n }\n}'],
];

/** Parse strace output: each sendto/sendmsg/recvmsg line followed by `| 00000 ...` hex rows. */
function parseStrace(text: string, fd: number): Datagram[] {
  const out: Datagram[] = [];
  let cur: Datagram | undefined;
  for (const line of text.split('\n')) {
    const call = /^(?:\[pid\s+\d+\]\s+)?(sendto|sendmsg|recvmsg|recvfrom)\((\d+),/.exec(line);
    if (call) {
      cur = undefined;
      if (Number(call[2]) !== fd) continue;
      const ret = /= (-?\d+)/.exec(line.slice(line.lastIndexOf(')')));
      if (ret === null || Number(ret[1]) <= 0) continue;
      cur = { dir: call[1]!.startsWith('send') ? 'send' : 'recv', hex: '' };
      out.push(cur);
      continue;
    }
    const row = /^ \| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
    if (row && cur) cur.hex += row[1]!.replace(/\s+/g, '');
  }
  return out.filter((d) => d.hex.length > 0);
}

/** The netlink socket's fd: the first fd the command creates with socket(AF_NETLINK, ...). */
function netlinkFd(text: string): number {
  const m = /socket\(AF_NETLINK, [^)]*\) = (\d+)/.exec(text);
  if (m === null) throw new Error(`no netlink socket in strace output:\n${text.slice(0, 2000)}`);
  return Number(m[1]);
}

function record(ns: Netns, argv: string[]): Exchange {
  const [cmd, ...rest] = argv;
  const args = cmd === 'nft' ? ['-f', '-'] : rest;
  const strace = ['-f', '-xx', '-e', 'trace=socket,sendto,sendmsg,recvmsg,recvfrom', '-e', 'write=all', '-e', 'read=all', cmd!, ...args];
  // strace reports on stderr; the command's own stdout is not needed.
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'strace', ...strace], {
    encoding: 'utf8',
    input: cmd === 'nft' ? `${rest.join(' ')}\n` : undefined,
  });
  if (r.error) throw r.error;
  const text = r.stderr;
  const fd = netlinkFd(text);
  return { command: argv.join(' '), status: r.status ?? -1, datagrams: parseStrace(text, fd) };
}

function main(): void {
  const out = process.argv[2] ?? 'test/fixtures/cttimeout/nfct.json';
  const ns = createNetns();
  const exchanges: Exchange[] = [];
  try {
    for (const c of COMMANDS) exchanges.push(record(ns, c));
  } finally {
    ns.remove();
  }
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const nfct = `nfct (Debian package) ${execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'nfct'], { encoding: 'utf8' }).trim()}`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ kernel, nfct, recorded: new Date().toISOString(), hostLittleEndian: true, exchanges }, null, 1)}\n`);
  process.stderr.write(`wrote ${exchanges.length} exchanges to ${out}\n`);
}

main();
