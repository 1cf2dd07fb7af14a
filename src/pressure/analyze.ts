/**
 * Pressure analysis: pure functions from two samples to a report. No I/O here (the
 * sampler in sampler.ts gathers the samples), so every rule is unit-tested on synthetic
 * numbers.
 *
 * Inputs and their kernel sources (see /work/shared/reference/dos.md):
 *   entries, max        IPCTNL_MSG_CT_GET_STATS (CTA_STATS_GLOBAL_ENTRIES / _MAX_ENTRIES)
 *   per-CPU counters    IPCTNL_MSG_CT_GET_STATS_CPU, summed over CPUs
 *   buckets             /proc/sys/net/netfilter/nf_conntrack_buckets
 *   object size         /proc/slabinfo, the nf_conntrack cache's objsize
 *   mirror counters     ConntrackTable: NEW/DESTROY events, lost messages, DESTROYs of
 *                       entries that still had time left, assured / not assured counts
 *
 * Diagnosis rules (each comes with the numbers that support it):
 *   assured-full       drop rising, early_drop flat, table (nearly) full: early_drop may not
 *                      evict ASSURED entries
 *   non-assured-flood  early_drop rising: the kernel is evicting non-assured entries
 *   chains-too-long    chaintoolong rising, or max above 4 x buckets
 *   gc-evicting        at >= 95 % fill, DESTROYs of unexpired entries beyond early_drop: the GC
 *                      worker's early drop (no stat counts it)
 *   events-lost        this listener lost events (the mirror resyncs)
 */

import type { CpuStats } from '../ctnetlink/model.js';

/** Per-CPU counters summed (kernel names). */
export interface CpuTotals {
  found: number;
  invalid: number;
  insert: number;
  insert_failed: number;
  drop: number;
  early_drop: number;
  error: number;
  search_restart: number;
  clash_resolve: number;
  chaintoolong: number;
}

export const CPU_COUNTERS: readonly (keyof CpuTotals)[] = ['found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong'];

export interface MirrorCounters {
  size: number;
  new: number;
  destroy: number;
  lost: number;
  destroyedUnexpired: number;
  inSync: boolean;
  assured: number;
  notAssured: number;
}

export interface PressureSample {
  /** ms, any monotonic clock */
  timeMs: number;
  entries: number;
  max: number;
  buckets?: number;
  /** nf_conntrack slab object size, bytes */
  slabObjectSize?: number;
  stats: CpuTotals;
  /** The per-CPU counters the totals were summed from (kept by PressureSampler). */
  cpus?: readonly CpuStats[];
  mirror?: MirrorCounters;
}

/** Per second over the interval. new/destroyed come from the mirror's events (null without one). */
export interface PressureRates {
  new: number | null;
  destroyed: number | null;
  drop: number;
  early_drop: number;
  insert_failed: number;
  clash_resolve: number;
  chaintoolong: number;
}

export type DiagnosisCode = 'assured-full' | 'non-assured-flood' | 'chains-too-long' | 'gc-evicting' | 'events-lost' | 'ok';

export interface Diagnosis {
  code: DiagnosisCode;
  text: string;
  numbers: Record<string, number>;
}

export interface SizingAdvice {
  /** sysctl to change */
  setting: 'nf_conntrack_max' | 'nf_conntrack_buckets';
  value: number;
  /** Extra memory it would cost at full use, bytes (negative: saves). */
  memoryBytes: number;
  text: string;
}

export interface Sizing {
  /** Slab object size used (bytes; 256 when /proc/slabinfo could not tell) */
  bytesPerEntry: number;
  /** Entries at max plus the bucket array (8 bytes per bucket) */
  bytesAtMax: number;
  bucketBytes: number;
  /** buckets / max */
  bucketsPerMax: number | null;
  advice: SizingAdvice[];
}

export interface PressureReport {
  entries: number;
  max: number;
  buckets: number | null;
  fillPercent: number;
  /** Entries per second (growth of the count over the interval) */
  fillRatePerSec: number;
  /** At the current fill rate; null when not filling */
  secondsToFull: number | null;
  entriesPerBucket: number | null;
  intervalSec: number;
  rates: PressureRates;
  /** Counter deltas over the interval */
  stats: CpuTotals;
  diagnosis: Diagnosis[];
  sizing: Sizing;
}

export const DEFAULT_OBJECT_SIZE = 256;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function zeroTotals(): CpuTotals {
  return { found: 0, invalid: 0, insert: 0, insert_failed: 0, drop: 0, early_drop: 0, error: 0, search_restart: 0, clash_resolve: 0, chaintoolong: 0 };
}

