/**
 * The guard's eviction policy: a pure function from a view of the table to the ordered
 * list of victims. No I/O; unit-tested on constructed tables (test/guard.policy.test.ts).
 *
 * Tiers, taken in order until `need` victims are chosen (a tier is used only when the
 * ones before it are exhausted):
 *   1. closing     TCP in FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE (assured or not):
 *                  the connection is over; the kernel's GC would reap them under pressure too.
 *   2. unassured   not ASSURED and idle for at least `graceSeconds` (default 5; unreplied floods,
 *                  half-open handshakes that stalled); the kernel's early_drop takes these
 *                  too, but only one per new entry and only near the new tuple's bucket.
 *   3. assured     ASSURED and idle for at least `graceSeconds`: what the kernel never
 *                  evicts by itself, longest idle first.
 *   4. fresh       everything else (idle < graceSeconds): last resort, so that a handshake
 *                  in progress or a flow that just sent a packet is the last to go.
 * Entries matching `protect` are never chosen.
 *
 * Inside each tier, fairness: victims are taken max-min fair over /16 prefixes (IPv6: /48),
 * then over /24 (/64) inside a prefix, then over source addresses inside that: the water
 * level L is the lowest count such that the groups' excess over L covers what the tier
 * must give; groups above L give their excess, the largest first. So a source or prefix
 * with many entries gives them up before one with few loses any, and no group is cut
 * below another's level while it has entries to spare. The result is interleaved (the
 * next victim always comes from the group with the most entries left), so every prefix
 * of the list is a fair choice too: the guard ranks once and consumes the list a little
 * at a time. Inside a source: longest idle first (ties: least remaining time first).
 */
import type { EntryKey } from '../ctnetlink/requests.js';

/** What the policy needs to know of one entry. */
export interface GuardEntry {
  key: EntryKey;
  /** Original source address (the client side). */
  src: string;
  /** The IPv4 source as a number (faster grouping); absent for IPv6. */
  src4?: number;
  /** IP protocol number. */
  proto: number;
  /** TCP state (enum tcp_conntrack), when TCP. */
  tcpState?: number;
  assured: boolean;
  /** Seconds since the last packet (configured timeout of the state - remaining). */
  idle: number;
  /** Remaining timeout, seconds. */
  remaining: number;
  /** Never evict (matched --protect). */
  protected?: boolean;
}

export type PolicyStep = 'closing' | 'unassured' | 'assured' | 'fresh';

export interface Victim {
  entry: GuardEntry;
  step: PolicyStep;
}

export interface PolicyOptions {
  /** Seconds of idleness below which an entry counts as fresh (tier 4). Default 5. */
  graceSeconds?: number;
  /** Prefix lengths of the fairness levels (default [16, 24, 32] for IPv4, [48, 64, 128] for IPv6). */
  ipv4Prefixes?: number[];
  ipv6Prefixes?: number[];
}

/** TCP_CONNTRACK_FIN_WAIT .. CLOSE */
const CLOSING = new Set([4, 5, 6, 7, 8]);

export function stepOf(e: GuardEntry, grace: number): PolicyStep {
  if (e.proto === 6 && e.tcpState !== undefined && CLOSING.has(e.tcpState)) return 'closing';
  if (e.idle < grace) return 'fresh';
  return e.assured ? 'assured' : 'unassured';
}

const STEPS: PolicyStep[] = ['closing', 'unassured', 'assured', 'fresh'];

/** The prefix of an address as a group key ("10.1" for /16 of 10.1.2.3). */
export function prefixKey(addr: string, len: number): string {
  if (!addr.includes(':')) {
    if (len >= 32) return addr;
    const p = addr.split('.').map(Number);
    const n = (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0) & (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
    return `${n >>> 0}/${len}`;
  }
  if (len >= 128) return addr;
  // Expand to 8 groups, keep len bits.
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out: string[] = [];
  for (let i = 0, bits = len; bits > 0 && i < 8; i++, bits -= 16) {
    const g = parseInt(groups[i] ?? '0', 16) || 0;
    out.push((bits >= 16 ? g : g & ((0xffff << (16 - bits)) & 0xffff)).toString(16));
  }
  return `${out.join(':')}/${len}`;
}

/** Dotted quad to a number (-1 when it is not one). */
export function ipv4Number(s: string): number {
  let n = 0;
  let part = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
      dots++;
    } else if (c >= 48 && c <= 57) part = part * 10 + (c - 48);
    else return -1;
  }
  return dots === 3 ? n * 256 + part : -1;
}

function byIdle(a: GuardEntry, b: GuardEntry): number {
  return b.idle - a.idle || a.remaining - b.remaining;
}

/**
 * Max-min fair quotas: how many each group gives so that together they give `need`
 * (at most the sum of sizes). `sizes` sorted largest first. The water level L is the largest
 * with sum(max(0, n - L)) >= need; groups above L give n - L, and the surplus over `need`
 * is returned by groups at L + 1 (those give one less), smallest groups first, so that the
 * largest give the most.
 */
export function waterQuotas(sizes: number[], need: number): number[] {
  if (sizes.length === 0 || need <= 0) return sizes.map(() => 0);
  let lo = 0;
  let hi = sizes[0]!;
  const excess = (L: number) => {
    let s = 0;
    for (const n of sizes) {
      if (n <= L) break;
      s += n - L;
    }
    return s;
  };
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (excess(mid) >= need) lo = mid;
    else hi = mid - 1;
  }
  const quotas = sizes.map((n) => Math.max(0, n - lo));
  let surplus = quotas.reduce((a, b) => a + b, 0) - need;
  for (let i = sizes.length - 1; i >= 0 && surplus > 0; i--) {
    if (quotas[i]! > 0 && sizes[i]! - quotas[i]! === lo) {
      quotas[i]!--;
      surplus--;
    }
  }
  return quotas;
}

