/**
 * LiveSource: a MetricsSource over one ConntrackClient (one namespace), with its own
 * minimal live state, so a scrape never talks to the kernel:
 *
 *   - an event subscription (new, update, destroy) opened FIRST, then a dump: events that
 *     arrive during the dump are held and applied after it, in order, so nothing falls in
 *     the gap; the counts (TableCounts) then follow the events, O(1) each;
 *   - on lost events (overrun) the mirror is out of sync: a new dump builds a fresh
 *     TableCounts (events held again meanwhile) that replaces the old one; at most one
 *     resync per `resyncIntervalMs`, doubling (up to 30 s) while every dump is itself
 *     overtaken by new losses, so an overloaded exporter does not dump in a loop;
 *   - the kernel counters (CT_GET_STATS, CT_GET_STATS_CPU, nf_conntrack_buckets, the
 *     nf_conntrack slab object size) sampled on a timer (default every 1 s), and the
 *     diagnosis derived from the change between two samples;
 *   - top-N recomputed at most once per `topRefreshMs` (default 1 s), not per scrape.
 */
import { readFileSync } from 'node:fs';
import type { ConntrackClient } from '../client/client.js';
import type { EventItem, Subscription } from '../client/events.js';
import type { Conntrack } from '../ctnetlink/model.js';
import type { Diagnosis, EventCounts, GroupCounts, KernelSample, MetricsSource, TopEntry } from './source.js';
import { TableCounts } from './table-counts.js';

export interface LiveSourceOptions {
  netns?: string;
  /** Kernel counters sampling period (default 1000 ms). */
  sampleIntervalMs?: number;
  /** Minimum time between two resync dumps (default 1000 ms). */
  resyncIntervalMs?: number;
  /** Top-N cache lifetime (default 1000 ms). */
  topRefreshMs?: number;
  /** Event socket receive buffer (default: the client's, 64 MiB). */
  receiveBufferSize?: number;
  /** Called on a background failure (sampling, dump); the source keeps trying. */
  onError?: (e: unknown) => void;
}

/** nf_conntrack_buckets (global; readable in every namespace). */
export function readBuckets(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_buckets', 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The object size of the nf_conntrack slab cache from /proc/slabinfo (root only). */
export function readEntryObjectSize(slabinfo?: string): number | undefined {
  let text = slabinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/slabinfo', 'latin1');
    } catch {
      return undefined;
    }
  }
  const m = /^nf_conntrack\s+\d+\s+\d+\s+(\d+)\s/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Events applied per event-loop turn: bounds how long a scrape can wait behind them. */
const SLICE = 4096;
/** Longest wait between resync dumps when every dump is overtaken by new losses. */
const MAX_RESYNC_DELAY_MS = 30_000;
const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

export class LiveSource implements MetricsSource {
  readonly netns: string | undefined;
  private readonly client: ConntrackClient;
  private readonly opts: LiveSourceOptions;
  private table = new TableCounts();
  /** Events held while a dump runs; undefined when no dump runs. */
  private held: EventItem[] | undefined;
  private lostSinceDump = false;
  private synced = false;
  private resyncCount = 0;
  private dumps = 0;
  private lastDumpAt = 0;
  private resyncDelay: number;
  private readonly ev: EventCounts = { new: 0, update: 0, destroy: 0, lost: 0, overruns: 0 };
  private sample: KernelSample | undefined;
  private previous: KernelSample | undefined;
  private diag: Diagnosis = 'unknown';
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private sampling = false;
  private topCache: { at: number; n: number; src: TopEntry[]; dport: TopEntry[] } | undefined;
  private entryBytes: number | undefined;
  private entryBytesAt = 0;
  /** Resolves after the first dump was applied. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;

  constructor(client: ConntrackClient, opts: LiveSourceOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.netns = opts.netns;
    this.resyncDelay = opts.resyncIntervalMs ?? 1000;
    this.ready = new Promise((r) => (this.resolveReady = r));
  }

  /** Subscribe, dump, start sampling. Resolves once the first sample was taken. */
  async start(): Promise<void> {
    this.sub = this.client.events({
      types: ['new', 'update', 'destroy'],
      ...(this.opts.receiveBufferSize !== undefined ? { receiveBufferSize: this.opts.receiveBufferSize } : {}),
    });
    void this.follow(this.sub);
    await this.sampleNow();
    this.timer = setInterval(() => void this.sampleNow(), this.opts.sampleIntervalMs ?? 1000);
    void this.rebuild();
  }

