/**
 * The guard's policy on constructed tables: which entries go first, fairness over
 * prefixes and sources, protection, and never more than needed.
 */
import { describe, expect, it } from 'vitest';
import { chooseVictims, fairTake, prefixKey, rankForCycles, type GuardEntry } from '../src/guard/policy.js';

let n = 0;
function e(src: string, opts: Partial<GuardEntry> = {}): GuardEntry {
  n++;
  return {
    key: { family: src.includes(':') ? 10 : 2, orig: { src, dst: '10.9.9.9', proto: 6, srcPort: n, dstPort: 80 }, id: n },
    src, proto: 6, tcpState: 3, assured: true, idle: 10, remaining: 100, ...opts,
  };
}
const ids = (vs: { entry: GuardEntry }[]) => vs.map((v) => v.entry.key.id);

describe('guard policy', () => {
  it('closing, then unassured (oldest first), then assured by idle, then fresh', () => {
    const closing = e('1.0.0.1', { tcpState: 7, idle: 1 });
    const unOld = e('1.0.0.2', { assured: false, tcpState: 1, idle: 50 });
    const unNew = e('1.0.0.3', { assured: false, tcpState: 1, idle: 5 });
    const asLong = e('1.0.0.4', { idle: 1000 });
    const asShort = e('1.0.0.5', { idle: 20 });
    const freshAssured = e('1.0.0.6', { idle: 0.5 });
    const freshSyn = e('1.0.0.7', { assured: false, tcpState: 1, idle: 0 });
    const all = [freshSyn, asShort, freshAssured, unNew, asLong, closing, unOld];
    const v = chooseVictims(all, 7);
    expect(v.map((x) => x.step)).toEqual(['closing', 'unassured', 'unassured', 'assured', 'assured', 'fresh', 'fresh']);
    expect(ids(v).slice(0, 5)).toEqual([closing, unOld, unNew, asLong, asShort].map((x) => x.key.id));
    // never more than needed, in the same order
    expect(ids(chooseVictims(all, 3))).toEqual([closing, unOld, unNew].map((x) => x.key.id));
    expect(chooseVictims(all, 0)).toEqual([]);
  });

  it('protected entries are never chosen, even when the need is larger', () => {
    const a = e('1.0.0.1', { idle: 999, protected: true });
    const b = e('1.0.0.2', { idle: 1 });
    const v = chooseVictims([a, b], 5);
    expect(ids(v)).toEqual([b.key.id]);
  });

  it('fair over prefixes: a busy attacker /16 gives up its entries before a legitimate source loses one', () => {
    const legit = Array.from({ length: 50 }, () => e('192.168.1.10', { idle: 4 }));
    const attack = Array.from({ length: 500 }, (_, i) => e(`10.66.${i % 200}.${i % 250}`, { idle: 3 }));
    const v = chooseVictims([...legit, ...attack], 400);
    expect(v).toHaveLength(400);
    expect(v.every((x) => x.entry.src.startsWith('10.66.'))).toBe(true);
  });

  it('fair over sources inside a prefix: the concentrated source goes first', () => {
    const heavy = Array.from({ length: 100 }, (_, i) => e('10.0.0.1', { idle: i + 10 }));
    const light = Array.from({ length: 10 }, () => e('10.0.0.2', { idle: 5000 }));
    const v = chooseVictims([...heavy, ...light], 80);
    expect(v.every((x) => x.entry.src === '10.0.0.1')).toBe(true);
    // within the source: longest idle first
    expect(v[0]!.entry.idle).toBe(109);
    // when the heavy source is down to the light one's level, both give
    const v2 = chooseVictims([...heavy, ...light], 100);
    const bySrc = (s: string) => v2.filter((x) => x.entry.src === s).length;
    expect(bySrc('10.0.0.1')).toBe(95);
    expect(bySrc('10.0.0.2')).toBe(5);
  });

  it('every prefix of a deep ranking is fair (the guard consumes it a little at a time)', () => {
    const srcs = Array.from({ length: 4 }, (_, s) => Array.from({ length: 25 + s }, (_, i) => e(`10.66.0.${s}`, { idle: 100 + i })));
    const ranked = chooseVictims(srcs.flat(), 90);
    const first = ranked.slice(0, 40);
    const c = (s: number) => first.filter((x) => x.entry.src === `10.66.0.${s}`).length;
    // sizes 25 26 27 28: after 40 taken every source has 16 or 17 left
    expect([c(0), c(1), c(2), c(3)]).toEqual([8, 9, 11, 12]);
  });

  it('a ranking for several cycles reaches beyond the need only into heavy prefixes', () => {
    const legit = Array.from({ length: 30 }, () => e('192.168.1.10', { idle: 100 }));
    const small = Array.from({ length: 10 }, () => e('172.16.0.1', { idle: 100 }));
    const attack = Array.from({ length: 300 }, (_, i) => e(`10.66.0.${i % 50}`, { idle: 50 }));
    const r = rankForCycles([...legit, ...small, ...attack], 20);
    expect(r.slice(0, 20).every((v) => v.entry.src.startsWith('10.66.'))).toBe(true);
    expect(r).toHaveLength(300); // the first 20 as chosen, then the rest of the heavy /16 only
    expect(r.every((v) => v.entry.src.startsWith('10.66.'))).toBe(true);
  });

  it('water level: exact quotas', () => {
    const groups = [30, 20, 5].flatMap((count, g) => Array.from({ length: count }, () => e(`10.${g}.0.1`)));
    const taken = fairTake(groups, 20, [(x) => x.src]);
    const c = (s: string) => taken.filter((x) => x.src === s).length;
    expect(taken).toHaveLength(20);
    expect([c('10.0.0.1'), c('10.1.0.1'), c('10.2.0.1')]).toEqual([15, 5, 0]);
  });

  it('prefix keys', () => {
    expect(prefixKey('10.1.2.3', 16)).toBe(prefixKey('10.1.200.7', 16));
    expect(prefixKey('10.1.2.3', 16)).not.toBe(prefixKey('10.2.2.3', 16));
    expect(prefixKey('10.1.2.3', 32)).toBe('10.1.2.3');
    expect(prefixKey('2001:db8:1::5', 48)).toBe(prefixKey('2001:db8:1:ff::1', 48));
    expect(prefixKey('2001:db8:1::5', 48)).not.toBe(prefixKey('2001:db8:2::5', 48));
  });
});