/**
 * Take `need` entries from `entries` max-min fairly over the grouping levels; returns
 * them in the order they should go (largest group's excess first).
 */
export function fairTake(entries: GuardEntry[], need: number, levels: ((e: GuardEntry) => string | number)[]): GuardEntry[] {
  if (need <= 0) return [];
  if (levels.length === 0 || entries.length <= 1) return [...entries].sort(byIdle).slice(0, need);
  // Taking everything still comes out in fair order (the biggest groups first).
  need = Math.min(need, entries.length);
  const [level, ...rest] = levels as [(e: GuardEntry) => string | number, ...((e: GuardEntry) => string | number)[]];
  const groups = new Map<string | number, GuardEntry[]>();
  for (const e of entries) {
    const k = level(e);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(e);
  }
  // Biggest groups first; among equal ones, the group whose best candidate goes first.
  const best = new Map<GuardEntry[], GuardEntry>();
  for (const g of groups.values()) {
    let b = g[0]!;
    for (const x of g) if (byIdle(x, b) < 0) b = x;
    best.set(g, b);
  }
  const list = [...groups.values()].sort((a, b) => b.length - a.length || byIdle(best.get(a)!, best.get(b)!));
  const quotas = waterQuotas(list.map((g) => g.length), need);
  // Interleave: always take the next victim from the group with the most entries left,
  // so that every prefix of the result is itself a fair choice (the guard consumes the
  // ranked list a little at a time).
  const picks = list.map((g, i) => (quotas[i]! > 0 ? fairTake(g, quotas[i]!, rest) : []));
  const heap: number[] = [];
  const left = list.map((g) => g.length);
  const taken = list.map(() => 0);
  const higher = (a: number, b: number) => left[a]! > left[b]! || (left[a] === left[b] && a < b);
  const push = (i: number) => {
    heap.push(i);
    for (let k = heap.length - 1; k > 0; ) {
      const p = (k - 1) >> 1;
      if (!higher(heap[k]!, heap[p]!)) break;
      [heap[k], heap[p]] = [heap[p]!, heap[k]!];
      k = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < heap.length && higher(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && higher(heap[r]!, heap[m]!)) m = r;
        if (m === k) break;
        [heap[k], heap[m]] = [heap[m]!, heap[k]!];
        k = m;
      }
    }
    return top;
  };
  picks.forEach((p, i) => p.length > 0 && push(i));
  const out: GuardEntry[] = [];
  while (heap.length > 0) {
    const i = pop();
    out.push(picks[i]![taken[i]!]!);
    taken[i]!++;
    left[i]!--;
    if (taken[i]! < picks[i]!.length) push(i);
  }
  return out;
}

/** Choose exactly min(need, evictable) victims, in eviction order. */
export function chooseVictims(entries: Iterable<GuardEntry>, need: number, opts: PolicyOptions = {}): Victim[] {
  const grace = opts.graceSeconds ?? 5;
  const p4 = opts.ipv4Prefixes ?? [16, 24, 32];
  const p6 = opts.ipv6Prefixes ?? [48, 64, 128];
  const levels = p4.map((l4, i) => {
    const shift = 32 - l4;
    const l6 = p6[i] ?? 128;
    return (e: GuardEntry): string | number => {
      if (e.src4 === undefined) e.src4 = e.src.includes(':') ? -1 : ipv4Number(e.src);
      if (e.src4 < 0) return prefixKey(e.src, l6);
      return shift >= 32 ? 0 : Math.floor(e.src4 / 2 ** shift);
    };
  });
  const tiers: Record<PolicyStep, GuardEntry[]> = { closing: [], unassured: [], assured: [], fresh: [] };
  for (const e of entries) if (!e.protected) tiers[stepOf(e, grace)].push(e);
  const out: Victim[] = [];
  let left = need;
  for (const step of STEPS) {
    if (left <= 0) break;
    const taken = fairTake(tiers[step], left, levels);
    for (const e of taken) out.push({ entry: e, step });
    left -= taken.length;
  }
  return out;
}

/** The /16 (IPv6: /48) of an entry's source, as a group key. */
export function wideKey(e: GuardEntry): string | number {
  if (e.src4 === undefined) e.src4 = e.src.includes(':') ? -1 : ipv4Number(e.src);
  return e.src4 < 0 ? prefixKey(e.src, 48) : Math.floor(e.src4 / 65536);
}

/**
 * A ranking to be consumed over several cycles while the table changes: the first `need`
 * victims as chosen; beyond them only entries of "heavy" prefixes (a /16 or /48 holding at
 * least `heavyShare` (10 %) of the table and at least half as many entries as the largest
 * one), which stay the attacker's however the table changed meanwhile. So a stale list
 * never reaches into small (legitimate) groups.
 */
export function rankForCycles(
  entries: GuardEntry[],
  need: number,
  opts: PolicyOptions & { heavyShare?: number } = {},
  choose: (entries: GuardEntry[], need: number, opts: PolicyOptions) => Victim[] = chooseVictims,
): Victim[] {
  const all = choose(entries, entries.length, opts);
  const counts = new Map<string | number, number>();
  for (const e of entries) {
    const k = wideKey(e);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let largest = 0;
  for (const n of counts.values()) largest = Math.max(largest, n);
  const min = Math.max((opts.heavyShare ?? 0.1) * entries.length, largest / 2);
  const out: Victim[] = [];
  for (let i = 0; i < all.length; i++) {
    const v = all[i]!;
    if (i < need || (counts.get(wideKey(v.entry)) ?? 0) >= min) out.push(v);
  }
  return out;
}
