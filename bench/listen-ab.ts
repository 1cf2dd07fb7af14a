/**
 * A/B of CLI builds listening to the same churn (issue 14): `ctevents --format F` from
 * dist/ and from other builds' dist directories, all subscribed at once in one throwaway
 * namespace while bench/churn.c makes RATE new UDP flows/s for SECONDS (UDP timeout 3 s:
 * NEW then DESTROY per flow); CPU (utime + stime) of each from just before the churn until
 * the table is empty, per 1M events it printed. Same events, same moment, same load for
 * every build. The namespace is removed on every exit path.
 *
 *   node build/bench/listen-ab.js OTHER_DIST... [--format json|conntrack] [--rate R] [--seconds S] [--rounds N]
 *
 * OTHER_DIST: copies of dist/ from other builds, kept inside the package directory (e.g.
 * tmp/dist-base, ignored by git) so that they find the native addon.
 */
import { join } from 'node:path';
import { cpuSecondsOf } from './listen-cpu.js';
import { DIST, ROOT, createNetns, exited, sh, sleep, spawnTracked, tableCount, tempDir } from './util.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1]! : fallback;
};
const format = flag('format', 'json');
const rate = Number(flag('rate', '50000'));
const seconds = Number(flag('seconds', '10'));
const rounds = Number(flag('rounds', '2'));
const builds = [{ name: 'new (dist)', dir: DIST }, ...args.map((d) => ({ name: d, dir: d }))];

const churnBin = join(tempDir(), 'churn');
sh('cc', ['-O2', '-Wall', '-o', churnBin, join(ROOT, 'bench', 'churn.c')]);
const ns = createNetns('listenab');
try {
  ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=3']);
  for (let round = 0; round < rounds; round++) {
    const ls = builds.map((b) => {
      const child = spawnTracked(ns.prefix[0]!, [...ns.prefix.slice(1), process.execPath, join(b.dir, 'cli', 'ctevents.js'), '--format', format], { stdio: ['ignore', 'ignore', 'pipe'] });
      const l = { b, child, stderr: '' };
      child.stderr!.on('data', (d) => (l.stderr += d));
      return l;
    });
    await sleep(1500);
    const cpu0 = ls.map((l) => cpuSecondsOf(l.child.pid!));
    const churn = spawnTracked(ns.prefix[0]!, [...ns.prefix.slice(1), 'taskset', '-c', '0', churnBin, String(rate), String(seconds), String(round * rate * seconds)], { stdio: ['ignore', 'ignore', 'ignore'] });
    await exited(churn);
    const t0 = Date.now();
    while (tableCount(ns) > 0 && Date.now() - t0 < 120_000) await sleep(500);
    await sleep(2000);
    const cpu1 = ls.map((l) => cpuSecondsOf(l.child.pid!));
    for (const l of ls) l.child.kill('SIGINT');
    await Promise.all(ls.map((l) => exited(l.child)));
    const perM = ls.map((l, i) => {
      const n = Number(/ctevents: (\d+) events/.exec(l.stderr)?.[1] ?? 0);
      return { name: l.b.name, cpu: cpu1[i]! - cpu0[i]!, n, perM: ((cpu1[i]! - cpu0[i]!) * 1e6) / Math.max(n, 1) };
    });
    for (const r of perM) {
      process.stdout.write(`round ${round + 1} | ${r.name} | ${r.cpu.toFixed(2)} s CPU | ${r.n} events | **${r.perM.toFixed(2)}** s per 1M | ratio to new ${(r.perM / perM[0]!.perM).toFixed(2)}\n`);
    }
  }
} finally {
  ns.remove();
}
