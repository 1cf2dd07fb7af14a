/**
 * TableCounts: a minimal mirror of the conntrack table that keeps only what the exporter
 * shows, maintained incrementally from dump entries and events (O(1) per event):
 *
 *   entry key -> { protocol, TCP state, assured, zone, source address, dport key }
 *   and the number of entries per protocol / TCP state / assured / zone / source / dport.
 *
 * The key is the original tuple and the zone (what makes an entry unique in the table), not
 * CTA_ID: the id is a 32-bit hash, and a 250,000-entry table holds a few colliding ids
 * (measured: 12 of 250,000). Messages without an original tuple are ignored.
 *
 * A stand-in until the table mirror (src/table) is plugged in behind MetricsSource; it is
 * deliberately small.
 */
import type { Conntrack } from '../ctnetlink/model.js';
import { IPS_ASSURED } from '../ctnetlink/constants.js';
import type { TopEntry } from './source.js';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };
/** Protocols whose tuple has ports. */
const HAS_PORTS = new Set([6, 17, 33, 132, 136]);
/** enum tcp_conntrack, kernel names. */
export const TCP_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

class Rec {
  constructor(
    readonly proto: number,
    readonly tcpState: number,
    readonly assured: boolean,
    readonly zone: number,
    readonly src: string,
    /** proto * 65536 + dport, or -1 */
    readonly dport: number,
  ) {}
}

function bump<K>(m: Map<K, number>, k: K, d: number): void {
  const n = (m.get(k) ?? 0) + d;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

/** The identity of an entry: family, original tuple, zone. Undefined without a tuple. */
export function entryKey(ct: Conntrack): string | undefined {
  const o = ct.orig;
  if (o === undefined || o.src === undefined) return undefined;
  return `${ct.family}|${o.proto ?? ''}|${o.src}|${o.dst ?? ''}|${o.srcPort ?? o.icmpId ?? ''}|${o.dstPort ?? ''}|${o.icmpType ?? ''}|${o.icmpCode ?? ''}|${ct.zone ?? o.zone ?? 0}`;
}

export class TableCounts {
  private readonly byId = new Map<string, Rec>();
  private readonly proto = new Map<number, number>();
  private readonly tcp = new Map<number, number>();
  private readonly zone = new Map<number, number>();
  private readonly src = new Map<string, number>();
  private readonly dport = new Map<number, number>();
  private assured = 0;

  get size(): number {
    return this.byId.size;
  }

  /** A NEW event or a dump entry: insert or replace. */
  upsert(ct: Conntrack): void {
    const id = entryKey(ct);
    if (id === undefined) return;
    const old = this.byId.get(id);
    const proto = ct.orig?.proto ?? old?.proto ?? 0;
    // Update events carry protoinfo only when it changed; keep the old state then.
    const tcpState = proto === 6 ? (ct.protoinfo?.tcp?.state ?? old?.tcpState ?? 0) : 0;
    const status = ct.status;
    const assured = status !== undefined ? (status & IPS_ASSURED) !== 0 : (old?.assured ?? false);
    const zone = ct.zone ?? ct.orig?.zone ?? old?.zone ?? 0;
    const src = ct.orig?.src ?? old?.src ?? '';
    const dp = ct.orig?.dstPort;
    const dport = dp !== undefined && HAS_PORTS.has(proto) ? proto * 65536 + dp : (old?.dport ?? -1);
    if (old) {
      if (old.proto === proto && old.tcpState === tcpState && old.assured === assured && old.zone === zone && old.src === src && old.dport === dport) return;
      this.account(old, -1);
    }
    const rec = new Rec(proto, tcpState, assured, zone, src, dport);
    this.byId.set(id, rec);
    this.account(rec, 1);
  }

  /** A DESTROY event. */
  remove(ct: Conntrack): void {
    const id = entryKey(ct);
    if (id === undefined) return;
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    this.account(old, -1);
  }

  private account(r: Rec, d: number): void {
    bump(this.proto, r.proto, d);
    if (r.proto === 6) bump(this.tcp, r.tcpState, d);
    bump(this.zone, r.zone, d);
    bump(this.src, r.src, d);
    if (r.dport >= 0) bump(this.dport, r.dport, d);
    if (r.assured) this.assured += d;
  }

  byProtocol(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [p, n] of this.proto) out.set(protoName(p), n);
    return out;
  }

  byTcpState(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [s, n] of this.tcp) out.set(TCP_STATE_NAMES[s] ?? String(s), n);
    return out;
  }

  byZone(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [z, n] of this.zone) out.set(String(z), n);
    return out;
  }

  assuredCount(): number {
    return this.assured;
  }

  topSources(n: number): TopEntry[] {
    return topOf(this.src, n).map(([k, c]) => ({ key: k, entries: c }));
  }

  topDestinationPorts(n: number): TopEntry[] {
    return topOf(this.dport, n).map(([k, c]) => ({ key: String(k % 65536), protocol: protoName(Math.floor(k / 65536)), entries: c }));
  }
}

/**
 * The n largest values of a map, largest first (ties: smaller key first, for a stable
 * output). One pass, a sorted array of at most n: O(size) when most values lose at once.
 */
export function topOf<K extends string | number>(m: ReadonlyMap<K, number>, n: number): [K, number][] {
  const best: [K, number][] = [];
  if (n <= 0) return best;
  const before = (a: [K, number], k: K, v: number) => a[1] > v || (a[1] === v && a[0] < k);
  for (const [k, v] of m) {
    if (best.length === n && !before([k, v], best[n - 1]![0], best[n - 1]![1])) continue;
    let i = best.length;
    while (i > 0 && !before(best[i - 1]!, k, v)) i--;
    best.splice(i, 0, [k, v]);
    if (best.length > n) best.pop();
  }
  return best;
}
