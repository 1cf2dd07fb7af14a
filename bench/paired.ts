/**
 * Paired runs (issue 14): the commands of one comparison run in turn, A B C A B C ..., so
 * every round sees about the same machine load; each figure is then reported beside its
 * peer as the ratio of the two times IN THE SAME ROUND, min / median / max over the rounds.
 * On a shared, noisy machine that shows up as a wide ratio range instead of a wrong claim.
 *
 * Each run: spawnSync of the argv with stdout to /dev/null (or a file), stderr kept for the
 * error message; wall time from just before the spawn to the child's exit (the spawn cost
 * of the parent is the same for every command of a round), and CPU time (user + system of
 * the child, from /proc/self/stat cutime + cstime, 10 ms ticks).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fmtSec, median, shellLine } from './util.js';

export interface PairedCommand {
  name: string;
  argv: string[];
}

export interface PairedResult {
  name: string;
  argv: string[];
  /** Wall seconds of each timed round, in round order. */
  seconds: number[];
  /** CPU seconds (user + system, the child and what it waited for) of each timed round. */
  cpu: number[];
}

/** utime + stime of this process's waited-for children so far (/proc/self/stat cutime + cstime), seconds. */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (cutime, cstime) are at 13 and 14 after the command name.
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}
const CLK_TCK = 100;

/** Run `rounds` timed rounds (after `warmup` untimed ones) of the commands in turn. */
export function pairedRuns(commands: readonly PairedCommand[], rounds: number, warmup = 1): PairedResult[] {
  const out = commands.map((c) => ({ name: c.name, argv: c.argv, seconds: [] as number[], cpu: [] as number[] }));
  const devnull = openSync('/dev/null', 'w');
  try {
    for (let r = -warmup; r < rounds; r++) {
      for (const [i, c] of commands.entries()) {
        const c0 = childrenCpu();
        const t0 = process.hrtime.bigint();
        const res = spawnSync(c.argv[0]!, c.argv.slice(1), { stdio: ['ignore', devnull, 'pipe'], maxBuffer: 1 << 24 });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (res.status !== 0) {
          throw new Error(`${shellLine(c.argv)} > /dev/null: exit ${res.status ?? res.signal}: ${String(res.stderr ?? '').trim().slice(0, 500)}`);
        }
        const cpu = childrenCpu() - c0;
        if (r >= 0) {
          out[i]!.seconds.push(s);
          out[i]!.cpu.push(cpu);
        }
      }
    }
  } finally {
    closeSync(devnull);
  }
  return out;
}

/** Per-round ratios a[i] / b[i]. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]!);
}

/** "min / median / max" of numbers, `d` decimals. */
export function spread(xs: readonly number[], d = 2): string {
  if (xs.length === 0) return '-';
  return `${Math.min(...xs).toFixed(d)} / ${median(xs).toFixed(d)} / ${Math.max(...xs).toFixed(d)}`;
}

/** "median (min..max)" of seconds. */
export function timeSpread(xs: readonly number[]): string {
  return `${fmtSec(median(xs))} (${fmtSec(Math.min(...xs))}..${fmtSec(Math.max(...xs))})`;
}

type Row = [string, string, string];

/**
 * Rows of one paired comparison: each command's median time (min..max), then for each
 * (a, b) pair of names the ratio a/b per round as min / median / max.
 */
export function pairedRows(tag: string, results: readonly PairedResult[], pairs: readonly [string, string][]): Row[] {
  const rows: Row[] = [];
  const n = results[0]?.seconds.length ?? 0;
  for (const r of results) rows.push([tag, `${r.name}: median (min..max) of ${n} rounds`, timeSpread(r.seconds)]);
  for (const [a, b] of pairs) {
    const ra = results.find((r) => r.name === a);
    const rb = results.find((r) => r.name === b);
    if (!ra || !rb) continue;
    rows.push([tag, `ratio ${a} / ${b}, paired: min / median / max`, `**${spread(ratios(ra.seconds, rb.seconds))}**`]);
  }
  // CPU time sees through the load of a shared machine better than wall time.
  for (const r of results) rows.push([tag, `${r.name}: CPU user+sys, median (min..max)`, timeSpread(r.cpu)]);
  for (const [a, b] of pairs) {
    const ra = results.find((r) => r.name === a);
    const rb = results.find((r) => r.name === b);
    if (!ra || !rb || rb.cpu.some((x) => x <= 0)) continue;
    rows.push([tag, `CPU ratio ${a} / ${b}, paired: min / median / max`, spread(ratios(ra.cpu, rb.cpu))]);
  }
  return rows;
}

/** The command lines of a paired comparison, for the Commands section. */
export function pairedCommandLines(results: readonly PairedResult[], rounds: number, warmup = 1): string[] {
  return [
    `# paired: ${warmup} warm-up + ${rounds} rounds, in turn: ${results.map((r) => r.name).join(' | ')}`,
    ...results.map((r) => `${shellLine(r.argv)} > /dev/null`),
  ];
}
