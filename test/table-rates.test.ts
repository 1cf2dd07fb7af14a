/**
 * TopRates without a kernel: shares, per-key rates between two calls, and sorting by rate
 * (a group that vanished has a negative rate).
 */
import { describe, expect, it, vi } from 'vitest';
import { Aggregates } from '../src/table/aggregates.js';
import { TopRates } from '../src/table/rates.js';
import type { ConntrackTable } from '../src/table/table.js';

describe('TopRates', () => {
  it('gives shares and per-second rates since the previous call', () => {
    const agg = new Aggregates();
    const table = { aggregates: agg, size: 0 } as unknown as ConntrackTable & { size: number };
    const set = (port: number, n: number) => (agg.dport[port] = n);
    set(53, 10);
    set(80, 5);
    (table as { size: number }).size = 15;
    let now = 1000;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const r = new TopRates();
      const first = r.lists(table, ['dport'], 10);
      expect(first.dport).toEqual([
        { key: '53', count: 10, share: 0.6667, rate: 0 },
        { key: '80', count: 5, share: 0.3333, rate: 0 },
      ]);
      now += 2000;
      set(53, 14);
      set(80, 0);
      set(443, 6);
      (table as { size: number }).size = 20;
      const second = r.lists(table, ['dport'], 10);
      expect(second.dport).toEqual([
        { key: '53', count: 14, share: 0.7, rate: 2 },
        { key: '443', count: 6, share: 0.3, rate: 3 },
      ]);
      now += 1000;
      set(443, 16);
      const byRate = r.lists(table, ['dport'], 10, true);
      expect(byRate.dport!.map((x) => [x.key, x.rate])).toEqual([['443', 10], ['53', 0]]);
      now += 1000;
      set(443, 0);
      const gone = r.lists(table, ['dport'], 10, true);
      expect(gone.dport!.map((x) => [x.key, x.count, x.rate])).toEqual([['53', 14, 0], ['443', 0, -16]]);
    } finally {
      spy.mockRestore();
    }
  });
});
