/**
 * Fair-first ranking: the policy of the table-backed guard (src/guard/table-view.ts).
 *
 *   1. dead or junk, from anyone: closing TCP states, then non-assured entries idle for at
 *      least the grace time (as chooseVictims' tiers 1 and 2, fair inside);
 *   2. then the rest (ASSURED and fresh entries) max-min fair over /16 (IPv6 /48) prefixes
 *      FIRST: the water level L is the lowest group size such that the groups' excess over
 *      L covers the need; each group above L gives its excess, chosen inside the group by
 *      chooseVictims (assured by idle time before fresh, fair over /24 and sources);
 *   3. interleaved: the next victim always comes from the group with the most entries
 *      left, so any prefix of the list is itself a fair choice.
 *
 * Why fairness before idle time here: the mirror learns an entry's remaining time from
 * events and dumps only, and the kernel sends no event for a packet that merely re-arms
 * the timer; so a busy legitimate flow looks idle since the last resync, while an
 * attacker's entries created a second ago look fresh. Ranked tier first, the first
 * measurement (attack b) evicted the 500 long-lived legitimate connections before any of
 * the 250,000 fresh attacker entries. Group sizes, on the other hand, are exact.
 */
import { chooseVictims, stepOf, waterQuotas, wideKey, type GuardEntry, type PolicyOptions, type Victim } from './policy.js';

export function chooseVictimsFairFirst(entries: Iterable<GuardEntry>, need: number, opts: PolicyOptions = {}): Victim[] {
  if (need <= 0) return [];
  const grace = opts.graceSeconds ?? 5;
  const junk: GuardEntry[] = [];
  const groups = new Map<string | number, GuardEntry[]>();
  for (const e of entries) {
    if (e.protected) continue;
    const st = stepOf(e, grace);
    if (st === 'closing' || st === 'unassured') junk.push(e);
    else {
      const k = wideKey(e);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(e);
    }
  }
  const out = chooseVictims(junk, need, opts);
  let left = need - out.length;
  if (left <= 0 || groups.size === 0) return out;
  const list = [...groups.values()].sort((a, b) => b.length - a.length);
  let total = 0;
  for (const g of list) total += g.length;
  const quotas = waterQuotas(list.map((g) => g.length), Math.min(left, total));
  // Interleave: the k-th victim of group i leaves size - k - 1 entries; most left goes first.
  const order: { v: Victim; left: number; g: number }[] = [];
  list.forEach((g, i) => {
    if (quotas[i]! <= 0) return;
    chooseVictims(g, quotas[i]!, opts).forEach((v, k) => order.push({ v, left: g.length - k - 1, g: i }));
  });
  order.sort((a, b) => b.left - a.left || a.g - b.g);
  for (const o of order) out.push(o.v);
  return out;
}
