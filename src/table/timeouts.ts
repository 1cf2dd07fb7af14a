/**
 * The namespace's configured conntrack timeouts, to turn a remaining timeout into idle
 * time (idle = configured timeout of the entry's state - remaining timeout).
 *
 * Source: the per-namespace sysctls /proc/sys/net/netfilter/nf_conntrack_*_timeout*.
 * For another namespace they are read with readFileInNetns (a thread of the addon enters
 * the namespace, opens the file and leaves; /proc/sys/net shows the reader's namespace),
 * so no child process and no `ip netns exec` is needed. Read once at start-up: values
 * changed later apply to entries only at their next packet anyway (see dos.md).
 * A missing file falls back to the kernel's default.
 */
import { readFileSync } from 'node:fs';
import { readFileInNetns } from '../socket/netlink-socket.js';
import { IPS_ASSURED, IPS_SEEN_REPLY } from '../ctnetlink/constants.js';
import { NO_STATE } from './store.js';

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
    const path = `/proc/sys/net/netfilter/nf_conntrack_${name}`;
    try {
      const text = netns === undefined ? readFileSync(path, 'latin1') : Buffer.from(readFileInNetns(netns, path, 64)).toString('latin1');
      const v = Number(text.trim());
      if (Number.isFinite(v)) out[name] = v;
    } catch {
      /* keep the default */
    }
  }
  return out;
}

/**
 * nf_conntrack_events of a namespace: 0 off, 1 on for every entry, 2 (the default) only for
 * entries created while a listener exists. undefined when it cannot be read.
 */
export function readEventsMode(netns?: string): number | undefined {
  const path = '/proc/sys/net/netfilter/nf_conntrack_events';
  try {
    const text = netns === undefined ? readFileSync(path, 'latin1') : Buffer.from(readFileInNetns(netns, path, 64)).toString('latin1');
    const v = Number(text.trim());
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const TCP_KEYS = ['', 'tcp_timeout_syn_sent', 'tcp_timeout_syn_recv', 'tcp_timeout_established', 'tcp_timeout_fin_wait',
  'tcp_timeout_close_wait', 'tcp_timeout_last_ack', 'tcp_timeout_time_wait', 'tcp_timeout_close', 'tcp_timeout_syn_sent'];

/** Configured timeout (s) for an entry of this protocol, TCP state and status. */
export function configuredTimeout(t: TimeoutTable, proto: number, tcpState: number, status: number): number {
  switch (proto) {
    case 6: {
      const k = tcpState !== NO_STATE ? TCP_KEYS[tcpState] : undefined;
      return (k ? t[k] : undefined) ?? t.generic_timeout!;
    }
    case 17:
    case 136:
      return (status & (IPS_ASSURED | IPS_SEEN_REPLY)) === (IPS_ASSURED | IPS_SEEN_REPLY) ? t.udp_timeout_stream! : t.udp_timeout!;
    case 1: return t.icmp_timeout!;
    case 58: return t.icmpv6_timeout!;
    case 132: return t.sctp_timeout_established!;
    default: return t.generic_timeout!;
  }
}
