/**
 * Pressure analysis on synthetic samples: every diagnosis rule, rates, time to full and
 * the sizing advice; slabinfo parsing.
 */
import { describe, expect, it } from 'vitest';
import { analyze, zeroTotals, type CpuTotals, type MirrorCounters, type PressureSample } from '../src/pressure/analyze.js';
import { parseSlabObjectSize, sumCpuStats } from '../src/pressure/sampler.js';

function sample(timeMs: number, entries: number, stats: Partial<CpuTotals> = {}, mirror?: Partial<MirrorCounters>, max = 1000, buckets = 1000): PressureSample {
  const s: PressureSample = { timeMs, entries, max, buckets, slabObjectSize: 256, stats: { ...zeroTotals(), ...stats } };
  if (mirror) s.mirror = { size: entries, new: 0, destroy: 0, lost: 0, destroyedUnexpired: 0, inSync: true, assured: 0, notAssured: entries, ...mirror };
  return s;
}

const codes = (r: ReturnType<typeof analyze>) => r.diagnosis.map((d) => d.code);

describe('pressure analysis', () => {
  it('quiet table: ok, rates, fill rate and time to full', () => {
    const r = analyze(sample(0, 100, {}, { new: 0 }), sample(2000, 300, {}, { new: 400, destroy: 200 }));
    expect(codes(r)).toEqual(['ok']);
    expect(r.fillPercent).toBe(30);
    expect(r.fillRatePerSec).toBe(100);
    expect(r.secondsToFull).toBe(7);
    expect(r.rates.new).toBe(200);
    expect(r.rates.destroyed).toBe(100);
    expect(r.entriesPerBucket).toBe(0.3);
    expect(r.sizing.bytesAtMax).toBe(1000 * 256 + 1000 * 8);
    expect(r.sizing.bucketsPerMax).toBe(1);
    expect(r.sizing.advice).toEqual([]);
  });

  it('full of ASSURED entries: drop rising, early_drop flat', () => {
    const r = analyze(sample(0, 1000, { drop: 10 }, { assured: 990 }), sample(1000, 1000, { drop: 510 }, { assured: 990 }));
    expect(codes(r)).toContain('assured-full');
    const d = r.diagnosis.find((x) => x.code === 'assured-full')!;
    expect(d.numbers).toMatchObject({ dropPerSec: 500, earlyDropPerSec: 0, fillPercent: 100, assuredPercent: 99 });
    expect(d.text).toMatch(/table full of ASSURED entries: early_drop cannot evict \(drop rising 500\/s, early_drop flat 0\/s/);
    expect(r.secondsToFull).toBe(null);
    expect(r.sizing.advice.map((a) => a.setting)).toEqual(['nf_conntrack_max', 'nf_conntrack_buckets']);
    expect(r.sizing.advice[0]).toMatchObject({ value: 2000, memoryBytes: 1000 * 256 });
  });

  it('non-assured flood: early_drop is coping', () => {
    const r = analyze(sample(0, 1000, { early_drop: 0 }), sample(1000, 1000, { early_drop: 3000 }));
    expect(codes(r)).toEqual(['non-assured-flood']);
    expect(r.diagnosis[0]!.text).toMatch(/early_drop is coping/);
    expect(r.rates.early_drop).toBe(3000);
  });

  it('chains too long: chaintoolong rising or max far above buckets', () => {
    expect(codes(analyze(sample(0, 10, {}), sample(1000, 10, { chaintoolong: 5, insert_failed: 5 })))).toEqual(['chains-too-long']);
    const r = analyze(undefined, sample(0, 10, {}, undefined, 65536, 1024));
    expect(codes(r)).toEqual(['chains-too-long']);
    expect(r.diagnosis[0]!.numbers.maxPerBucket).toBe(64);
    expect(r.sizing.advice[0]).toMatchObject({ setting: 'nf_conntrack_buckets', value: 65536, memoryBytes: (65536 - 1024) * 8 });
  });

  it('GC evicting: unexpired DESTROYs beyond early_drop near 95 %', () => {
    const r = analyze(sample(0, 960, {}, { destroyedUnexpired: 0 }), sample(1000, 960, { early_drop: 10 }, { destroyedUnexpired: 266 }));
    expect(codes(r)).toContain('gc-evicting');
    expect(r.diagnosis.find((d) => d.code === 'gc-evicting')!.numbers.gcEvictionsPerSec).toBe(256);
    // Not near full: no such diagnosis.
    expect(codes(analyze(sample(0, 500, {}, {}), sample(1000, 500, {}, { destroyedUnexpired: 300 })))).toEqual(['ok']);
  });

  it('events lost by this listener', () => {
    const r = analyze(sample(0, 10, {}, { lost: 0 }), sample(1000, 10, {}, { lost: 42, inSync: false }));
    expect(codes(r)).toEqual(['events-lost']);
    expect(r.diagnosis[0]!.numbers).toEqual({ lost: 42, lostTotal: 42 });
  });

  it('first sample: no rates', () => {
    const r = analyze(undefined, sample(0, 10, { drop: 100 }));
    expect(r.rates.drop).toBe(0);
    expect(r.rates.new).toBe(null);
  });

  it('parses slabinfo and sums per-CPU counters', () => {
    expect(parseSlabObjectSize('slabinfo - version: 2.1\nfoo 1 2 3\nnf_conntrack         128    208    256   16    1 : tunables\n')).toBe(256);
    expect(parseSlabObjectSize('nothing\n')).toBe(undefined);
    expect(sumCpuStats([{ cpu: 0, drop: 1, earlyDrop: 2, chainTooLong: 3 }, { cpu: 1, drop: 4, insertFailed: 5 }])).toMatchObject({ drop: 5, early_drop: 2, chaintoolong: 3, insert_failed: 5 });
  });
});
