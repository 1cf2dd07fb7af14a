/**
 * Flood eviction: the guard's mode for an insert flood the mirror cannot follow (100k+ new
 * ASSURED entries/s, attack b of bench/dos.ts), built to spend as little CPU per evicted
 * entry as possible, since the guard and the attacker share the same cores and only a
 * sustained delete rate above the insert rate keeps free slots for legitimate SYNs.
 *
 * Victims come from two places, both through the lean decoder (ctnetlink/compact.ts) into a
 * ring of typed arrays (no strings, no objects per entry), and leave as delete messages
 * written from those numbers (client/delete-compact.ts) into pipelined batches
 * (DeletePipeline: one NLM_F_ACK per datagram of 1024 deletes):
 *
 *   1. NEW events (NFNLGRP_CONNTRACK_NEW only: no DESTROY subscription, so the kernel builds
 *      no event for the guard's own deletes). The kernel builds each event in the context of
 *      the task that inserted the entry: the attacker pays for it, the guard only reads it.
 *      ASSURED entries whose source lies in a heavy /16 (/48) are kept (non-assured ones are
 *      early_drop's: the kernel evicts one per new entry of a full table), newest first; the ring
 *      keeps the newest `capacity` (older ones are overwritten: a dump finds them).
 *   2. A dump from the kernel's first bucket (cancelled once enough are found), for what the
 *      events do not supply: entries inserted before the subscription, or lost in an overrun.
 *
 * Ring slot (12 u32 words): src words 0-3, dst words 4-7 (big-endian words; IPv4 in words 0
 * and 4), family << 16 | proto << 8 | hasId, sport << 16 | dport, zone, id.
 *
 * It never deletes more than asked (`need`: the table's count over the low watermark), never
 * an entry outside the heavy prefixes, never a protected one.
 */
import type { ConntrackClient } from '../client/client.js';
import { DeletePipeline, type DeleteCounts } from '../client/evict.js';
import type { DeleteFields } from '../client/delete-compact.js';
import type { Transport } from '../client/transport.js';
import { CompactEntry, COMPACT_CONNTRACK, EV_NEW, HAS_ID, HAS_ORIG, decodeCompactDatagram } from '../ctnetlink/compact.js';
import type { Conntrack } from '../ctnetlink/model.js';
import { NFNLGRP_CONNTRACK_NEW } from '../nfnetlink/constants.js';
import { IPS_ASSURED } from '../ctnetlink/constants.js';
import { rawDump } from '../table/raw.js';
import { keyOfCompact, wideKeyOf } from './stream-evict.js';

const WORDS = 12;

/** Typed-array ring of victims (see the header for the slot layout). */
export class VictimRing {
  readonly capacity: number;
  private readonly w: Uint32Array;
  private head = 0;
  private n = 0;
  /** Victims overwritten before they were taken. */
  overwritten = 0;

  constructor(capacity = 65_536) {
    this.capacity = Math.max(1, capacity | 0);
    this.w = new Uint32Array(this.capacity * WORDS);
  }

  get size(): number {
    return this.n;
  }

  clear(): void {
    this.head = 0;
    this.n = 0;
  }

  /** Keep a lean-decoded entry (the newest). */
  push(e: CompactEntry): void {
    const o = this.head * WORDS;
    const w = this.w;
    const a = e.addr;
    for (let i = 0; i < 8; i++) w[o + i] = a[i]!;
    w[o + 8] = (e.family << 16) | (e.proto << 8) | (e.has & HAS_ID ? 1 : 0);
    w[o + 9] = ((e.sport << 16) | e.dport) >>> 0;
    w[o + 10] = e.zone;
    w[o + 11] = e.id >>> 0;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
    else this.overwritten++;
  }

  /** Take the newest victim into `f` (its addr is the ring's own array); false when empty. */
  pop(f: DeleteFields): boolean {
    if (this.n === 0) return false;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    this.n--;
    const o = this.head * WORDS;
    const w = this.w;
    const m = w[o + 8]!;
    f.family = m >>> 16;
    f.proto = (m >>> 8) & 0xff;
    f.hasId = (m & 1) !== 0;
    f.sport = w[o + 9]! >>> 16;
    f.dport = w[o + 9]! & 0xffff;
    f.zone = w[o + 10]!;
    f.id = w[o + 11]!;
    f.addr = w;
    f.addrBase = o;
    return true;
  }
}

