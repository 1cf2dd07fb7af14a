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
import type { Conntrack } from '../ctnetlink/model.js';
import type { EntryKey } from '../ctnetlink/requests.js';
import type { ConntrackTable } from '../table/table.js';
import { ipv4Number, prefixKey } from './policy.js';

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

