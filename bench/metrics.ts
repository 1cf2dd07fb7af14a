/**
 * `npm run bench -- metrics`: the exporter (`ctevents metrics`, built CLI, its own process)
 * beside prometheus-node-exporter (conntrack collector only) on the same namespace:
 *
 *   1. scrape latency and bytes at 250,000 and 1,000,000 entries (curl's time_total, median
 *      / p95 / max of N scrapes, both scraped the same way), the exporter's RSS (its table
 *      mirror) and the resyncs the mirror took; for 1M, nf_conntrack_max is raised (a
 *      GLOBAL sysctl) and restored on every exit path (finally, exit, signals);
 *   2. CPU of the exporter while the table churns at 50,000 new flows/s (bench/churn.c,
 *      UDP unreplied timeout 3 s in the namespace, so entries expire as fast as they come:
 *      ~100k events/s), beside `conntrack -E > /dev/null` following the same events; plus
 *      scrape latency during the churn, events lost and resyncs.
 *
 * Options (from run.ts's command line): --scrapes N (default 20), --churn-rate R (50000),
 * --churn-seconds S (20), --metrics-sizes 250000,1000000.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { DIST, ROOT, createNetns, exited, flood, fmtInt, median, sh, shellLine, sleep, spawnTracked, tempDir, type BenchNetns } from './util.js';

type Row = [string, string, string];
export interface MetricsBenchResult {
  rows: Row[];
  commands: string[];
  notes: string[];
}
export interface MetricsBenchOptions {
  scrapes?: number;
  churnRate?: number;
  churnSeconds?: number;
  sizes?: number[];
}

const CTEVENTS = join(DIST, 'cli', 'ctevents.cjs');
const NE_PORT = 19100;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** user+system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One scrape with curl: [seconds, bytes]. `prefix` runs curl inside a namespace. */
function curlScrape(url: string, prefix: string[] = []): [number, number] {
  const argv = [...prefix, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total} %{size_download}', url];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const [code, t, size] = r.stdout.trim().split(' ');
  if (code !== '200') throw new Error(`${shellLine(argv)}: HTTP ${code} ${r.stderr}`);
  return [Number(t), Number(size)];
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const p95 = s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
  return `median ${(median(s) * 1000).toFixed(2)} ms, p95 ${(p95 * 1000).toFixed(2)} ms, max ${(s[s.length - 1]! * 1000).toFixed(2)} ms`;
}

function scrapeText(port: number, path = '/metrics'): string {
  return spawnSync('curl', ['-s', `http://127.0.0.1:${port}${path}`], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
}

function sample(body: string, name: string): number | undefined {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
}

async function startExporter(ns: BenchNetns, commands: string[]): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const argv = [process.execPath, CTEVENTS, 'metrics', '--netns', ns.name, '--listen', `127.0.0.1:${port}`];
  commands.push(shellLine(argv) + ' &');
  const c = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  for (let i = 0; !err.includes('serving'); i++) {
    if (c.exitCode !== null || i > 600) throw new Error(`ctevents metrics did not start: ${err}`);
    await sleep(50);
  }
  return {
    pid: c.pid!,
    port,
    stop: async () => {
      c.kill('SIGTERM');
      await exited(c);
    },
  };
}

/** Wait until the mirror is in sync and holds what the kernel counts. */
async function waitSynced(port: number, maxMs = 180_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const body = scrapeText(port);
    const inSync = sample(body, 'ctevents_mirror_in_sync');
    const mirror = sample(body, 'ctevents_mirror_entries');
    const kernel = sample(body, 'ctevents_entries');
    if (inSync === 1 && mirror !== undefined && mirror === kernel) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > maxMs) throw new Error(`mirror not in sync after ${maxMs} ms (in_sync ${inSync}, mirror ${mirror}, kernel ${kernel})`);
    await sleep(250);
  }
}