/** Sizing from max, buckets and the object size; `peak` (entries) shapes the advice. */
export function sizing(max: number, buckets: number | undefined, objectSize: number | undefined, fillPercent: number, pressure: boolean): Sizing {
  const per = objectSize ?? DEFAULT_OBJECT_SIZE;
  const b = buckets ?? 0;
  const out: Sizing = {
    bytesPerEntry: per,
    bytesAtMax: max * per + b * 8,
    bucketBytes: b * 8,
    bucketsPerMax: buckets && max ? round(buckets / max, 3) : null,
    advice: [],
  };
  if (pressure || fillPercent >= 80) {
    const nmax = max * 2;
    out.advice.push({
      setting: 'nf_conntrack_max', value: nmax, memoryBytes: (nmax - max) * per,
      text: `raise nf_conntrack_max to ${nmax}: up to ${mib((nmax - max) * per)} more slab when full`,
    });
    if (buckets !== undefined && buckets < nmax) {
      out.advice.push({
        setting: 'nf_conntrack_buckets', value: nmax, memoryBytes: (nmax - buckets) * 8,
        text: `and nf_conntrack_buckets to ${nmax} (initial namespace only; rehashes under locks, do it before an attack): ${mib((nmax - buckets) * 8)}`,
      });
    }
  } else if (buckets !== undefined && max > 4 * buckets) {
    out.advice.push({
      setting: 'nf_conntrack_buckets', value: max, memoryBytes: (max - buckets) * 8,
      text: `raise nf_conntrack_buckets to ${max} (one bucket per entry at max): ${mib((max - buckets) * 8)}`,
    });
  }
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** The report for the interval prev -> cur (without prev: counters since boot are not rates; rates are 0). */
export function analyze(prev: PressureSample | undefined, cur: PressureSample): PressureReport {
  const dt = prev ? Math.max((cur.timeMs - prev.timeMs) / 1000, 1e-3) : 0;
  const delta = zeroTotals();
  if (prev) for (const k of CPU_COUNTERS) delta[k] = Math.max(0, cur.stats[k] - prev.stats[k]);
  const per = (n: number) => (dt > 0 ? round(n / dt) : 0);
  const pm = prev?.mirror;
  const cm = cur.mirror;
  const rates: PressureRates = {
    new: cm && pm ? per(cm.new - pm.new) : null,
    destroyed: cm && pm ? per(cm.destroy - pm.destroy) : null,
    drop: per(delta.drop),
    early_drop: per(delta.early_drop),
    insert_failed: per(delta.insert_failed),
    clash_resolve: per(delta.clash_resolve),
    chaintoolong: per(delta.chaintoolong),
  };
  const fill = cur.max > 0 ? (cur.entries / cur.max) * 100 : 0;
  const fillRate = prev ? per(cur.entries - prev.entries) : 0;
  const left = cur.max - cur.entries;
  const secondsToFull = fillRate > 0 ? (left > 0 ? round(left / fillRate, 1) : 0) : null;
  const diagnosis: Diagnosis[] = [];
  const fillR = round(fill);

  if (rates.drop > 0 && rates.early_drop <= rates.drop * 0.05 && fill >= 90) {
    const n: Record<string, number> = { fillPercent: fillR, dropPerSec: rates.drop, earlyDropPerSec: rates.early_drop };
    if (cm) n.assuredPercent = cm.size ? round((cm.assured / cm.size) * 100) : 0;
    diagnosis.push({
      code: 'assured-full',
      text: `table full of ASSURED entries: early_drop cannot evict (drop rising ${rates.drop}/s, early_drop flat ${rates.early_drop}/s, fill ${fillR} %${n.assuredPercent !== undefined ? `, ${n.assuredPercent} % assured` : ''})`,
      numbers: n,
    });
  }
  if (rates.early_drop > 0) {
    const coping = rates.drop <= rates.early_drop * 0.05;
    diagnosis.push({
      code: 'non-assured-flood',
      text: coping
        ? `non-assured flood: early_drop is coping (early_drop ${rates.early_drop}/s, drop ${rates.drop}/s, fill ${fillR} %)`
        : `non-assured flood: early_drop is evicting but packets are still dropped (early_drop ${rates.early_drop}/s, drop ${rates.drop}/s)`,
      numbers: { earlyDropPerSec: rates.early_drop, dropPerSec: rates.drop, fillPercent: fillR },
    });
  }
  const ratio = cur.buckets ? cur.max / cur.buckets : 0;
  if (rates.chaintoolong > 0 || ratio > 4) {
    diagnosis.push({
      code: 'chains-too-long',
      text: `chains too long: buckets too few for max (chaintoolong ${rates.chaintoolong}/s, max/buckets ${round(ratio)}, ${cur.buckets ? round(cur.entries / cur.buckets) : '?'} entries per bucket now)`,
      numbers: { chaintoolongPerSec: rates.chaintoolong, maxPerBucket: round(ratio), entriesPerBucket: cur.buckets ? round(cur.entries / cur.buckets) : 0 },
    });
  }
  if (cm && pm && fill >= 94) {
    const unexpired = cm.destroyedUnexpired - pm.destroyedUnexpired;
    const gc = unexpired - delta.early_drop;
    if (gc > 0) {
      diagnosis.push({
        code: 'gc-evicting',
        text: `GC evicting: ${per(gc)}/s entries destroyed before their timeout beyond early_drop, at ${fillR} % fill (the GC worker's early drop above 95 %)`,
        numbers: { gcEvictionsPerSec: per(gc), unexpiredDestroysPerSec: per(unexpired), earlyDropPerSec: rates.early_drop, fillPercent: fillR },
      });
    }
  }
  if (cm && (!cm.inSync || (pm && cm.lost > pm.lost))) {
    const lost = pm ? cm.lost - pm.lost : cm.lost;
    diagnosis.push({
      code: 'events-lost',
      text: `events lost by this listener: ${lost} in the interval (${cm.lost} in all); the mirror ${cm.inSync ? 'has resynced' : 'is resyncing'}`,
      numbers: { lost, lostTotal: cm.lost },
    });
  }
  if (diagnosis.length === 0) {
    diagnosis.push({
      code: 'ok',
      text: `no pressure: ${fillR} % full${rates.new !== null ? `, ${rates.new} new/s` : ''}, no drops`,
      numbers: { fillPercent: fillR },
    });
  }
  const pressure = rates.drop > 0 || rates.early_drop > 0;
  return {
    entries: cur.entries,
    max: cur.max,
    buckets: cur.buckets ?? null,
    fillPercent: fillR,
    fillRatePerSec: fillRate,
    secondsToFull,
    entriesPerBucket: cur.buckets ? round(cur.entries / cur.buckets, 3) : null,
    intervalSec: round(dt, 3),
    rates,
    stats: delta,
    diagnosis,
    sizing: sizing(cur.max, cur.buckets, cur.slabObjectSize, fill, pressure),
  };
}
