/**
 * A compressed long run of the guard: does its memory stay flat across many pressure
 * episodes, mirror suspensions and reopenings (each a full dump), flood-mode rounds and
 * kernel-side flushes? (Issue 10: "it runs for days: memory flat, no leak across resyncs".)
 *
 *   tsc -p bench && node build/bench/guard-soak.js [--minutes 15] [--attack-seconds 6] [--quiet-seconds 8]
 *
 * One namespace (bench/util.ts createNetns: removed on every exit path; nothing global
 * changes: nf_conntrack_max stays the global default). `ctevents guard --apply --calm 3`
 * runs in it for the whole time (calm 3 s: every quiet gap ends the episode, restores the
 * timeouts and reopens the mirror). Cycles alternate attack b (dos-tools ctfill, a /24, 150,000
 * inserts/s: flood mode) and attack d (ctfill, a /30: kernel-side flushes by source), each
 * `attack-seconds` long, then a flush of the table (`conntrack -F`: the attacker's 432,000 s
 * entries would otherwise hold the table over the low watermark) and `quiet-seconds` without attack. The guard's RSS
 * (/proc/PID/status VmRSS) is sampled every 5 s; printed: per-cycle maximum, first and last
 * quarter, the JS heap in use at each pressure end (the guard's `pressure-end` record), and
 * the guard's summary line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DIST, createNetns, exited, sleep, spawnTracked, tempDir } from './util.js';
import { dosTools } from './dos.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const minutes = arg('minutes', 15);
  const attackSeconds = arg('attack-seconds', 6);
  const quietSeconds = arg('quiet-seconds', 8);
  const ns = createNetns('soak');
  const tools = dosTools();
  const state = join(tempDir(), 'guard-state.json');
  const guard = spawnTracked(process.execPath, [join(DIST, 'cli', 'ctevents.cjs'), 'guard', '--apply', '--netns', ns.name, '--state-file', state, '--calm', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let summary = '';
  guard.stderr!.on('data', (d) => (summary += d));
  const counts: Record<string, number> = {};
  const heap: number[] = [];
  createInterface({ input: guard.stdout! }).on('line', (l) => {
    try {
      const r = JSON.parse(l) as { action: string; heapUsedMiB?: number };
      const a = r.action;
      counts[a] = (counts[a] ?? 0) + 1;
      if (a === 'pressure-end' && r.heapUsedMiB !== undefined) heap.push(r.heapUsedMiB);
    } catch {
      /* not a record */
    }
  });
  const samples: { t: number; cycle: number; kib: number }[] = [];
  const t0 = Date.now();
  let cycle = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ t: (Date.now() - t0) / 1000, cycle, kib: rssKiB(guard.pid!) });
      await sleep(5000);
    }
  })();
  try {
    await sleep(2000);
    while (Date.now() - t0 < minutes * 60_000) {
      cycle++;
      const d = cycle % 2 === 0;
      const argv = [...ns.prefix, tools, 'ctfill', d ? '10.66.9.0' : '10.66.0.0', d ? '30' : '24', '10.3.0.2', '150000', String(attackSeconds)];
      const atk = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
      await exited(atk);
      // The attacker's entries (432,000 s) would keep the table over the low watermark for
      // days: flush them so that every cycle is a whole episode (end, restore, mirror reopened).
      ns.exec('conntrack', ['-F']);
      await sleep(quietSeconds * 1000);
      const last = samples[samples.length - 1];
      process.stderr.write(`cycle ${cycle} (${d ? 'd' : 'b'}): ${((Date.now() - t0) / 60_000).toFixed(1)} min, guard RSS ${last ? (last.kib / 1024).toFixed(0) : '?'} MiB, episodes ${counts['pressure-start'] ?? 0}, mirror reopened ${counts['table-open'] ?? 0}\n`);
    }
  } finally {
    sampling = false;
    await sampler;
    guard.kill('SIGTERM');
    await Promise.race([exited(guard), sleep(15_000)]);
    ns.remove();
  }
  const ok = samples.filter((s) => Number.isFinite(s.kib));
  const q = Math.max(1, Math.floor(ok.length / 4));
  const mib = (xs: typeof ok) => xs.map((s) => s.kib / 1024);
  const stat = (xs: number[]) => `min ${Math.min(...xs).toFixed(0)}, median ${xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0)}, max ${Math.max(...xs).toFixed(0)} MiB`;
  const perCycle = new Map<number, number>();
  for (const s of ok) perCycle.set(s.cycle, Math.max(perCycle.get(s.cycle) ?? 0, s.kib / 1024));
  process.stdout.write(
    `guard soak: ${minutes} min, ${cycle} attack cycles (b and d alternating, ${attackSeconds} s attack + ${quietSeconds} s quiet), ${ok.length} RSS samples\n` +
      `  first quarter: ${stat(mib(ok.slice(0, q)))}\n  last quarter:  ${stat(mib(ok.slice(-q)))}\n` +
      `  per-cycle max RSS (MiB): ${[...perCycle.values()].map((v) => v.toFixed(0)).join(' ')}\n` +
      `  JS heap in use at each pressure end (MiB): ${heap.join(' ')}\n` +
      `  guard records: ${JSON.stringify(counts)}\n  ${summary.trim().split('\n').pop()}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
