/**
 * Conntrack sysctls of a network namespace (the one implementation: the table's
 * src/table/timeouts.ts and the guard both use it), and idle time derived from them.
 *
 * The kernel keeps no "last seen" time per entry; what a dump gives is the remaining
 * time (CTA_TIMEOUT). Every packet re-arms the timer with the configured timeout of the
 * entry's state, so
 *
 *   idle = configured timeout for (protocol, state, assured) - remaining
 *
 * (clamped at 0: an entry created or updated over ctnetlink with a longer timeout reads
 * idle 0). The configured timeouts are the per-namespace sysctls
 * /proc/sys/net/netfilter/nf_conntrack_*timeout* (the same values cttimeout's
 * DEFAULT_GET/SET use). /proc/sys/net shows the namespace of the process that opens it,
 * so for another namespace they are read with readFileInNetns (a thread of the addon
 * enters the namespace, opens the file and leaves: no child process); writing uses a
 * child process in the namespace (nsenter), once per batch of values.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { IPS_ASSURED } from '../ctnetlink/constants.js';
import type { Conntrack } from '../ctnetlink/model.js';
import { readFileInNetns, resolveNetnsPath } from '../socket/netlink-socket.js';

/** sysctl name (without the net.netfilter. prefix) -> seconds. */
export type ConntrackSysctls = Record<string, number>;

const DIR = '/proc/sys/net/netfilter';

function nsenterArgs(netns: string | undefined, argv: string[]): [string, string[]] {
  const path = resolveNetnsPath(netns);
  if (path === null) return [argv[0]!, argv.slice(1)];
  return ['nsenter', [`--net=${path}`, '--', ...argv]];
}

/** One file of the namespace's /proc/sys/net/netfilter as text (throws when unreadable). */
function readSysctlFile(name: string, netns: string | undefined): string {
  const path = `${DIR}/${name}`;
  if (resolveNetnsPath(netns) === null) return readFileSync(path, 'latin1');
  return Buffer.from(readFileInNetns(netns!, path, 256)).toString('latin1');
}

