/**
 * Top lists with per-key rates: TopRates remembers each grouping's counts at the previous
 * call, so every listed group gets its share of the table and the change of its count per
 * second since then (what `ctevents top` shows; usable by any consumer of the mirror).
 * Sorting by rate considers every key now and at the previous call (a group that vanished
 * has a negative rate).
 */
import type { ConntrackTable } from './table.js';
import { GROUPINGS, type GroupKey, type Grouping } from './aggregates.js';

export interface TopRow {
  key: string;
  count: number;
  share: number;
  rate: number;
}

/** Remembers each grouping's counts at the previous snapshot to give per-key rates. */
export class TopRates {
  private prev = new Map<Grouping, Map<GroupKey, number>>();
  private prevTime = 0;

  /** Top lists of the given groupings, with rates since the previous call. */
  lists(table: ConntrackTable, groupings: readonly Grouping[], limit: number, sortByRate = false): Record<Grouping, TopRow[]> {
    const now = performance.now();
    const dt = this.prevTime ? (now - this.prevTime) / 1000 : 0;
    const size = table.size;
    const out = {} as Record<Grouping, TopRow[]>;
    const agg = table.aggregates;
    for (const g of GROUPINGS) {
      if (!groupings.includes(g)) continue;
      const prev = this.prev.get(g);
      const rateOf = (raw: GroupKey, count: number) => (dt > 0 && prev ? Math.round(((count - (prev.get(raw) ?? 0)) / dt) * 100) / 100 : 0);
      let items;
      if (sortByRate && prev && dt > 0) {
        // Every key now and before, by rate (growth) first.
        const all = new Map<GroupKey, number>();
        for (const [k] of prev) all.set(k, 0);
        for (const [k, c] of agg.entries(g)) all.set(k, c);
        items = [...all].map(([raw, count]) => ({ raw, key: agg.keyText(g, raw), count, rate: rateOf(raw, count) }))
          .sort((a, b) => b.rate - a.rate || b.count - a.count).slice(0, limit);
      } else {
        items = agg.topRaw(g, limit).map((t) => ({ ...t, rate: rateOf(t.raw, t.count) }));
      }
      out[g] = items.map((t) => ({ key: t.key, count: t.count, share: size ? Math.round((t.count / size) * 10000) / 10000 : 0, rate: t.rate }));
      this.prev.set(g, new Map(agg.entries(g)));
    }
    this.prevTime = now;
    return out;
  }
}