function startNodeExporter(ns: BenchNetns, commands: string[]): { stop(): Promise<void> } | undefined {
  if (spawnSync('prometheus-node-exporter', ['--version']).status !== 0) return undefined;
  // node_exporter's own scrapes must not add entries to the table it counts.
  ns.exec('nft', ['-f', '-'], `table inet ctbenchne {
  chain pre { type filter hook prerouting priority -300; tcp dport ${NE_PORT} notrack; tcp sport ${NE_PORT} notrack; }
  chain out { type filter hook output priority -300; tcp dport ${NE_PORT} notrack; tcp sport ${NE_PORT} notrack; }
}
`);
  const argv = [...ns.prefix, 'prometheus-node-exporter', `--web.listen-address=127.0.0.1:${NE_PORT}`, '--collector.disable-defaults', '--collector.conntrack'];
  commands.push(shellLine(argv) + ' &');
  const c = spawnTracked(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  return {
    stop: async () => {
      c.kill('SIGTERM');
      await exited(c);
    },
  };
}

export async function benchMetrics(o: MetricsBenchOptions = {}): Promise<MetricsBenchResult> {
  const scrapes = o.scrapes ?? 20;
  const sizes = (o.sizes ?? [250_000, 1_000_000]).filter((n) => n > 0);
  const churnRate = o.churnRate ?? 50_000;
  const churnSeconds = o.churnSeconds ?? 20;
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];

  // ---- scrape latency at each table size --------------------------------------------
  const maxBefore = sh('sysctl', ['-n', 'net.netfilter.nf_conntrack_max']).trim();
  let raised = false;
  const restore = () => {
    if (!raised) return;
    try {
      sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${maxBefore}`]);
      raised = false;
    } catch {
      /* reported by the caller */
    }
  };
  const onSignal = () => restore();
  process.on('exit', restore);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.prependListener(s, onSignal);
  try {
    const ns = createNetns('metrics');
    const ne = startNodeExporter(ns, commands);
    let exp: Awaited<ReturnType<typeof startExporter>> | undefined;
    let have = 0;
    try {
      for (const size of sizes) {
        if (size + 10_000 > Number(sh('sysctl', ['-n', 'net.netfilter.nf_conntrack_max']).trim())) {
          const want = Math.ceil((size * 1.1) / 1000) * 1000;
          commands.push(`sysctl -w net.netfilter.nf_conntrack_max=${want}   # GLOBAL; restored to ${maxBefore} on every exit path`);
          raised = true;
          sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${want}`]);
        }
        commands.push(shellLine(['FLOOD', String(size - have), String(have)]) + `   # in ${ns.name}`);
        const f = await flood(ns, size - have, have);
        have = size;
        if (f.failed > 0) notes.push(`metrics: the flood to ${fmtInt(size)} had ${f.failed} failed sends`);
        let startup = '';
        if (!exp) {
          const t0 = Date.now();
          exp = await startExporter(ns, commands);
          await waitSynced(exp.port);
          startup = ` (start-up to in sync: ${((Date.now() - t0) / 1000).toFixed(2)} s, dump included)`;
        } else {
          await waitSynced(exp.port);
        }
        const entries = sample(scrapeText(exp.port), 'ctevents_entries')!;
        const ours: number[] = [];
        let bytes = 0;
        for (let i = 0; i < scrapes; i++) {
          const [t, b] = curlScrape(`http://127.0.0.1:${exp.port}/metrics`);
          ours.push(t);
          bytes = b;
        }
        const om: number[] = [];
        let omBytes = 0;
        for (let i = 0; i < scrapes; i++) {
          const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-H', 'Accept: application/openmetrics-text; version=1.0.0', '-w', '%{time_total} %{size_download}', `http://127.0.0.1:${exp.port}/metrics`], { encoding: 'utf8' });
          const [t, b] = r.stdout.trim().split(' ');
          om.push(Number(t));
          omBytes = Number(b);
        }
        const label = `scrape @ ${fmtInt(entries)} entries`;
        rows.push([`metrics ${label}`, `ctevents metrics, text 0.0.4 (${scrapes} scrapes)`, `${stats(ours)}; ${fmtInt(bytes)} bytes${startup}`]);
        rows.push([`metrics ${label}`, `ctevents metrics, OpenMetrics`, `${stats(om)}; ${fmtInt(omBytes)} bytes`]);
        rows.push([`metrics ${label}`, `ctevents metrics RSS`, `${rssMiB(exp.pid).toFixed(0)} MiB`]);
        // Dumps the table mirror took by itself so far (lost events, or confirming the
        // entries that predate its subscription); scrapes never dump.
        rows.push([`metrics ${label}`, `ctevents metrics mirror resyncs so far`, String(sample(scrapeText(exp.port), 'ctevents_mirror_resyncs_total') ?? '?')]);
        if (ne) {
          const theirs: number[] = [];
          let nb = 0;
          for (let i = 0; i < scrapes; i++) {
            const [t, b] = curlScrape(`http://127.0.0.1:${NE_PORT}/metrics`, ns.prefix);
            theirs.push(t);
            nb = b;
          }
          rows.push([`metrics ${label}`, `prometheus-node-exporter --collector.conntrack only`, `${stats(theirs)}; ${fmtInt(nb)} bytes (10 conntrack families + its own)`]);
        }
        commands.push(`curl -s -o /dev/null -w '%{time_total} %{size_download}' http://127.0.0.1:PORT/metrics   # x${scrapes}, and with Accept: application/openmetrics-text; and node_exporter via ip netns exec`);
      }
    } finally {
      await exp?.stop();
      await ne?.stop();
      ns.remove(); // frees the entries before the limit goes back down
      restore();
    }
  } finally {
    process.off('exit', restore);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
  }
  const after = sh('sysctl', ['-n', 'net.netfilter.nf_conntrack_max']).trim();
  if (after !== maxBefore) notes.push(`metrics: nf_conntrack_max is ${after} after the run, not ${maxBefore}: another process changed it meanwhile (this run set it back to ${maxBefore})`);

  // ---- CPU while the table churns -----------------------------------------------------
  const ns = createNetns('churn');
  try {
    ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=3']);
    const exp = await startExporter(ns, commands);
    await waitSynced(exp.port);
    const ctArgv = [...ns.prefix, 'conntrack', '-E', '-e', 'NEW,DESTROY'];
    const ct = spawnTracked(ctArgv[0]!, ctArgv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
    commands.push(shellLine(ctArgv) + ' > /dev/null &');
    await sleep(300);
    const dir = tempDir();
    const churnBin = join(dir, 'churn');
    sh('cc', ['-O2', '-Wall', '-o', churnBin, join(ROOT, 'bench', 'churn.c')]);
    const churnArgv = [...ns.prefix, 'taskset', '-c', '0', churnBin, String(churnRate), String(churnSeconds)];
    commands.push(`cc -O2 bench/churn.c -o $TMP/churn; ${shellLine(churnArgv).replace(churnBin, '$TMP/churn')}`);
    const ch = spawnTracked(churnArgv[0]!, churnArgv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    ch.stdout!.on('data', (d) => (out += d));
    // Steady state after the first seconds (timeout 3 s; the GC reaps a little later).
    const warm = Math.min(6, churnSeconds / 3);
    await sleep(warm * 1000);
    const body0 = scrapeText(exp.port);
    const ev0 = sample(body0, 'ctevents_events_total{type="new"}')! + sample(body0, 'ctevents_events_total{type="destroy"}')!;
    const t0 = Date.now();
    const e0 = cpuSeconds(exp.pid);
    const c0 = cpuSeconds(ct.pid!);
    const during: number[] = [];
    while (Date.now() - t0 < (churnSeconds - warm - 1) * 1000) {
      during.push(curlScrape(`http://127.0.0.1:${exp.port}/metrics`)[0]);
      await sleep(500);
    }
    const secs = (Date.now() - t0) / 1000;
    const load = loadavg()[0]!.toFixed(1);
    const e1 = cpuSeconds(exp.pid);
    const c1 = cpuSeconds(ct.pid!);
    const body1 = scrapeText(exp.port);
    const ev1 = sample(body1, 'ctevents_events_total{type="new"}')! + sample(body1, 'ctevents_events_total{type="destroy"}')!;
    await exited(ch);
    const res = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { perSecond?: number };
    const end = scrapeText(exp.port);
    const label = `churn ${fmtInt(res.perSecond ?? churnRate)} new flows/s`;
    rows.push([`metrics ${label}`, 'table size in steady state', fmtInt(sample(body1, 'ctevents_entries') ?? 0)]);
    rows.push([`metrics ${label}`, 'events followed (NEW+DESTROY)', `${fmtInt(Math.round((ev1 - ev0) / secs))}/s`]);
    rows.push([`metrics ${label}`, 'ctevents metrics CPU', `${(((e1 - e0) / secs) * 100).toFixed(1)} % of one core (RSS ${rssMiB(exp.pid).toFixed(0)} MiB)`]);
    rows.push([`metrics ${label}`, 'conntrack -E -e NEW,DESTROY > /dev/null CPU', `${(((c1 - c0) / secs) * 100).toFixed(1)} % of one core`]);
    rows.push([`metrics ${label}`, `scrape latency during churn (${during.length} scrapes)`, stats(during)]);
    rows.push([`metrics ${label}`, 'events lost / resyncs', `${sample(end, 'ctevents_events_lost_total')} / ${sample(end, 'ctevents_mirror_resyncs_total')}`]);
    rows.push([`metrics ${label}`, 'machine load average (1 min) at the end', `${load} on ${cpus().length} CPUs`]);
    ct.kill('SIGINT');
    await exited(ct);
    await exp.stop();
  } finally {
    ns.remove();
  }
  notes.push('metrics: scrape times are curl time_total on loopback (connect + request + body); node_exporter is scraped inside its namespace the same way, its conntrack port untracked so scrapes do not add entries');
  return { rows, commands, notes };
}