/** One numeric nf_conntrack_* sysctl of a namespace; undefined when missing, unreadable or not a number. */
export function readConntrackSysctl(name: string, netns?: string): number | undefined {
  if (!/^nf_conntrack_[a-z0-9_]+$/.test(name)) throw new TypeError(`not a conntrack sysctl: ${JSON.stringify(name)}`);
  try {
    const t = readSysctlFile(name, netns).trim();
    return /^-?\d+$/.test(t) ? Number(t) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read every nf_conntrack_* sysctl of a namespace (timeouts, max, tcp_loose, ...), as
 * numbers. Non-numeric and unreadable ones are skipped. The names are listed in our own
 * namespace (every namespace has the same set) and read in the target one.
 */
export function readConntrackSysctls(netns?: string): ConntrackSysctls {
  const out: ConntrackSysctls = {};
  let names: string[];
  try {
    names = readdirSync(DIR).filter((n) => n.startsWith('nf_conntrack_'));
  } catch {
    return out; // nf_conntrack not loaded
  }
  for (const name of names) {
    const v = readConntrackSysctl(name, netns);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * Write sysctls (names without prefix) in a namespace, all in one child process. Throws
 * an Error naming the sysctl the kernel refused (EPERM for read-only ones such as
 * nf_conntrack_max outside the initial namespace).
 */
export function writeConntrackSysctls(values: ConntrackSysctls, netns?: string): void {
  const names = Object.keys(values);
  if (names.length === 0) return;
  for (const n of names) {
    if (!/^nf_conntrack_[a-z0-9_]+$/.test(n)) throw new TypeError(`not a conntrack sysctl: ${JSON.stringify(n)}`);
    const v = values[n]!;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${n}: not a non-negative integer: ${v}`);
  }
  const script = names.map((n) => `echo ${values[n]} > ${DIR}/${n} || { echo "${n}" >&2; exit 1; }`).join('\n');
  const [cmd, args] = nsenterArgs(netns, ['sh', '-c', script]);
  try {
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: string }).stderr ?? String(e);
    throw new Error(`writing conntrack sysctls failed: ${err.trim().split('\n').join('; ')}`);
  }
}

/** enum tcp_conntrack -> sysctl suffix. */
const TCP_STATE_SYSCTL: Record<number, string> = {
  1: 'nf_conntrack_tcp_timeout_syn_sent',
  2: 'nf_conntrack_tcp_timeout_syn_recv',
  3: 'nf_conntrack_tcp_timeout_established',
  4: 'nf_conntrack_tcp_timeout_fin_wait',
  5: 'nf_conntrack_tcp_timeout_close_wait',
  6: 'nf_conntrack_tcp_timeout_last_ack',
  7: 'nf_conntrack_tcp_timeout_time_wait',
  8: 'nf_conntrack_tcp_timeout_close',
  9: 'nf_conntrack_tcp_timeout_syn_sent', // SYN_SENT2 (simultaneous open): 120 s, no own sysctl
};

/** enum sctp_conntrack -> sysctl. */
const SCTP_STATE_SYSCTL: Record<number, string> = {
  1: 'nf_conntrack_sctp_timeout_closed',
  2: 'nf_conntrack_sctp_timeout_cookie_wait',
  3: 'nf_conntrack_sctp_timeout_cookie_echoed',
  4: 'nf_conntrack_sctp_timeout_established',
  5: 'nf_conntrack_sctp_timeout_shutdown_sent',
  6: 'nf_conntrack_sctp_timeout_shutdown_recd',
  7: 'nf_conntrack_sctp_timeout_shutdown_ack_sent',
  8: 'nf_conntrack_sctp_timeout_heartbeat_sent',
};

/**
 * The sysctl whose value re-arms the timer of an entry of this protocol, state (enum
 * tcp_conntrack or sctp_conntrack; undefined or 255 when none) and status, at each packet.
 */
export function timeoutSysctlFor(proto: number | undefined, state: number | undefined, status: number): string {
  const assured = (status & IPS_ASSURED) !== 0;
  switch (proto) {
    case 6:
      return TCP_STATE_SYSCTL[state ?? -1] ?? 'nf_conntrack_tcp_timeout_established';
    case 17:
    case 136:
      return assured ? 'nf_conntrack_udp_timeout_stream' : 'nf_conntrack_udp_timeout';
    case 1:
      return 'nf_conntrack_icmp_timeout';
    case 58:
      return 'nf_conntrack_icmpv6_timeout';
    case 47:
      return assured ? 'nf_conntrack_gre_timeout_stream' : 'nf_conntrack_gre_timeout';
    case 132:
      return SCTP_STATE_SYSCTL[state ?? -1] ?? 'nf_conntrack_generic_timeout';
    default:
      return 'nf_conntrack_generic_timeout';
  }
}

/** The sysctl whose value re-arms this entry's timer at each packet. */
export function timeoutSysctlOf(ct: Conntrack): string {
  const proto = ct.orig?.proto;
  const state = proto === 6 ? ct.protoinfo?.tcp?.state : proto === 132 ? ct.protoinfo?.sctp?.state : undefined;
  return timeoutSysctlFor(proto, state, ct.status ?? 0);
}

/** Configured timeout (s) for this entry's state; undefined if the sysctl is unknown. */
export function configuredTimeout(ct: Conntrack, sysctls: ConntrackSysctls): number | undefined {
  return sysctls[timeoutSysctlOf(ct)];
}

/**
 * Seconds since the entry's last packet (configured - remaining, at least 0). When the
 * timeouts were changed recently (`previous`: the values before), an entry whose remaining
 * time exceeds the current value was armed under the previous one.
 */
export function idleSeconds(ct: Conntrack, sysctls: ConntrackSysctls, previous?: ConntrackSysctls): number {
  const name = timeoutSysctlOf(ct);
  const conf = sysctls[name];
  if (conf === undefined || ct.timeout === undefined) return 0;
  const prev = previous?.[name];
  if (prev !== undefined && ct.timeout > conf) return Math.max(0, prev - ct.timeout);
  return Math.max(0, conf - ct.timeout);
}
