/**
 * Incrementally maintained counts over the mirror's rows, by grouping:
 *
 *   grouping       key                                       storage
 *   source         orig source address                      Map (IPv4: the u32 as int32, IPv6: text)
 *   sourcePrefix   orig source /24 (IPv4) or /64 (IPv6)       Map (IPv4: masked, as int32; IPv6: text "…::/64")
 *   destination    orig destination address                 Map (as source)
 *   dport          orig destination port (TCP, UDP, UDP-Lite, SCTP, DCCP)   Int32Array(65536)
 *   proto          IP protocol number                       Int32Array(256)
 *   state          TCP state (TCP entries only)             Int32Array(256)
 *   zone           CTA_ZONE                                 counter for 0 + Map
 *   mark           CTA_MARK                                 counter for 0 + Map
 *   assured        IPS_ASSURED set or not                   two counters
 *
 * Key columns (addresses, ports, proto, zone) never change for a row, so an UPDATE only
 * touches state, mark and assured, and only when they changed. Keys are integers except
 * IPv6 addresses. top() returns the N largest without sorting the whole map.
 */
import { formatIpv4, formatIpv6 } from '../ctnetlink/address.js';
import { IPS_ASSURED, TCP_STATE_NAMES } from '../ctnetlink/constants.js';
import { NO_STATE, type RowStore } from './store.js';

export type Grouping = 'source' | 'sourcePrefix' | 'destination' | 'dport' | 'proto' | 'state' | 'zone' | 'mark' | 'assured';
export const GROUPINGS: readonly Grouping[] = ['source', 'sourcePrefix', 'destination', 'dport', 'proto', 'state', 'zone', 'mark', 'assured'];

export type GroupKey = number | string;

/** One line of a top list: `key` as text (an address, "10.0.0.0/24", "443", "tcp", "ESTABLISHED", ...). */
export interface TopItem {
  key: string;
  count: number;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };
export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

/** Protocols whose tuple has ports. */
export function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33;
}

const scratch16 = new Uint8Array(16);
const scratchView = new DataView(scratch16.buffer);

function v4Text(w: number): string {
  scratchView.setUint32(0, w >>> 0, false);
  return formatIpv4(scratch16, 0);
}

function v6Text(a: Uint32Array, b: number, keepWords = 4): string {
  for (let i = 0; i < 4; i++) scratchView.setUint32(i * 4, i < keepWords ? a[b + i]! : 0, false);
  return formatIpv6(scratch16, 0);
}

