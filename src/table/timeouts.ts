/**
 * The namespace's configured conntrack timeouts, to turn a remaining timeout into idle
 * time (idle = configured timeout of the entry's state - remaining timeout).
 *
 * Source: the per-namespace sysctls /proc/sys/net/netfilter/nf_conntrack_*_timeout*, read
 * by client/sysctls.ts (readFileInNetns for another namespace: no child process), which
 * also maps an entry's protocol/state/status to its sysctl; this file only adapts it to
 * the mirror's columns. Read once at start-up: values
 * changed later apply to entries only at their next packet anyway (see dos.md).
 * A missing file falls back to the kernel's default.
 */
import { readConntrackSysctl, timeoutSysctlFor } from '../client/sysctls.js';
import { NO_STATE } from './store.js';

const PREFIX = 'nf_conntrack_'.length;

/** Seconds, by name without the nf_conntrack_ prefix (tcp_timeout_established, udp_timeout, ...). */
export type TimeoutTable = Record<string, number>;

/** Kernel defaults (6.x). */
export const DEFAULT_TIMEOUTS: TimeoutTable = {
  generic_timeout: 600,
  tcp_timeout_syn_sent: 120,
  tcp_timeout_syn_recv: 60,
  tcp_timeout_established: 432000,
  tcp_timeout_fin_wait: 120,
  tcp_timeout_close_wait: 60,
  tcp_timeout_last_ack: 30,
  tcp_timeout_time_wait: 120,
  tcp_timeout_close: 10,
  udp_timeout: 30,
  udp_timeout_stream: 120,
  icmp_timeout: 30,
  icmpv6_timeout: 30,
  sctp_timeout_established: 210,
};

/** Read the timeout sysctls of a namespace (undefined: ours). Never throws. */
export function readTimeouts(netns?: string): TimeoutTable {
  const out: TimeoutTable = { ...DEFAULT_TIMEOUTS };
  for (const name of Object.keys(DEFAULT_TIMEOUTS)) {
    const v = readConntrackSysctl(`nf_conntrack_${name}`, netns);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * nf_conntrack_events of a namespace: 0 off, 1 on for every entry, 2 (the default) only for
 * entries created while a listener exists. undefined when it cannot be read.
 */
export function readEventsMode(netns?: string): number | undefined {
  return readConntrackSysctl('nf_conntrack_events', netns);
}

/** Configured timeout (s) for an entry of this protocol, TCP state and status (the state-to-sysctl map of client/sysctls.ts). */
export function configuredTimeout(t: TimeoutTable, proto: number, tcpState: number, status: number): number {
  // The mirror keeps no SCTP state: an SCTP entry counts as established.
  const state = proto === 6 ? (tcpState === NO_STATE ? undefined : tcpState) : proto === 132 ? 4 : undefined;
  if (proto === 6 && state === undefined) return t.generic_timeout!;
  return t[timeoutSysctlFor(proto, state, status).slice(PREFIX)] ?? t.generic_timeout!;
}
