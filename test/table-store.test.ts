/**
 * The mirror's row store and aggregates, without a kernel: random inserts and removals
 * against a Map model (index integrity through growth and backward-shift deletion), and
 * the aggregates' counts and top lists.
 */
import { describe, expect, it } from 'vitest';
import { CompactEntry } from '../src/ctnetlink/compact.js';
import { IPS_ASSURED } from '../src/ctnetlink/constants.js';
import { RowStore } from '../src/table/store.js';
import { Aggregates } from '../src/table/aggregates.js';
import { Prng } from './helpers/prng.js';

function entry(k: number, fam = 2): CompactEntry {
  const e = new CompactEntry();
  e.family = fam;
  e.proto = k % 5 === 0 ? 6 : 17;
  e.addr[0] = (0xc6130000 + (k % 1000)) >>> 0;
  if (fam === 10) e.addr[1] = k % 3;
  e.addr[4] = 0xc6120001;
  e.sport = 1024 + (k % 50000);
  e.dport = [53, 80, 443][k % 3]!;
  e.zone = k % 2;
  return e;
}

describe('RowStore', () => {
  it('finds exactly what is present through growth and many removals', () => {
    const s = new RowStore(16);
    const model = new Map<number, number>();
    const prng = new Prng(42);
    const rnd = () => prng.next() / 4294967296;
    for (let step = 0; step < 60_000; step++) {
      const k = Math.floor(rnd() * 5000);
      const e = entry(k, k % 4 === 0 ? 10 : 2);
      const row = s.find(e);
      expect(row >= 0).toBe(model.has(k));
      if (row >= 0) {
        expect(row).toBe(model.get(k));
        if (rnd() < 0.6) {
          s.remove(row);
          model.delete(k);
        }
      } else {
        model.set(k, s.insert(e, 1));
      }
      expect(s.size).toBe(model.size);
    }
    for (const [k, row] of model) {
      const e = entry(k, k % 4 === 0 ? 10 : 2);
      expect(s.find(e)).toBe(row);
      const a = s.addrArray(row);
      const o = s.addrOffset(row);
      if (e.family === 10) expect([...a.subarray(o, o + 8)]).toEqual([...e.addr]);
      else expect([a[o], a[o + 1]]).toEqual([e.addr[0], e.addr[4]]);
    }
    let used = 0;
    for (let r = 0; r < s.top; r++) if (s.used(r)) used++;
    expect(used).toBe(model.size);
  });
});

describe('Aggregates', () => {
  it('counts rows by every grouping and gives the top groups', () => {
    const s = new RowStore(8);
    const a = new Aggregates();
    const rows: number[] = [];
    for (let k = 0; k < 300; k++) {
      const e = entry(k % 10 === 0 ? 1 : k);
      e.sport = k; // distinct keys
      const r = s.insert(e, 1);
      s.status[r] = k % 2 ? IPS_ASSURED : 0;
      s.mark[r] = k % 3;
      if (e.proto === 6) s.meta[r * 4 + 2] = 3;
      a.addRow(s, r, 1);
      rows.push(r);
    }
    const top = a.top('source', 3);
    expect(top[0]).toEqual({ key: '198.19.0.1', count: 31 });
    expect(top.length).toBe(3);
    expect(a.top('sourcePrefix', 5)).toEqual([{ key: '198.19.0.0/24', count: 260 }, { key: '198.19.1.0/24', count: 40 }]);
    expect(a.assured + a.notAssured).toBe(300);
    expect(a.top('assured', 5)).toEqual([{ key: 'assured', count: 150 }, { key: 'not-assured', count: 150 }]);
    expect(a.top('proto', 5).map((i) => i.key)).toEqual(['udp', 'tcp']);
    expect(a.top('state', 5)).toEqual([{ key: 'ESTABLISHED', count: a.proto[6] }]);
    expect(a.top('dport', 5).reduce((x, i) => x + i.count, 0)).toBe(300);
    for (const r of rows) a.addRow(s, r, -1);
    expect(a.source.size).toBe(0);
    expect(a.top('dport', 5)).toEqual([]);
    expect(a.assured + a.notAssured).toBe(0);
  });
});
