/**
 * The statistics lines of the conntrack format: `conntrack -S` (per-CPU counters, and
 * `-S expect`) and `conntrack -C` (the entry count), byte-identical to conntrack-tools 1.4.7.
 */
import type { CpuStats, ExpectCpuStats } from '../ctnetlink/model.js';
import { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import { CPU_NAMES } from './names.js';

function u32Attr(data: Uint8Array): number | undefined {
  return data.length >= 4 ? new DataView(data.buffer, data.byteOffset, 4).getUint32(0, false) : undefined;
}

/**
 * A `conntrack -S` line, trailing space included: "cpu=0   \tfound=0 invalid=0 ... chaintoolong=0 ".
 * Only counters present in the message are printed; attribute types 16-19 print as unknown1-4.
 */
export function formatCpuStatsConntrack(st: CpuStats): string {
  let s = `cpu=${String(st.cpu).padEnd(4, ' ')}\t`;
  for (const [, key] of CPU_STATS_FIELDS) {
    const v = st[key];
    if (v !== undefined) s += `${CPU_NAMES[key]}=${v >>> 0} `;
  }
  const extra = new Map<number, number>();
  for (const a of st.unknown ?? []) {
    const t = a.type & 0x3fff;
    const v = u32Attr(a.data);
    if (t >= 16 && t <= 19 && v !== undefined) extra.set(t, v);
  }
  for (let t = 16; t <= 19; t++) if (extra.has(t)) s += `unknown${t - 15}=${extra.get(t)} `;
  return s;
}

/** A `conntrack -S expect` line: "cpu=0   \texpect_new=0 expect_create=0 expect_delete=0 ". */
export function formatExpectCpuStatsConntrack(st: ExpectCpuStats): string {
  let s = `cpu=${String(st.cpu).padEnd(4, ' ')}\t`;
  if (st.new !== undefined) s += `expect_new=${st.new >>> 0} `;
  if (st.create !== undefined) s += `expect_create=${st.create >>> 0} `;
  if (st.delete !== undefined) s += `expect_delete=${st.delete >>> 0} `;
  return s;
}

/** The `conntrack -C` line: the entry count as printf("%d"). */
export function formatCountConntrack(n: number): string {
  return String(n | 0);
}
