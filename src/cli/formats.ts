/**
 * The CLI's view of the output formats in src/format: one line formatter per --format,
 * plus the lines only the CLI produces (overrun markers, the stats report).
 */
import type { CpuStats, GlobalStats } from '../ctnetlink/model.js';
import { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import { createFormatter, formatCpuStatsConntrack, isoTime, type LineFormatter } from '../format/index.js';
import { procPortidResolver } from '../host/progname.js';
import type { Format } from './args.js';
import type { NetnsFileReader } from './host.js';

export type { LineFormatter } from '../format/index.js';

/**
 * The formatter for a run. conntrack -E names the process behind an event from the live
 * /proc of the namespace it runs in: live runs do the same, in the --netns namespace when
 * one is given; `read` does not (a capture's processes are long gone, and a live process
 * with the same port id would be the wrong name).
 */
export function formatterFor(f: Format, run: { live: boolean; netns?: string; readNetnsFile?: NetnsFileReader }): LineFormatter {
  if (f !== 'conntrack') return createFormatter(f);
  if (!run.live) return createFormatter(f, { conntrack: { progname: () => undefined } });
  if (run.netns === undefined) return createFormatter(f, { conntrack: { progname: procPortidResolver() } });
  const netns = run.netns;
  const read = run.readNetnsFile;
  if (read === undefined) throw new Error('formatterFor: a live run in another namespace needs readNetnsFile');
  const table = () => Buffer.from(read(netns, '/proc/thread-self/net/netlink')).toString('latin1');
  return createFormatter(f, { conntrack: { progname: procPortidResolver('/proc', table) } });
}

/**
 * The in-band overrun notice. In conntrack format stdout must stay what conntrack prints,
 * so the notice goes to stderr there, worded as conntrack-tools words it.
 */
export function overrunLine(f: Format, lost: number | undefined, ns: bigint): { stdout?: string; stderr?: string } {
  const n = lost === undefined ? 'an unknown number of' : String(lost);
  switch (f) {
    case 'json':
      return { stdout: JSON.stringify(lost === undefined ? { type: 'overrun', time: isoTime(ns), timestampNs: String(ns) } : { type: 'overrun', time: isoTime(ns), timestampNs: String(ns), lost }) };
    case 'text':
      return { stdout: `OVERRUN: ${n} events lost (the kernel's receive queue was full; raise --buffer-size)` };
    case 'conntrack':
      return { stderr: `WARNING: We have hit ENOBUFS! We are losing events. (${n} lost)` };
  }
}

type CpuKey = (typeof CPU_STATS_FIELDS)[number][1];

/** The counters `conntrack -S` shows, in its order, with its names. */
const SHOWN: readonly [CpuKey, string][] = [
  ['found', 'found'], ['invalid', 'invalid'], ['insert', 'insert'], ['insertFailed', 'insert_failed'], ['drop', 'drop'],
  ['earlyDrop', 'early_drop'], ['error', 'error'], ['searchRestart', 'search_restart'], ['clashResolve', 'clash_resolve'],
  ['chainTooLong', 'chaintoolong'],
];

export function statsLines(f: Format, g: GlobalStats, cpus: CpuStats[], buckets: number | undefined): string[] {
  if (f === 'conntrack') return cpus.map((c) => formatCpuStatsConntrack(c));
  const sums: Record<string, number> = {};
  for (const [k] of SHOWN) sums[k] = cpus.reduce((a, c) => a + (c[k] ?? 0), 0);
  const entries = g.entries ?? 0;
  const max = g.maxEntries ?? 0;
  const fill = max > 0 ? (100 * entries) / max : 0;
  if (f === 'json') {
    const perCpu = cpus.map((c) => Object.fromEntries([['cpu', c.cpu], ...SHOWN.map(([k, n]) => [n, c[k] ?? 0])]));
    const sum = Object.fromEntries(SHOWN.map(([k, n]) => [n, sums[k]]));
    return [JSON.stringify({ type: 'stats-summary', entries, max, ...(buckets !== undefined ? { buckets } : {}), fillPercent: Number(fill.toFixed(2)), cpus: perCpu, sum })];
  }
  const lines = [
    `entries   ${entries}`,
    `max       ${max}`,
    `buckets   ${buckets ?? 'unknown'}`,
    `fill      ${fill.toFixed(2)}%`,
    '',
  ];
  const head = ['cpu', ...SHOWN.map(([, n]) => n)];
  const rows = [...cpus.map((c) => [String(c.cpu), ...SHOWN.map(([k]) => String(c[k] ?? 0))]), ['sum', ...SHOWN.map(([k]) => String(sums[k]))]];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt));
  return lines;
}
