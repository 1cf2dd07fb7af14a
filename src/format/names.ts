/**
 * Names the formats share, defined once: the per-CPU counter names of `conntrack -S`
 * (CpuStats field -> name), layer-4 protocol names as conntrack prints them, and family
 * names.
 */
import { IPPROTO_DCCP, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from '../ctnetlink/constants.js';

/** Per-CPU counters in `conntrack -S` order and names, by CpuStats field (counters newer than conntrack-tools 1.4.7 print as unknown1..4). */
export const CPU_NAMES: Record<string, string> = {
  searched: 'searched', found: 'found', new: 'new', invalid: 'invalid', ignore: 'ignore', delete: 'delete',
  deleteList: 'delete_list', insert: 'insert', insertFailed: 'insert_failed', drop: 'drop', earlyDrop: 'early_drop',
  error: 'error', searchRestart: 'search_restart', clashResolve: 'clash_resolve', chainTooLong: 'chaintoolong',
};

export const PROTO_NAMES: Record<number, string> = {
  [IPPROTO_TCP]: 'tcp',
  [IPPROTO_UDP]: 'udp',
  [IPPROTO_UDPLITE]: 'udplite',
  [IPPROTO_ICMP]: 'icmp',
  [IPPROTO_ICMPV6]: 'icmpv6',
  [IPPROTO_SCTP]: 'sctp',
  [IPPROTO_GRE]: 'gre',
  [IPPROTO_DCCP]: 'dccp',
};

/** Layer-4 protocol name as conntrack prints it: "tcp", ..., or "unknown". */
export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? 'unknown';
}

/** Layer-3 name of an nfgen family: "ipv4", "ipv6" or "unknown". */
export function familyName(family: number): string {
  return family === 2 ? 'ipv4' : family === 10 ? 'ipv6' : 'unknown';
}