function bump(m: Map<GroupKey, number>, k: GroupKey, d: number): void {
  const n = (m.get(k) ?? 0) + d;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

export interface AggregateOptions {
  /** IPv4 source prefix length (default 24). */
  v4Prefix?: number;
  /** IPv6 source prefix length, a multiple of 32 up to 128 or any value (default 64). */
  v6Prefix?: number;
}

export class Aggregates {
  readonly source = new Map<GroupKey, number>();
  readonly sourcePrefix = new Map<GroupKey, number>();
  readonly destination = new Map<GroupKey, number>();
  readonly zone = new Map<GroupKey, number>();
  readonly mark = new Map<GroupKey, number>();
  readonly dport = new Int32Array(65536);
  readonly proto = new Int32Array(256);
  readonly state = new Int32Array(256);
  assured = 0;
  notAssured = 0;
  /** Entries with mark 0 / zone 0 (not in the maps). */
  mark0 = 0;
  zone0 = 0;
  private readonly v4Mask: number;
  private readonly v4Prefix: number;
  private readonly v6Prefix: number;

  constructor(opts: AggregateOptions = {}) {
    this.v4Prefix = opts.v4Prefix ?? 24;
    this.v6Prefix = opts.v6Prefix ?? 64;
    this.v4Mask = this.v4Prefix === 0 ? 0 : (0xffffffff << (32 - this.v4Prefix)) >>> 0;
  }

  private v6Key(a: Uint32Array, b: number): string {
    return v6Text(a, b);
  }

  private v6PrefixKey(a: Uint32Array, b: number): string {
    const p = this.v6Prefix;
    for (let i = 0; i < 4; i++) {
      const bits = Math.max(0, Math.min(32, p - i * 32));
      const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      scratchView.setUint32(i * 4, (a[b + i]! & m) >>> 0, false);
    }
    return formatIpv6(scratch16, 0) + '/' + p;
  }

  /** Count row `r` in (d = +1) or out (d = -1) of every grouping. */
  addRow(s: RowStore, r: number, d: number): void {
    const fam = s.family(r);
    const proto = s.proto(r);
    const a = s.addrArray(r);
    const b = s.addrOffset(r);
    if (fam === 10) {
      bump(this.source, this.v6Key(a, b), d);
      bump(this.destination, this.v6Key(a, b + 4), d);
      bump(this.sourcePrefix, this.v6PrefixKey(a, b), d);
    } else {
      // IPv4 keys as signed 32-bit integers: small integers to V8, no heap numbers.
      bump(this.source, a[b]! | 0, d);
      bump(this.destination, a[b + 1]! | 0, d);
      bump(this.sourcePrefix, a[b]! & this.v4Mask, d);
    }
    if (hasPorts(proto)) this.dport[s.ports[r]! & 0xffff]! += d;
    this.proto[proto]! += d;
    this.varying(s.tcpState(r), s.status[r]!, s.mark[r]!, s.zone[r]!, d, true);
  }

  /** Count the varying fields (state, mark, assured; zone only with `withZone`). */
  varying(state: number, status: number, mark: number, zone: number, d: number, withZone = false): void {
    if (state !== NO_STATE) this.state[state]! += d;
    if (status & IPS_ASSURED) this.assured += d;
    else this.notAssured += d;
    // Mark 0 and zone 0 are by far the most common: plain counters, no map operation.
    if (mark === 0) this.mark0 += d;
    else bump(this.mark, mark, d);
    if (withZone) {
      if (zone === 0) this.zone0 += d;
      else bump(this.zone, zone, d);
    }
  }

  clear(): void {
    for (const m of [this.source, this.sourcePrefix, this.destination, this.zone, this.mark]) m.clear();
    this.dport.fill(0);
    this.proto.fill(0);
    this.state.fill(0);
    this.assured = this.notAssured = this.mark0 = this.zone0 = 0;
  }

  /** Key text of a grouping's raw key. */
  keyText(g: Grouping, k: GroupKey): string {
    if (typeof k === 'string') return k;
    switch (g) {
      case 'source':
      case 'destination': return v4Text(k >>> 0);
      case 'sourcePrefix': return `${v4Text(k >>> 0)}/${this.v4Prefix}`;
      case 'proto': return protoName(k);
      case 'state': return TCP_STATE_NAMES[k] ?? String(k);
      case 'assured': return k ? 'assured' : 'not-assured';
      default: return String(k);
    }
  }

  /** Every (key, count) of a grouping, raw keys. */
  *entries(g: Grouping): IterableIterator<[GroupKey, number]> {
    switch (g) {
      case 'zone': case 'mark': {
        const zero = g === 'zone' ? this.zone0 : this.mark0;
        if (zero !== 0) yield [0, zero];
        yield* this[g].entries();
        return;
      }
      case 'source': case 'sourcePrefix': case 'destination':
        yield* this[g].entries();
        return;
      case 'dport': case 'proto': case 'state': {
        const arr = this[g];
        for (let i = 0; i < arr.length; i++) if (arr[i]! !== 0) yield [i, arr[i]!];
        return;
      }
      case 'assured':
        if (this.assured) yield [1, this.assured];
        if (this.notAssured) yield [0, this.notAssured];
        return;
    }
  }

  /** Count of one raw key. */
  count(g: Grouping, k: GroupKey): number {
    switch (g) {
      case 'zone': case 'mark':
        if (k === 0) return g === 'zone' ? this.zone0 : this.mark0;
        return this[g].get(k) ?? 0;
      case 'source': case 'sourcePrefix': case 'destination': return this[g].get(typeof k === 'number' ? k | 0 : k) ?? 0;
      case 'dport': case 'proto': case 'state': return typeof k === 'number' ? (this[g][k] ?? 0) : 0;
      case 'assured': return k ? this.assured : this.notAssured;
    }
  }

  /** Distinct keys of a grouping. */
  distinct(g: Grouping): number {
    let n = 0;
    for (const _ of this.entries(g)) n++;
    return n;
  }

  /** The n largest groups, largest first, keys as text. */
  top(g: Grouping, n: number): TopItem[] {
    return this.topRaw(g, n).map((t) => ({ key: t.key, count: t.count }));
  }

  /** As top(), with each group's raw key too (for looking it up later). */
  topRaw(g: Grouping, n: number): (TopItem & { raw: GroupKey })[] {
    const keys: GroupKey[] = [];
    const counts: number[] = [];
    let min = 0;
    for (const [k, c] of this.entries(g)) {
      if (keys.length >= n && c <= min) continue;
      let i = keys.length;
      while (i > 0 && counts[i - 1]! < c) i--;
      keys.splice(i, 0, k);
      counts.splice(i, 0, c);
      if (keys.length > n) {
        keys.pop();
        counts.pop();
      }
      min = counts[counts.length - 1]!;
    }
    return keys.map((k, i) => ({ raw: k, key: this.keyText(g, k), count: counts[i]! }));
  }
}
