/**
 * TableSource: the MetricsSource of one namespace over the live table mirror
 * (ConntrackTable, src/table) and the pressure sampler (PressureSampler, src/pressure).
 * Nothing is counted here; every getter reads what those two already maintain:
 *
 *   getter              from
 *   counts()            table.aggregates: proto, state, assured / not assured, zone
 *   topSources(n)       table.top('source', n)   (cached topRefreshMs, default 1 s)
 *   topDestinationPorts table.top('dport', n)    (ports of TCP, UDP, UDP-Lite, SCTP, DCCP
 *                                                 together: the table counts by port only)
 *   events(), resyncs() table.counters (new, update, destroy, lost, overruns, resyncs)
 *   inSync()            table.inSync
 *   kernel()            the sampler's last PressureSample (per-CPU stats, buckets, slab
 *                       object size), taken every sampleIntervalMs (default 1 s)
 *   diagnoses()         the sampler's last PressureReport, its codes mapped to labels
 *
 * Resyncs after lost events are scheduled here, not by the table (autoResync off): at most
 * one per resyncIntervalMs (default 1 s), the wait doubling up to 30 s while each dump is
 * itself overtaken by new losses, so an overloaded exporter does not dump in a loop.
 */
import type { ConntrackClient } from '../client/client.js';
import { ConntrackTable } from '../table/table.js';
import type { Grouping } from '../table/aggregates.js';
import { PressureSampler } from '../pressure/sampler.js';
import type { DiagnosisCode, PressureReport } from '../pressure/analyze.js';
import type { Diagnosis, EventCounts, GroupCounts, KernelSample, MetricsSource, TopEntry } from './source.js';

export interface TableSourceOptions {
  /** The namespace followed (label value; the client must already be in it). */
  netns?: string;
  /** Kernel counters sampling period (default 1000 ms). */
  sampleIntervalMs?: number;
  /** Minimum time between two resync dumps after lost events (default 1000 ms). */
  resyncIntervalMs?: number;
  /** Top-N cache lifetime (default 1000 ms). */
  topRefreshMs?: number;
  /** Event socket receive buffer (default: the client's). */
  receiveBufferSize?: number;
  /** Called on a background failure (sampling, dump, socket); the source keeps trying. */
  onError?: (e: unknown) => void;
}

/** Longest wait between resync dumps while every dump is overtaken by new losses. */
const MAX_RESYNC_DELAY_MS = 30_000;

/** The pressure analysis' codes as the values of the ctevents_diagnosis label. */
const LABELS: Record<DiagnosisCode, Diagnosis> = {
  ok: 'ok',
  'assured-full': 'full_not_evictable',
  'non-assured-flood': 'non_assured_flood',
  'chains-too-long': 'chains_too_long',
  'gc-evicting': 'gc_evicting',
  'events-lost': 'events_lost',
};

/** Labels of a report: 'ok' at 90 % fill or more reads 'filling'. */
export function diagnosisLabels(r: PressureReport | undefined): Diagnosis[] {
  if (!r) return ['unknown'];
  return r.diagnosis.map((d) => (d.code === 'ok' && r.fillPercent >= 90 ? 'filling' : LABELS[d.code]));
}

export class TableSource implements MetricsSource {
  readonly netns: string | undefined;
  private readonly client: ConntrackClient;
  private readonly opts: TableSourceOptions;
  private table: ConntrackTable | undefined;
  private sampler: PressureSampler | undefined;
  private sample: KernelSample | undefined;
  private report: PressureReport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncDelay: number;
  private lastDumpAt = 0;
  private sampling = false;
  private stopped = false;
  private topCache: { at: number; n: number; src: TopEntry[]; dport: TopEntry[] } | undefined;

  constructor(client: ConntrackClient, opts: TableSourceOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.netns = opts.netns;
    this.resyncDelay = opts.resyncIntervalMs ?? 1000;
  }

  /** The mirror (undefined before start() resolved). */
  get mirror(): ConntrackTable | undefined {
    return this.table;
  }

