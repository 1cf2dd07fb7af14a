/**
 * listen-cpu (issue 14): CPU time per million events of three listeners following the same
 * paced churn side by side, in one namespace, all with default settings and output to
 * /dev/null:
 *
 *   ctevents --format json            (our CLI, default subscription NEW/UPDATE/DESTROY)
 *   conntrack -E                      (conntrack-tools, default: all event groups)
 *   bench/listener.c                  (the minimal C listener: recv + count, no decoding)
 *
 * The churn (bench/churn.c) creates RATE new UDP flows/s for SECONDS; the namespace's UDP
 * timeout is 3 s, so the entries expire and the kernel reports each flow twice (NEW, then
 * DESTROY): 50,000/s for 10 s is 1,000,000 events. The table stays far below the global
 * nf_conntrack_max (nothing global changes). After the churn we wait until the table is
 * empty and the listeners are quiet, then read each listener's utime+stime from
 * /proc/PID/stat (minus its value just before the churn, so start-up is not counted).
 * `ip netns exec` execs the command, so the spawned PID is the listener itself.
 *
 * Events per listener: the C listener counts NEW and DESTROY messages; `conntrack -E`
 * prints "N flow events have been shown" on SIGINT, ctevents "N events (...), L lost".
 * CPU per 1M events = CPU seconds / (the events THAT listener handled) * 1e6: `conntrack -E`
 * with its default buffer loses many events in ENOBUFS at this rate, and dividing its CPU
 * by events it never saw would flatter it. The kernel's count (the C listener's, which
 * loses none with its 64 MiB buffer) is printed beside each.
 * Rounds repeat the whole thing; ratios are per round (the same machine load).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { spread } from './paired.js';
import { DIST, ROOT, createNetns, exited, fmtInt, listenerProgram, sh, shellLine, sleep, spawnTracked, tableCount, tempDir } from './util.js';

type Row = [string, string, string];

const TICK = 100; // USER_HZ: /proc/PID/stat times are in 1/100 s on Linux

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // fields 14, 15 counted from 1, after pid and comm
}

interface Listener {
  name: string;
  argv: string[];
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

function start(name: string, argv: string[]): Listener {
  const child = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['ignore', name === 'listener.c' ? 'pipe' : 'ignore', 'pipe'] });
  const l: Listener = { name, argv, child, stdout: '', stderr: '' };
  child.stdout?.on('data', (d) => (l.stdout += d));
  child.stderr!.on('data', (d) => (l.stderr += d));
  return l;
}

export async function benchListenCpu(o: { rate: number; seconds: number; rounds: number }): Promise<{ rows: Row[]; commands: string[]; notes: string[] }> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  const cli = join(DIST, 'cli', 'ctevents.cjs');
  const dir = tempDir();
  const churnBin = join(dir, 'churn');
  sh('cc', ['-O2', '-Wall', '-o', churnBin, join(ROOT, 'bench', 'churn.c')]);
  const listenerBin = listenerProgram();
  const perM: Record<string, number[]> = { ctevents: [], 'conntrack -E': [], 'listener.c': [] };
  const events: number[] = [];
  const ns = createNetns('listen');
  try {
    ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=3']);
    commands.push(`ip netns add ${ns.name}; ... sysctl -w net.netfilter.nf_conntrack_udp_timeout=3 (in the namespace)`);
    for (let round = 0; round < o.rounds; round++) {
      const ls = [
        start('ctevents', [...ns.prefix, process.execPath, cli, '--format', 'json']),
        start('conntrack -E', [...ns.prefix, 'conntrack', '-E']),
        start('listener.c', [...ns.prefix, listenerBin, '--idle-ms', '600000']),
      ];
      if (round === 0) commands.push(...ls.map((l) => `${shellLine(l.argv).replace(listenerBin, '$TMP/listener')} > /dev/null &`));
      await sleep(1500); // subscribed (node start-up included), then the baseline
      for (const l of ls) if (l.child.exitCode !== null) throw new Error(`${l.name} exited: ${l.stderr.trim()}`);
      const cpu0 = ls.map((l) => cpuSecondsOf(l.child.pid!));
      const churnArgv = [...ns.prefix, 'taskset', '-c', '0', churnBin, String(o.rate), String(o.seconds), String(round * o.rate * o.seconds)];
      if (round === 0) commands.push(shellLine(churnArgv).replace(churnBin, '$TMP/churn') + '   # cc -O2 bench/churn.c -o $TMP/churn');
      process.stderr.write(`listen-cpu: round ${round + 1}/${o.rounds}: churn ${fmtInt(o.rate)} flows/s for ${o.seconds} s\n`);
      const churn = spawnTracked(churnArgv[0]!, churnArgv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let churnOut = '';
      churn.stdout!.on('data', (d) => (churnOut += d));
      await exited(churn);
      // Every entry expires (3 s) and is reaped by the kernel's GC: wait for an empty table.
      const t0 = Date.now();
      while (tableCount(ns) > 0 && Date.now() - t0 < 120_000) await sleep(500);
      await sleep(2000);
      const cpu1 = ls.map((l) => cpuSecondsOf(l.child.pid!));
      const load = loadavg()[0]!;
      for (const l of ls) l.child.kill('SIGINT');
      await Promise.all(ls.map((l) => exited(l.child)));
      const shown = /(\d+) flow events have been shown/.exec(ls[1]!.stderr);
      const c = JSON.parse(ls[2]!.stdout.trim().split('\n').pop() ?? '{}') as { new?: number; destroy?: number; messages?: number; enobufs?: number; drops?: number };
      const n = (c.new ?? 0) + (c.destroy ?? 0);
      events.push(n);
      const sent = JSON.parse(churnOut.trim().split('\n').pop() ?? '{}') as { sent?: number; perSecond?: number };
      const tag = `listen-cpu round ${round + 1}`;
      rows.push([tag, 'churn: flows sent (rate); events (C listener: NEW + DESTROY)', `${fmtInt(sent.sent ?? 0)} (${fmtInt(sent.perSecond ?? 0)}/s); ${fmtInt(c.new ?? 0)} + ${fmtInt(c.destroy ?? 0)}`]);
      const ours = /ctevents: (\d+) events/.exec(ls[0]!.stderr);
      const handled = [ours ? Number(ours[1]) : n, shown ? Number(shown[1]) : n, n];
      ls.forEach((l, i) => {
        const s = cpu1[i]! - cpu0[i]!;
        const v = (s / handled[i]!) * 1e6;
        perM[l.name]!.push(v);
        rows.push([tag, `${l.name}: CPU s; events handled (of ${fmtInt(n)}); CPU s per 1M handled`, `${s.toFixed(2)}; ${fmtInt(handled[i]!)}; **${v.toFixed(2)}**`]);
      });
      rows.push([tag, 'conntrack -E events shown; C listener ENOBUFS / drops; load (1 min)', `${shown ? fmtInt(Number(shown[1])) : '?'}; ${c.enobufs ?? '?'} / ${c.drops ?? '?'}; ${load.toFixed(1)} on ${cpus().length} CPUs`]);
      const ctErr = ls[0]!.stderr.trim();
      if (ctErr) notes.push(`listen-cpu round ${round + 1}: ctevents stderr: ${ctErr.split('\n').slice(-3).join(' | ')}`);
    }
    const r = (a: string, b: string) => perM[a]!.map((x, i) => x / perM[b]![i]!);
    rows.push(['listen-cpu', `CPU s per 1M events handled: ctevents --format json, min / median / max of ${o.rounds}`, spread(perM['ctevents']!)]);
    rows.push(['listen-cpu', 'CPU s per 1M events: conntrack -E', spread(perM['conntrack -E']!)]);
    rows.push(['listen-cpu', 'CPU s per 1M events: bench/listener.c', spread(perM['listener.c']!)]);
    rows.push(['listen-cpu', 'ratio ctevents / conntrack -E, paired per round: min / median / max', `**${spread(r('ctevents', 'conntrack -E'))}**`]);
    rows.push(['listen-cpu', 'ratio ctevents / listener.c, paired per round', spread(r('ctevents', 'listener.c'))]);
    notes.push('listen-cpu: target (issue 14) ctevents --format json CPU per 1M events <= conntrack -E (moonshot 0.8x); CPU is utime+stime from /proc/PID/stat, 10 ms resolution, from just before the churn to the empty table; the churn is pinned to CPU 0, the listeners are left to the scheduler.');
  } finally {
    ns.remove();
  }
  return { rows, commands, notes };
}
