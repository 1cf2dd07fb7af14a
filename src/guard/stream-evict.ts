/**
 * Streaming eviction from heavy prefixes: the guard's mode for when the mirror cannot
 * follow the attack (its event socket overruns at 100k+ new entries/s, so it holds a
 * fraction of the kernel's table and its resyncs are full dumps that the next overrun
 * spoils).
 *
 *   dump (client.dumpBatches, one pass from the kernel's first bucket)
 *     -> keep entries whose original source lies in a heavy /16 (IPv6 /48), not protected
 *     -> keys (family, original tuple, zone, id) into deleteMany (batched, pipelined)
 *     -> stop after `need` keys: never more than the table is over the low watermark
 *
 * Which prefixes are heavy is decided on a sample: the first `sample` (4096) entries of the
 * dump itself (hash order: a fair sample of the kernel's table, unlike the mirror, which
 * saw whatever its socket did not drop): a /16 holding at least `share` (10 %) of the
 * sample and at least half as many as the largest one, the same rule as the tail of
 * rankForCycles. Inside a heavy prefix the order is the dump's: every entry of such a
 * prefix is over the fair share.
 */
import type { ConntrackClient } from '../client/client.js';
import type { DeleteCounts } from '../client/evict.js';
import { keyOf } from '../client/evict.js';
import type { Conntrack, Tuple } from '../ctnetlink/model.js';
import type { EntryKey } from '../ctnetlink/requests.js';
import type { ConntrackTable } from '../table/table.js';
import { ipv4Number, prefixKey } from './policy.js';
import { rawDump } from '../table/raw.js';
import { HAS_ORIG, type CompactEntry } from '../ctnetlink/compact.js';
import { formatIpv6 } from '../ctnetlink/address.js';
import { hasPorts } from '../table/aggregates.js';

function v4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}
const b16 = new Uint8Array(16);
const dv16 = new DataView(b16.buffer);
function v6(a: Uint32Array, base: number): string {
  for (let i = 0; i < 4; i++) dv16.setUint32(i * 4, a[base + i]!, false);
  return formatIpv6(b16, 0);
}

/** The delete key (and, for protect filters, a Conntrack) of a lean-decoded entry. */
export function keyOfCompact(e: CompactEntry): EntryKey {
  const six = e.family === 10;
  const orig: Tuple = { src: six ? v6(e.addr, 0) : v4(e.addr[0]!), dst: six ? v6(e.addr, 4) : v4(e.addr[4]!), proto: e.proto };
  if (hasPorts(e.proto)) {
    orig.srcPort = e.sport;
    orig.dstPort = e.dport;
  } else if (e.proto === 1 || e.proto === 58) {
    orig.icmpId = e.sport;
    orig.icmpType = e.dport >>> 8;
    orig.icmpCode = e.dport & 0xff;
  }
  return { family: e.family, orig, zone: e.zone, id: e.id };
}

/**
 * Keys of up to `need` entries whose source lies in one of `prefixes`, from one dump through
 * the lean decoder (no model objects; the dump is cancelled once `need` are found).
 */
export async function collectHeavyKeys(client: ConntrackClient, need: number, prefixes: ReadonlySet<string | number>, protect?: (ct: Conntrack) => boolean): Promise<EntryKey[]> {
  const keys: EntryKey[] = [];
  if (need <= 0 || prefixes.size === 0) return keys;
  let cancelled = false;
  const d = rawDump(client, (e) => {
    if (cancelled || !(e.has & HAS_ORIG)) return;
    let k: string | number;
    let key: EntryKey | undefined;
    if (e.family === 2) k = e.addr[0]! >>> 16;
    else {
      key = keyOfCompact(e);
      k = wideKeyOf(key.orig!.src!);
    }
    if (!prefixes.has(k)) return;
    key ??= keyOfCompact(e);
    if (protect) {
      const ct: Conntrack = { family: e.family, orig: key.orig!, status: e.status, mark: e.mark, zone: e.zone, id: e.id, timeout: e.timeout };
      if (e.proto === 6) ct.protoinfo = { tcp: { state: e.tcpState } };
      if (protect(ct)) return;
    }
    keys.push(key);
    if (keys.length >= need) {
      cancelled = true;
      d.cancel();
    }
  });
  try {
    await d.done;
  } catch (err) {
    if (!cancelled) throw err;
  }
  return keys;
}

/** The /16 (IPv6: /48) key of an address, as policy.wideKey computes it. */
export function wideKeyOf(src: string): string | number {
  const n = src.includes(':') ? -1 : ipv4Number(src);
  return n < 0 ? prefixKey(src, 48) : Math.floor(n / 65536);
}