  /** Open the table (subscribe, then dump) and take the first sample. */
  async start(): Promise<void> {
    const t = await ConntrackTable.open(this.client, {
      autoResync: false,
      ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
      ...(this.opts.receiveBufferSize !== undefined ? { receiveBufferSize: this.opts.receiveBufferSize } : {}),
    });
    if (this.stopped) {
      t.close();
      return;
    }
    this.table = t;
    this.lastDumpAt = Date.now();
    t.on('overrun', () => this.scheduleResync());
    t.on('resync', () => this.afterResync());
    t.on('error', (e) => this.opts.onError?.(e));
    if (!t.inSync) this.scheduleResync(); // lost events during the initial dump
    this.sampler = new PressureSampler(this.client, { table: t });
    await this.sampleNow();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.sampleNow(), this.opts.sampleIntervalMs ?? 1000);
  }

  /** Stop following; the client is the caller's to close. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.table?.close();
  }

  /** Hook for a guard running in this process: its action counts by name. */
  setGuardActions(fn: (() => ReadonlyMap<string, number>) | undefined): void {
    if (fn) this.guardActions = fn;
    else delete (this as { guardActions?: unknown }).guardActions;
  }
  guardActions?: () => ReadonlyMap<string, number>;

  // ------------------------------------------------------------------ resyncs

  private scheduleResync(): void {
    if (this.resyncTimer || this.stopped) return;
    const wait = Math.max(0, this.lastDumpAt + this.resyncDelay - Date.now());
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      if (this.stopped || !this.table) return;
      this.lastDumpAt = Date.now();
      this.table.resync('overrun').catch((e: unknown) => {
        this.opts.onError?.(e);
        this.scheduleResync();
      });
    }, wait);
  }

  /** After any dump: back in sync resets the wait; overtaken by new losses doubles it. */
  private afterResync(): void {
    const base = this.opts.resyncIntervalMs ?? 1000;
    if (this.table?.inSync) {
      this.resyncDelay = base;
    } else {
      this.resyncDelay = Math.min(this.resyncDelay * 2, Math.max(base, MAX_RESYNC_DELAY_MS));
      this.scheduleResync();
    }
    this.topCache = undefined;
  }

  // ------------------------------------------------------------------ kernel counters

  private async sampleNow(): Promise<void> {
    const sampler = this.sampler;
    if (this.sampling || this.stopped || !sampler) return;
    this.sampling = true;
    try {
      const r = await sampler.next();
      const p = sampler.lastSample!;
      this.report = r;
      this.sample = {
        entries: p.entries,
        max: p.max,
        cpus: p.cpus ?? [],
        ...(p.buckets !== undefined ? { buckets: p.buckets } : {}),
        ...(p.slabObjectSize !== undefined ? { entryBytes: p.slabObjectSize } : {}),
        sampledAt: Date.now(),
      };
    } catch (e) {
      if (!this.stopped) this.opts.onError?.(e);
    } finally {
      this.sampling = false;
    }
  }

  // ------------------------------------------------------------------ MetricsSource

  inSync(): boolean {
    return this.table?.inSync ?? false;
  }
  mirrorEntries(): number {
    return this.table?.size ?? 0;
  }
  resyncs(): number {
    return this.table?.counters.resyncs ?? 0;
  }
  counts(): GroupCounts {
    const t = this.table;
    if (!t) return { protocol: new Map(), tcpState: new Map(), assured: 0, notAssured: 0, zone: new Map() };
    const a = t.aggregates;
    const named = (g: Grouping) => {
      const m = new Map<string, number>();
      for (const [k, n] of a.entries(g)) m.set(a.keyText(g, k), n);
      return m;
    };
    return { protocol: named('proto'), tcpState: named('state'), assured: a.assured, notAssured: a.notAssured, zone: named('zone') };
  }
  private top(n: number): { src: TopEntry[]; dport: TopEntry[] } {
    const now = Date.now();
    const c = this.topCache;
    if (c && c.n === n && now - c.at < (this.opts.topRefreshMs ?? 1000)) return c;
    const t = this.table;
    const conv = (g: Grouping) => (t ? t.top(g, n).map((x) => ({ key: x.key, entries: x.count })) : []);
    const fresh = { at: now, n, src: conv('source'), dport: conv('dport') };
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
    const c = this.table?.counters;
    return c ? { new: c.new, update: c.update, destroy: c.destroy, lost: c.lost, overruns: c.overruns } : { new: 0, update: 0, destroy: 0, lost: 0, overruns: 0 };
  }
  kernel(): KernelSample | undefined {
    return this.sample;
  }
  diagnoses(): readonly Diagnosis[] {
    return diagnosisLabels(this.report);
  }
}