/** Is the entry's original source in one of the heavy /16 (IPv6 /48) prefixes? */
export function inHeavyPrefix(e: CompactEntry, prefixes: ReadonlySet<string | number>): boolean {
  if (!(e.has & HAS_ORIG)) return false;
  if (e.family === 2) return prefixes.has(e.addr[0]! >>> 16);
  if (e.family !== 10) return false;
  return prefixes.has(wideKeyOf(keyOfCompact(e).orig!.src!));
}

/** A Conntrack with what a protect filter can look at, from a lean-decoded entry. */
export function conntrackOfCompact(e: CompactEntry): Conntrack {
  const key = keyOfCompact(e);
  const ct: Conntrack = { family: e.family, orig: key.orig!, status: e.status, mark: e.mark, zone: e.zone, id: e.id, timeout: e.timeout };
  if (e.proto === 6) ct.protoinfo = { tcp: { state: e.tcpState } };
  return ct;
}

export interface FloodEvictOptions {
  prefixes: ReadonlySet<string | number>;
  protect?: (ct: Conntrack) => boolean;
  /** Victims kept from NEW events (default 65,536). */
  capacity?: number;
  /** The NEW subscription's receive buffer (default 32 MiB). */
  receiveBufferSize?: number;
  /** Take victims from NEW events (default true); false: dumps only. */
  events?: boolean;
  /** Only ASSURED entries (default true: non-assured ones are early_drop's). */
  assuredOnly?: boolean;
  /** Delete messages per datagram (default 1024; at most what the socket send buffer takes: 2048 worked, 4096 failed with EMSGSIZE). */
  batch?: number;
}

export interface FloodRound extends DeleteCounts {
  /** Deletes sent for victims from events, and from the dump. */
  fromEvents: number;
  fromDump: number;
}

const EMPTY: DeleteCounts = { requested: 0, deleted: 0, missing: 0, failed: 0, errors: {}, repliesLost: false, seconds: 0 };

export class FloodEvictor {
  private readonly client: ConntrackClient;
  private readonly o: FloodEvictOptions;
  private readonly ring: VictimRing;
  private sub: Transport | undefined;
  private del: Transport | undefined;
  private keptAtLastRound = 0;
  private readonly e = new CompactEntry();
  private readonly f: DeleteFields = { family: 0, proto: 0, sport: 0, dport: 0, zone: 0, hasId: false, id: 0, addr: new Uint32Array(8), addrBase: 0 };
  /** NEW events seen, kept (heavy prefix, not protected), and overruns of the subscription. */
  readonly stats = { events: 0, kept: 0, overruns: 0, subscriptionError: undefined as string | undefined };

  constructor(client: ConntrackClient, o: FloodEvictOptions) {
    this.client = client;
    this.o = o;
    this.ring = new VictimRing(o.capacity ?? 65_536);
  }

  /** Subscribe to NEW events (unless `events: false`). */
  open(): this {
    if (this.o.events === false || this.sub) return this;
    const t = this.client.openTransport({ groups: [NFNLGRP_CONNTRACK_NEW], receiveBufferSize: this.o.receiveBufferSize ?? 32 * 1024 * 1024 });
    const e = this.e;
    const sink = (m: CompactEntry) => {
      if (m.kind !== COMPACT_CONNTRACK || m.event !== EV_NEW) return;
      this.stats.events++;
      if (this.eligible(m)) {
        this.ring.push(m);
        this.stats.kept++;
      }
    };
    t.onReceive(
      (items) => {
        for (const item of items) {
          if ('overrun' in item) {
            this.stats.overruns++;
            continue;
          }
          try {
            decodeCompactDatagram(item.data, e, sink);
          } catch {
            /* a datagram that does not decode: its victims are found by the dump */
          }
        }
      },
      (err) => {
        // Victims then come from dumps only (evict() sees no subscription).
        this.stats.subscriptionError = err.message;
        if (this.sub === t) this.sub = undefined;
        t.close();
      },
    );
    t.unref?.();
    this.sub = t;
    return this;
  }

