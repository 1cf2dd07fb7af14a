/**
 * PressureSampler: gathers PressureSamples (GET_STATS, GET_STATS_CPU, buckets, slab object
 * size, the mirror's counters) and turns consecutive ones into PressureReports.
 *
 *   const sampler = new PressureSampler(client, { table });
 *   setInterval(async () => console.log((await sampler.next()).diagnosis), 1000);
 *
 * nf_conntrack_buckets and /proc/slabinfo are global (not per namespace): read in our own
 * namespace. A missing file leaves the value undefined (the analysis says so).
 */
import { readFileSync } from 'node:fs';
import type { CpuStats } from '../ctnetlink/model.js';
import type { ConntrackClient } from '../client/client.js';
import type { ConntrackTable } from '../table/table.js';
import { analyze, zeroTotals, type CpuTotals, type PressureReport, type PressureSample } from './analyze.js';

/** objsize of the nf_conntrack slab cache, from /proc/slabinfo text. */
export function parseSlabObjectSize(text: string): number | undefined {
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'nf_conntrack' && w.length > 3) {
      const n = Number(w[3]);
      return Number.isFinite(n) && n > 0 ? n : undefined;
    }
  }
  return undefined;
}

export function readSlabObjectSize(path = '/proc/slabinfo'): number | undefined {
  try {
    return parseSlabObjectSize(readFileSync(path, 'latin1'));
  } catch {
    return undefined;
  }
}

export function readBuckets(path = '/proc/sys/net/netfilter/nf_conntrack_buckets'): number | undefined {
  try {
    const n = Number(readFileSync(path, 'latin1').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Sum per-CPU counters under their kernel names. */
export function sumCpuStats(cpus: readonly CpuStats[]): CpuTotals {
  const t = zeroTotals();
  for (const c of cpus) {
    t.found += c.found ?? 0;
    t.invalid += c.invalid ?? 0;
    t.insert += c.insert ?? 0;
    t.insert_failed += c.insertFailed ?? 0;
    t.drop += c.drop ?? 0;
    t.early_drop += c.earlyDrop ?? 0;
    t.error += c.error ?? 0;
    t.search_restart += c.searchRestart ?? 0;
    t.clash_resolve += c.clashResolve ?? 0;
    t.chaintoolong += c.chainTooLong ?? 0;
  }
  return t;
}

export interface SamplerOptions {
  /** The mirror: gives new/destroyed rates, lost events, GC evictions, assured share. */
  table?: ConntrackTable;
}

export class PressureSampler {
  private readonly client: ConntrackClient;
  private readonly table: ConntrackTable | undefined;
  private readonly slab = readSlabObjectSize();
  private prev: PressureSample | undefined;
  /** The last report (undefined before the first next()). */
  last: PressureReport | undefined;

  /** The sample the last report was computed from. */
  get lastSample(): PressureSample | undefined {
    return this.prev;
  }

  constructor(client: ConntrackClient, opts: SamplerOptions = {}) {
    this.client = client;
    this.table = opts.table;
  }

  /** One sample now. */
  async sample(): Promise<PressureSample> {
    const [g, cpus] = await Promise.all([this.client.stats(), this.client.statsPerCpu()]);
    const s: PressureSample = { timeMs: performance.now(), entries: g.entries ?? 0, max: g.maxEntries ?? 0, stats: sumCpuStats(cpus), cpus };
    const b = readBuckets();
    if (b !== undefined) s.buckets = b;
    if (this.slab !== undefined) s.slabObjectSize = this.slab;
    const t = this.table;
    if (t) {
      const c = t.counters;
      s.mirror = {
        size: t.size, new: c.new, destroy: c.destroy, lost: c.lost, destroyedUnexpired: c.destroyedUnexpired,
        inSync: t.inSync, assured: t.aggregates.assured, notAssured: t.aggregates.notAssured,
      };
    }
    return s;
  }

  /** Sample and analyse against the previous sample (the first report has no rates). */
  async next(): Promise<PressureReport> {
    const cur = await this.sample();
    const r = analyze(this.prev, cur);
    this.prev = cur;
    this.last = r;
    return r;
  }
}
