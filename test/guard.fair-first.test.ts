/**
 * The table-backed guard's ranking (src/guard/fair-first.ts) on constructed entries:
 * closing and idle non-assured entries from anyone first, then fairness over /16 before
 * idle time, so a busy legitimate prefix that only looks idle keeps its entries while a
 * prefix over its share gives (fresh entries included), interleaved.
 */
import { describe, expect, it } from 'vitest';
import { chooseVictimsFairFirst } from '../src/guard/fair-first.js';
import { rankForCycles, waterQuotas, type GuardEntry } from '../src/guard/policy.js';

let n = 0;
function e(src: string, opts: Partial<GuardEntry> = {}): GuardEntry {
  n++;
  return {
    key: { family: 2, orig: { src, dst: '10.9.9.9', proto: 6, srcPort: n, dstPort: 80 }, id: n },
    src, proto: 6, tcpState: 3, assured: true, idle: 10, remaining: 100, ...opts,
  };
}

describe('fair-first ranking', () => {
  it('water quotas: the largest give down to a common level', () => {
    expect(waterQuotas([10, 4, 1], 8)).toEqual([7, 1, 0]);
    expect(waterQuotas([10, 4, 1], 6)).toEqual([6, 0, 0]);
    expect(waterQuotas([5, 5], 3)).toEqual([2, 1]);
    expect(waterQuotas([3, 1], 99)).toEqual([3, 1]);
    expect(waterQuotas([3], 0)).toEqual([0]);
  });

  it('junk from anyone first, then the prefix over its share, fresh entries included; the idle-looking small prefix is kept', () => {
    const legit = Array.from({ length: 10 }, () => e('10.1.0.2', { idle: 5000 })); // busy, but the mirror saw no event: looks idle
    const closing = e('10.1.0.2', { tcpState: 7, idle: 1 });
    const unrep = e('10.1.0.3', { assured: false, tcpState: 1, idle: 50 });
    const attack = Array.from({ length: 40 }, (_, i) => e(`10.66.0.${i % 8}`, { idle: 0.1 })); // fresh
    const prot = e('10.66.1.1', { idle: 9999, protected: true });
    const v = chooseVictimsFairFirst([...legit, closing, ...attack, unrep, prot], 30);
    expect(v).toHaveLength(30);
    expect(v[0]!.entry).toBe(closing);
    expect(v[1]!.entry).toBe(unrep);
    expect(v.slice(2).every((x) => x.entry.src.startsWith('10.66.0.') && x.step === 'fresh')).toBe(true);
    // fair over the attacker's sources: 28 of 40 taken, 3 or 4 from each of the 8
    const per = new Map<string, number>();
    for (const x of v.slice(2)) per.set(x.entry.src, (per.get(x.entry.src) ?? 0) + 1);
    expect([...per.values()].every((c) => c === 3 || c === 4)).toBe(true);
    // more than the attacker's excess: the level comes down to the legitimate prefix only then
    const all = chooseVictimsFairFirst([...legit, ...attack], 34);
    expect(all.filter((x) => x.entry.src === '10.1.0.2')).toHaveLength(2); // level 8: 40 -> 8, 10 -> 8
    expect(all.slice(0, 30).every((x) => x.entry.src.startsWith('10.66.'))).toBe(true); // interleaved: most left first
    expect(chooseVictimsFairFirst([prot], 5)).toEqual([]);
  });

  it('as the chooser of rankForCycles: the tail beyond the need is the heavy prefix only', () => {
    const legit = Array.from({ length: 10 }, () => e('10.1.0.2', { idle: 5000 }));
    const attack = Array.from({ length: 90 }, (_, i) => e(`10.66.0.${i % 3}`, { idle: 0 }));
    const r = rankForCycles([...legit, ...attack], 20, {}, chooseVictimsFairFirst);
    expect(r).toHaveLength(90);
    expect(r.every((x) => x.entry.src.startsWith('10.66.'))).toBe(true);
  });
});