  close(): void {
    this.sub?.close();
    this.sub = undefined;
    this.del?.close();
    this.del = undefined;
    this.ring.clear();
  }

  /** Victims waiting from events. */
  get queued(): number {
    return this.ring.size;
  }

  private eligible(m: CompactEntry): boolean {
    // Non-assured entries are the kernel's: when the table is full, early_drop evicts one of
    // them per new entry (the guard then stands by); taking them here would do its job at
    // the guard's CPU cost, and keep it from seeing that the kernel copes.
    if (this.o.assuredOnly !== false && !(m.status & IPS_ASSURED)) return false;
    if (!inHeavyPrefix(m, this.o.prefixes)) return false;
    return !this.o.protect?.(conntrackOfCompact(m));
  }

  /** Fill `ring` with up to `need` victims from one dump (cancelled once found). */
  private async fromDump(need: number, ring: VictimRing): Promise<void> {
    if (need <= 0) return;
    let cancelled = false;
    const d = rawDump(this.client, (m) => {
      if (cancelled || !this.eligible(m)) return;
      ring.push(m);
      if (ring.size >= need) {
        cancelled = true;
        d.cancel();
      }
    });
    try {
      await d.done;
    } catch (err) {
      if (!cancelled) throw err;
    }
  }

  /**
   * Delete up to `need` victims: from the events first, then (when `dump` and the events
   * had fewer than `minFromDump` short) from a dump. One pipeline per round.
   */
  async evict(need: number, opts: { dump?: boolean; minFromDump?: number; signal?: AbortSignal } = {}): Promise<FloodRound> {
    if (need <= 0) return { ...EMPTY, errors: {}, fromEvents: 0, fromDump: 0 };
    // One delete socket for the evictor's life (opening one in a namespace per round cost
    // more than the round's JS work); each round's pipeline takes over its receive callback.
    const t = (this.del ??= this.client.openTransport({ receiveBufferSize: 4 * 1024 * 1024 }));
    let fromEvents = 0;
    let fromDump = 0;
    // Events still coming in: a small shortfall is left to them (a dump per round for a few
    // hundred entries costs more than it gives); a large one, or no event since the last
    // round (a full table refuses the attacker's inserts: no NEW events), takes a dump.
    const flowing = this.sub !== undefined && this.stats.kept > this.keptAtLastRound;
    this.keptAtLastRound = this.stats.kept;
    try {
      const p = new DeletePipeline(t, { batch: Math.min(this.o.batch ?? 1024, need) });
      const drain = async (ring: VictimRing, n: number): Promise<number> => {
        let k = 0;
        while (k < n && !opts.signal?.aborted && ring.pop(this.f)) {
          let r = p.addFields(this.f);
          if (r === false) r = p.add(keyOfFields(this.f));
          k++;
          if (r) await r;
        }
        return k;
      };
      fromEvents = await drain(this.ring, need);
      const rest = need - fromEvents;
      const minFromDump = opts.minFromDump ?? (flowing ? 4096 : 1);
      if (opts.dump !== false && rest > 0 && rest >= minFromDump && !opts.signal?.aborted) {
        // The event victims are deleted before the dump starts (else it finds them again).
        await p.sendQueued();
        const local = new VictimRing(rest);
        await this.fromDump(rest, local);
        fromDump = await drain(local, rest);
      }
      const c = await p.finish();
      return { ...c, fromEvents, fromDump };
    } catch (e) {
      // The socket may be in any state: a fresh one next round.
      this.del?.close();
      this.del = undefined;
      throw e;
    }
  }
}

/** The general key of ring fields (protocols the compact writer does not take). */
function keyOfFields(f: DeleteFields): import('../ctnetlink/requests.js').EntryKey {
  const e = new CompactEntry();
  e.family = f.family;
  e.proto = f.proto;
  e.sport = f.sport;
  e.dport = f.dport;
  e.zone = f.zone;
  e.id = f.id;
  e.has = HAS_ORIG | (f.hasId ? HAS_ID : 0);
  for (let i = 0; i < 8; i++) e.addr[i] = f.addr[f.addrBase + i]!;
  const k = keyOfCompact(e);
  if (!f.hasId) delete k.id;
  return k;
}