  /** Stop following; the client is the caller's to close. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.sub?.close();
  }

  /** Hook for a guard running in this process: its action counts by name. */
  setGuardActions(fn: (() => ReadonlyMap<string, number>) | undefined): void {
    if (fn) this.guardActions = fn;
    else delete (this as { guardActions?: unknown }).guardActions;
  }
  guardActions?: () => ReadonlyMap<string, number>;

  // ------------------------------------------------------------------ events and dumps

  private async follow(sub: Subscription): Promise<void> {
    try {
      while (!this.stopped) {
        await sub.wait();
        const items = sub.drain();
        if (items.length === 0 && sub.isEnded) break;
        // Apply in slices, giving the event loop (scrapes) a turn between them.
        for (let i = 0; i < items.length; i += SLICE) {
          const end = Math.min(i + SLICE, items.length);
          if (this.held) {
            for (let j = i; j < end; j++) this.held.push(items[j]!);
            this.countOnly(items, i, end);
          } else {
            this.apply(items, this.table, true, i, end);
          }
          if (end < items.length) await yieldTurn();
        }
      }
    } catch (e) {
      this.opts.onError?.(e);
    }
    if (!this.stopped) {
      this.synced = false;
      this.opts.onError?.(new Error('the event subscription ended'));
    }
  }