/** Heavy /16 (/48) prefixes among counts per prefix. */
export function heavyOf(counts: Map<string | number, number>, share = 0.1): Set<string | number> {
  let largest = 0;
  let total = 0;
  for (const c of counts.values()) {
    largest = Math.max(largest, c);
    total += c;
  }
  const min = Math.max(share * total, largest / 2, 1);
  const out = new Set<string | number>();
  for (const [k, c] of counts) if (c >= min) out.add(k);
  return out;
}

/** Heavy /16 (/48) prefixes of the mirror, from its per-source aggregate (no row scan). */
export function heavyPrefixes(table: ConntrackTable, share = 0.1): Set<string | number> {
  const counts = new Map<string | number, number>();
  for (const [k, c] of table.aggregates.source) {
    const key = typeof k === 'number' ? (k >>> 0) >>> 16 : wideKeyOf(k);
    counts.set(key, (counts.get(key) ?? 0) + c);
  }
  return heavyOf(counts, share);
}

export interface StreamEvictOptions {
  need: number;
  /** Heavy prefixes (default: decided on a sample of the dump). */
  prefixes?: ReadonlySet<string | number>;
  /** Entries sampled to decide the heavy prefixes (default 4096). */
  sample?: number;
  share?: number;
  protect?: (ct: Conntrack) => boolean;
  signal?: AbortSignal;
  /** Called with each key chosen (the guard remembers them). */
  onKey?: (k: EntryKey) => void;
}

/** One streaming pass; resolves with deleteMany's counts and how many keys were chosen. */
export async function streamEvict(client: ConntrackClient, o: StreamEvictOptions): Promise<DeleteCounts & { chosen: number; prefixes: (string | number)[] }> {
  let chosen = 0;
  let prefixes = o.prefixes;
  const sampleSize = o.sample ?? 4096;
  async function* keys(): AsyncGenerator<EntryKey> {
    if (o.need <= 0) return;
    let held: Conntrack[] | undefined = prefixes ? undefined : [];
    const take = function* (list: Conntrack[]): Generator<EntryKey> {
      for (const ct of list) {
        const src = ct.orig?.src;
        if (src === undefined || !prefixes!.has(wideKeyOf(src))) continue;
        if (o.protect?.(ct)) continue;
        const k = keyOf(ct);
        o.onKey?.(k);
        chosen++;
        yield k;
        if (chosen >= o.need) return;
      }
    };
    const decide = () => {
      const counts = new Map<string | number, number>();
      for (const ct of held!) {
        const src = ct.orig?.src;
        if (src === undefined) continue;
        const k = wideKeyOf(src);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      prefixes = heavyOf(counts, o.share);
      const h = held!;
      held = undefined;
      return h;
    };
    for await (const batch of client.dumpBatches(undefined, o.signal ? { signal: o.signal } : {})) {
      if (held) {
        for (const ct of batch) held.push(ct);
        if (held.length < sampleSize) continue;
        yield* take(decide());
      } else yield* take(batch);
      if (chosen >= o.need) return;
    }
    if (held) yield* take(decide());
  }
  if (prefixes) {
    // Prefixes known: collect through the lean decoder first, then delete (faster than the
    // model decoder feeding deletes as it goes).
    const list = await collectHeavyKeys(client, o.need, prefixes, o.protect);
    if (o.onKey) for (const k of list) o.onKey(k);
    const r = await client.deleteMany(list, o.signal ? { signal: o.signal } : {});
    return { ...r, chosen: list.length, prefixes: [...prefixes] };
  }
  const r = await client.deleteMany(keys(), o.signal ? { signal: o.signal } : {});
  return { ...r, chosen, prefixes: [...(prefixes ?? [])] };
}

export interface TableSample {
  /** Entries sampled. */
  total: number;
  /** Per /16 (/48) prefix, and per source address. */
  prefixes: Map<string | number, number>;
  sources: Map<string, number>;
}

/**
 * The first `n` entries of a dump (the kernel's hash order: a fair sample of the table),
 * counted by prefix and by source; the dump is abandoned after them.
 */
export async function sampleTable(client: ConntrackClient, n = 4096, signal?: AbortSignal): Promise<TableSample> {
  const out: TableSample = { total: 0, prefixes: new Map(), sources: new Map() };
  for await (const batch of client.dumpBatches(undefined, signal ? { signal } : {})) {
    for (const ct of batch) {
      const src = ct.orig?.src;
      if (src === undefined) continue;
      out.total++;
      const k = wideKeyOf(src);
      out.prefixes.set(k, (out.prefixes.get(k) ?? 0) + 1);
      out.sources.set(src, (out.sources.get(src) ?? 0) + 1);
    }
    if (out.total >= n) break;
  }
  return out;
}