  /** Count events and notice losses while a dump holds them back. */
  private countOnly(items: EventItem[], start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const it = items[i]!;
      if (it.kind === 'event') this.ev[it.type]++;
      else if (it.kind === 'overrun') this.loss(it.lost);
    }
  }

  private loss(lost: number | undefined): void {
    this.ev.overruns++;
    this.ev.lost += lost ?? 0;
    this.synced = false;
    this.lostSinceDump = true;
    this.scheduleResync();
  }

  private apply(items: EventItem[], table: TableCounts, count: boolean, start = 0, end = items.length): void {
    for (let i = start; i < end; i++) {
      const it = items[i]!;
      if (it.kind === 'event') {
        if (count) this.ev[it.type]++;
        if (it.type === 'destroy') table.remove(it.conntrack);
        else table.upsert(it.conntrack);
      } else if (it.kind === 'overrun' && count) {
        this.loss(it.lost);
      }
    }
  }

  private scheduleResync(): void {
    if (this.held || this.resyncTimer || this.stopped) return;
    const wait = Math.max(0, this.lastDumpAt + this.resyncDelay - Date.now());
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      void this.rebuild();
    }, wait);
  }

  /** Dump into a fresh TableCounts while holding events; then apply them and swap. */
  private async rebuild(): Promise<void> {
    if (this.held || this.stopped) return;
    this.held = [];
    this.lostSinceDump = false;
    this.lastDumpAt = Date.now();
    const fresh = new TableCounts();
    let ok = false;
    try {
      for await (const batch of this.client.dumpBatches()) {
        for (const e of batch) fresh.upsert(e as Conntrack);
        if (this.stopped) return;
      }
      ok = true;
    } catch (e) {
      this.opts.onError?.(e);
    }
    if (this.stopped) return;
    if (!ok) {
      this.held = undefined;
      this.synced = false;
      this.lostSinceDump = true;
      this.scheduleResync();
      return;
    }
    // Apply the held events in slices (more may arrive meanwhile: catch up), then swap.
    for (let i = 0; i < this.held.length; ) {
      const end = Math.min(i + SLICE, this.held.length);
      this.apply(this.held, fresh, false, i, end);
      i = end;
      if (i < this.held.length) await yieldTurn();
      if (this.stopped) return;
    }
    this.held = undefined;
    this.table = fresh;
    this.topCache = undefined;
    if (this.dumps++ > 0) this.resyncCount++;
    const base = this.opts.resyncIntervalMs ?? 1000;
    if (this.lostSinceDump) {
      this.synced = false;
      this.resyncDelay = Math.min(this.resyncDelay * 2, Math.max(base, MAX_RESYNC_DELAY_MS));
      this.scheduleResync();
    } else {
      this.synced = true;
      this.resyncDelay = base;
    }
    this.resolveReady();
  }

  // ------------------------------------------------------------------ kernel counters

  private async sampleNow(): Promise<void> {
    if (this.sampling || this.stopped) return;
    this.sampling = true;
    try {
      const [g, cpus] = await Promise.all([this.client.stats(), this.client.statsPerCpu()]);
      const now = Date.now();
      if (this.entryBytes === undefined || now - this.entryBytesAt > 60_000) {
        this.entryBytes = readEntryObjectSize() ?? this.entryBytes;
        this.entryBytesAt = now;
      }
      const buckets = readBuckets();
      const s: KernelSample = {
        entries: g.entries ?? 0,
        max: g.maxEntries ?? 0,
        cpus,
        ...(buckets !== undefined ? { buckets } : {}),
        ...(this.entryBytes !== undefined ? { entryBytes: this.entryBytes } : {}),
        sampledAt: now,
      };
      this.previous = this.sample;
      this.sample = s;
      this.diag = diagnose(this.previous, s);
    } catch (e) {
      if (!this.stopped) this.opts.onError?.(e);
    } finally {
      this.sampling = false;
    }
  }

  // ------------------------------------------------------------------ MetricsSource

  inSync(): boolean {
    return this.synced;
  }
  mirrorEntries(): number {
    return this.table.size;
  }
  resyncs(): number {
    return this.resyncCount;
  }
  counts(): GroupCounts {
    const t = this.table;
    return { protocol: t.byProtocol(), tcpState: t.byTcpState(), assured: t.assuredCount(), notAssured: t.size - t.assuredCount(), zone: t.byZone() };
  }
  private top(n: number): { src: TopEntry[]; dport: TopEntry[] } {
    const now = Date.now();
    const c = this.topCache;
    if (c && c.n === n && now - c.at < (this.opts.topRefreshMs ?? 1000)) return c;
    const fresh = { at: now, n, src: this.table.topSources(n), dport: this.table.topDestinationPorts(n) };
    this.topCache = fresh;
    return fresh;
  }
  topSources(n: number): readonly TopEntry[] {
    return this.top(n).src;
  }
  topDestinationPorts(n: number): readonly TopEntry[] {
    return this.top(n).dport;
  }
  events(): EventCounts {
    return { ...this.ev };
  }
  kernel(): KernelSample | undefined {
    return this.sample;
  }
  diagnosis(): Diagnosis {
    return this.diag;
  }
}

function delta(a: KernelSample, b: KernelSample, key: 'drop' | 'earlyDrop' | 'chainTooLong'): number {
  let sa = 0;
  let sb = 0;
  for (const c of a.cpus) sa += c[key] ?? 0;
  for (const c of b.cpus) sb += c[key] ?? 0;
  return sb - sa;
}

/**
 * From two consecutive samples (dos.md): chaintoolong rising = too few buckets; drop
 * rising with early_drop flat while (nearly) full = full of entries the kernel may not
 * evict; early_drop rising = a non-assured flood the kernel copes with; 90 % or more =
 * filling; otherwise ok.
 */
export function diagnose(prev: KernelSample | undefined, cur: KernelSample): Diagnosis {
  const fill = cur.max > 0 ? cur.entries / cur.max : 0;
  if (!prev) return fill >= 0.9 ? 'filling' : 'ok';
  if (delta(prev, cur, 'chainTooLong') > 0) return 'chains_too_long';
  const drop = delta(prev, cur, 'drop');
  const early = delta(prev, cur, 'earlyDrop');
  if (drop > 0 && early === 0 && fill >= 0.9) return 'full_not_evictable';
  if (early > 0) return 'non_assured_flood';
  if (fill >= 0.9) return 'filling';
  return 'ok';
}
