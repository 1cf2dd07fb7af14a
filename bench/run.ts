/**
 * Benchmarks against the live kernel (root). `npm run bench` runs them all; name some to
 * run only those:
 *
 *   npm run bench                         # all but dos (decode ... evict, startup, listen-cpu)
 *   npm run bench -- decode               # one benchmark
 *   npm run bench -- flood --repeat 3     # options below
 *
 *   decode     record 1,000,000 real NEW/DESTROY events to a pcap (500k flows in rounds of
 *              250k, flush between), then decode them into the full model on one core:
 *              from memory (pure decode), streaming from the file (readCapture, and a
 *              synchronous CaptureParser loop), the file read alone, memory sampled
 *   flood      250,000 new UDP flows + flush; our listener (a child process, default
 *              settings) and `conntrack -E -e NEW,DESTROY` count events side by side
 *   dump       250,000-entry table: `conntrack -L` vs our dump into the full model
 *              (paired runs, bench/paired.ts), timed and peak RSS at 0, 50,000 and 250,000 entries
 *   cli-flood  the flood through `ctevents --format json` beside `conntrack -E`
 *   cli-dump   `ctevents dump --format conntrack` and `--format json` vs `conntrack -L`
 *              (paired runs); at 1,000,000 entries: --flows 1000000 --raise-max
 *   startup    empty table: `ctevents dump/stats/--version` vs `node -e 0` and
 *              `conntrack -L/-S`, paired runs through `ip netns exec` (bench/startup.ts)
 *   listen-cpu CPU per 1M events while a paced churn (bench/churn.c, --listen-rate 50000
 *              new flows/s for --listen-seconds 10, UDP timeout 3 s: NEW + DESTROY) runs:
 *              `ctevents --format json`, `conntrack -E` and bench/listener.c side by side,
 *              --listen-rounds 3 (bench/listen-cpu.ts)
 *   mirror     ConntrackTable at 1,000,000 entries: memory per entry, resync time, events/s
 *              followed on one core (raises the GLOBAL nf_conntrack_max, restores it: mirror.ts)
 *   burst      the worst burst (issue 9): accounting AND timestamps on, 250,000 new UDP
 *              flows + flush; side by side in one run: our library listener,
 *              `ctevents --format json > /dev/null`, `conntrack -E > file` and a minimal
 *              C listener (bench/listener.c, the limit), all with default settings;
 *              --no-thread-too adds a library listener with the receive thread off
 *   evict      filtered deletion: `conntrack -D FILTER` vs `ctevents delete` and
 *              deleteWhere(), and targeted deleteMany() by idle time (bench/evict.ts)
 *   dos        the DoS testbed (bench/dos.ts): 5 attacks x kernel alone / tuned / guard;
 *              options --attacks a,b,c,d,e --modes kernel,tuned,guard --before S
 *              --during S --after S --fillTimeout S. Not part of a plain `npm run bench` (~10 min).
 *              (the cli-* benchmarks skip when dist/cli/ctevents.cjs is absent)
 *   metrics    `ctevents metrics` scrape latency and bytes at 250k and 1M entries beside
 *              prometheus-node-exporter, and its CPU while the table churns at 50k new
 *              flows/s beside `conntrack -E` (bench/metrics.ts; raises the GLOBAL
 *              nf_conntrack_max for 1M and restores it on every exit path; options
 *              --scrapes N, --metrics-sizes A,B (0: churn only), --churn-rate R,
 *              --churn-seconds S)
 *
 * Options: --flows N (flood / dump table size, default 250000), --decode-flows N (default
 * 500000: 2N events), --runs N (paired rounds, default 10), --raise-max (raise the GLOBAL nf_conntrack_max
 * to --flows + 50,000 when lower, restored on every exit path), --iterations N (in-memory
 * decode passes, default 5), --repeat N (flood runs, default 1), --capture PATH (decode an
 * existing capture instead of recording), --format F (cli-flood: text, json or conntrack;
 * default json), --keep-capture (keep the recorded capture, at
 * /tmp/ctbench-events.pcap),
 * --pin-listener CPU (pin the flood listeners; default: the sender is pinned to CPU 0 and
 * the listeners are left to the scheduler).
 *
 * Needs root, `npm run build`, cc, nft, conntrack (conntrack-tools) and hyperfine. Every
 * namespace (ctbench-PID-*), child process and temporary file it creates is removed at the
 * end, on Ctrl-C and on failure. Global sysctls are never changed, except by `mirror`
 * (nf_conntrack_max, restored on every exit path).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConntrackClient } from '../src/client/client.js';
import { recordCapture } from './record.js';
import { benchMirror } from './mirror.js';
import { benchMetrics } from './metrics.js';
import { benchEvict } from './evict.js';
import { benchDos, takeDosOptions } from './dos.js';
import { pairedCommandLines, pairedRows, pairedRuns } from './paired.js';
import { benchStartup } from './startup.js';
import { benchListenCpu } from './listen-cpu.js';
import {
  DIST,
  BENCH_BUILD,
  RULESET,
  createNetns,
  exited,
  fmtInt,
  fmtMiB,
  fmtSec,
  flood,
  floodArgv,
  listenerProgram,
  installCleanup,
  median,
  removeTempDir,
  sh,
  shellLine,
  sleep,
  spawnTracked,
  table,
  tableCount,
  tempDir,
  type BenchNetns,
} from './util.js';

// ---------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function opt(name: string, fallback: number): number;
function opt(name: string, fallback: string | undefined): string | undefined;
function opt(name: string, fallback: number | string | undefined): number | string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  argv.splice(i, 2);
  if (v === undefined) throw new Error(`--${name} needs a value`);
  return typeof fallback === 'number' ? Number(v) : v;
}
function flag(name: string): boolean {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) argv.splice(i, 1);
  return i >= 0;
}

const DOS_OPTIONS = takeDosOptions(argv);
const FLOWS = opt('flows', 250_000);
const DECODE_FLOWS = opt('decode-flows', 500_000);
const RUNS = opt('runs', 10);
const ITERATIONS = opt('iterations', 5);
const REPEAT = opt('repeat', 1);
/** cli-flood: the ctevents output format (json by default, as the issue names). */
const CLI_FORMAT = opt('format', 'json') ?? 'json';
const CAPTURE = opt('capture', undefined);
const PIN_LISTENER = opt('pin-listener', undefined);
const KEEP_CAPTURE = flag('keep-capture');
/** Raise the GLOBAL nf_conntrack_max for --flows above it (restored on every exit path). */
const RAISE_MAX = flag('raise-max');
/** metrics: scrapes per size, churn rate and duration, table sizes (see bench/metrics.ts). */
const METRICS_OPTS = {
  scrapes: opt('scrapes', 20),
  churnRate: opt('churn-rate', 50_000),
  churnSeconds: opt('churn-seconds', 20),
  sizes: (opt('metrics-sizes', '250000,1000000') ?? '').split(',').map(Number),
};

/** burst: also run a library listener with the receive thread off (the pre-thread path), for comparison. */
const BURST_NO_THREAD = flag('no-thread-too');
/** listen-cpu: churn rate (new flows/s), seconds per round, rounds. */
const LISTEN_RATE = opt('listen-rate', 50_000);
const LISTEN_SECONDS = opt('listen-seconds', 10);
const LISTEN_ROUNDS = opt('listen-rounds', 3);
const NODE = process.execPath;
const CTEVENTS = join(DIST, 'cli', 'ctevents.cjs');
const SENDER_CPU = 0;

type Row = [string, string, string];
interface Result {
  rows: Row[];
  commands: string[];
  notes: string[];
}

const BENCHES: Record<string, () => Promise<Result>> = {
  decode: benchDecode,
  flood: benchFlood,
  dump: benchDump,
  'cli-flood': benchCliFlood,
  'cli-dump': benchCliDump,
  startup: () => benchStartup(Math.max(RUNS, 10)),
  'listen-cpu': () => benchListenCpu({ rate: LISTEN_RATE, seconds: LISTEN_SECONDS, rounds: LISTEN_ROUNDS }),
  mirror: benchMirror,
  metrics: () => benchMetrics(METRICS_OPTS),
  burst: benchBurst,
  evict: () => benchEvict(FLOWS),
  dos: () => benchDos(DOS_OPTIONS),
};

// ---------------------------------------------------------------------------------------
// Helpers

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** JSON lines of a child's stdout, one promise per line, in order. */
function jsonLines(stream: Readable): () => Promise<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  let ended = false;
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const w = waiters.shift();
    if (w) w(v);
    else queue.push(v);
  });
  rl.on('close', () => {
    ended = true;
    for (const w of waiters.splice(0)) w({ eof: true });
  });
  return () => {
    const v = queue.shift();
    if (v) return Promise.resolve(v);
    if (ended) return Promise.resolve({ eof: true });
    return new Promise((res) => waiters.push(res));
  };
}

/** A node child in the bench's process tree (killed on exit). */
function nodeChild(script: string, args: string[], cpu?: string) {
  const full = [NODE, join(BENCH_BUILD, script), ...args];
  const cmd = cpu !== undefined ? ['taskset', '-c', cpu, ...full] : full;
  const child = spawnTracked(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, next: jsonLines(child.stdout!), line: shellLine(cmd) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer after ${ms} ms`)), ms))),
  ]);
}

/** Wait until a file stops growing for `quietMs`. */
async function settle(path: string, quietMs: number, maxMs = 60_000): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  let since = Date.now();
  while (Date.now() - t0 < maxMs) {
    const size = statSync(path).size;
    if (size !== last) {
      last = size;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await sleep(100);
  }
}

/** Lines of conntrack -E output: total, [NEW], [DESTROY]. */
async function countEventLines(path: string): Promise<{ lines: number; new: number; destroy: number }> {
  const { createReadStream } = await import('node:fs');
  const out = { lines: 0, new: 0, destroy: 0 };
  const rl = createInterface({ input: createReadStream(path, { highWaterMark: 1 << 20 }) });
  for await (const line of rl) {
    out.lines++;
    if (line.includes('[NEW]')) out.new++;
    else if (line.includes('[DESTROY]')) out.destroy++;
  }
  return out;
}

interface ConntrackE {
  file: string;
  stop(): Promise<{ lines: number; new: number; destroy: number; shown: number; enobufs: number; stderr: string }>;
  line: string;
}

/** `conntrack -E -e NEW,DESTROY` in `ns`, its stdout straight into a file (no pipe to us). */
async function startConntrackE(ns: BenchNetns, dir: string): Promise<ConntrackE> {
  const file = join(dir, 'conntrack-E.txt');
  const fd = openSync(file, 'w');
  const cmd = [...ns.prefix, 'conntrack', '-E', '-e', 'NEW,DESTROY'];
  const full = PIN_LISTENER !== undefined ? ['taskset', '-c', PIN_LISTENER, ...cmd] : cmd;
  const p = spawnTracked(full[0]!, full.slice(1), { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  // conntrack -E prints nothing when it is subscribed: give it time to bind.
  await sleep(500);
  if (p.exitCode !== null) throw new Error(`conntrack -E exited: ${stderr}`);
  return {
    file,
    line: `${shellLine(full)} > ${file}`,
    stop: async () => {
      await quiesce(p.pid!, 1500);
      await settle(file, 500);
      p.kill('SIGINT'); // conntrack -E exits(0) on SIGINT, flushing stdout, and prints its own count
      await withTimeout(exited(p), 10_000, 'conntrack -E exit');
      const c = await countEventLines(file);
      const shown = /(\d+) flow events have been shown/.exec(stderr);
      return { ...c, shown: shown ? Number(shown[1]) : -1, enobufs: (stderr.match(/ENOBUFS/g) ?? []).length, stderr: stderr.trim() };
    },
  };
}

function sec(ms: number): string {
  return fmtSec(ms / 1000);
}

// ---------------------------------------------------------------------------------------
// 1. decode

async function benchDecode(): Promise<Result> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  let capture = CAPTURE;
  let recordDir: string | undefined;
  if (capture === undefined) {
    recordDir = KEEP_CAPTURE ? undefined : tempDir();
    capture = join(recordDir ?? '/tmp', 'ctbench-events.pcap');
    process.stderr.write(`decode: recording ${fmtInt(2 * DECODE_FLOWS)} events to ${capture} ...\n`);
    const rec = await recordCapture(capture, DECODE_FLOWS);
    commands.push(
      `# recording (in-process subscription NEW+DESTROY, onDatagram -> PcapWriter -> ${capture}, 512 MiB receive buffer)`,
      `ip netns add ctbench-PID-rec-N; ip netns exec ctbench-PID-rec-N ip link set lo up`,
      `ip netns exec ctbench-PID-rec-N nft -f - <<EOF\n${RULESET}EOF`,
      `ip netns exec ctbench-PID-rec-N sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3600 net.netfilter.nf_conntrack_events=1`,
      ...rec.rounds.map((r, i) => `# round ${i + 1}: taskset -c ${SENDER_CPU} ip netns exec ctbench-PID-rec-N FLOOD ${r.flows} 0; wait for ${r.flows} NEW; ConntrackClient.flush(); wait for ${r.flows} DESTROY`),
    );
    rows.push(
      ['decode: capture', 'events recorded (NEW + DESTROY)', `${fmtInt(rec.new)} + ${fmtInt(rec.destroy)}`],
      ['decode: capture', 'datagrams / file size', `${fmtInt(rec.datagrams)} / ${fmtMiB(rec.bytes)}`],
      ['decode: capture', 'overruns while recording (lost)', `${rec.overruns} (${rec.lost})`],
      ['decode: capture', 'recording time', fmtSec(rec.seconds)],
    );
    for (const [i, r] of rec.rounds.entries()) {
      notes.push(`recording round ${i + 1}: ${fmtInt(r.flows)} flows at ${fmtInt(r.floodPerSecond)} flows/s -> ${fmtInt(r.new)} NEW, ${fmtInt(r.destroy)} DESTROY`);
    }
  } else {
    rows.push(['decode: capture', 'file (given)', `${capture} (${fmtMiB(statSync(capture).size)})`]);
  }

  const worker = async (mode: string, extra: string[] = []) => {
    const c = nodeChild('decode.js', [capture!, '--mode', mode, ...extra], '1');
    commands.push(c.line);
    const r = await withTimeout(c.next(), 600_000, `decode ${mode}`);
    await exited(c.child);
    if (r.eof) throw new Error(`decode ${mode} failed`);
    return r as Record<string, any>;
  };

  const mem = await worker('memory', ['--iterations', String(ITERATIONS)]);
  const runs = mem.runs as { seconds: number; messagesPerSecond: number }[];
  const rates = runs.map((r) => r.messagesPerSecond);
  const counts = mem.counts as { messages: number; new: number; destroy: number };
  rows.push(
    ['decode: in memory', 'messages decoded per pass (NEW + DESTROY)', `${fmtInt(counts.messages)} (${fmtInt(counts.new)} + ${fmtInt(counts.destroy)})`],
    ['decode: in memory', 'load: readFileSync + parseCapture/netlinkPayload', `${fmtSec(mem.readFileSeconds)} + ${fmtSec(mem.parseCaptureSeconds)}`],
    ['decode: in memory', `decodeDatagram, msg/s (median of ${runs.length}; first pass incl. JIT warm-up)`, fmtInt(median(rates))],
    ['decode: in memory', 'decodeDatagram, msg/s (best / first pass)', `${fmtInt(Math.max(...rates))} / ${fmtInt(rates[0]!)}`],
    ['decode: in memory', 'per message (median)', `${(1e9 / median(rates)).toFixed(0)} ns`],
  );
  const memSamples = mem.samples as { heapUsedMiB: number; rssMiB: number }[];
  const memHeap = memSamples.map((s) => s.heapUsedMiB);
  rows.push(['decode: in memory', 'heapUsed min..max over last pass (all datagrams resident)', `${memHeap.length ? Math.min(...memHeap).toFixed(0) : '?'}..${memHeap.length ? Math.max(...memHeap).toFixed(0) : '?'} MiB`]);

  type Sample = { messages: number; heapUsedMiB: number; rssMiB: number; arrayBuffersMiB: number };
  const range = (xs: number[], d = 1) => `${Math.min(...xs).toFixed(d)}..${Math.max(...xs).toFixed(d)} MiB`;

  const stream = await worker('stream');
  const sc = stream.counts as { messages: number };
  const samples = stream.samples as Sample[];
  rows.push(
    ['decode: streaming', 'readNetlinkDatagramBatches(file) -> decodeDatagram, msg/s', fmtInt(stream.perSecond)],
    ['decode: streaming', 'messages / time', `${fmtInt(sc.messages)} / ${fmtSec(stream.seconds)}`],
    ['decode: streaming', `heapUsed min..max (${samples.length} samples, every 50k msgs)`, range(samples.map((x) => x.heapUsedMiB))],
    ['decode: streaming', 'RSS min..max (same samples)', range(samples.map((x) => x.rssMiB))],
    ['decode: streaming', 'arrayBuffers min..max (64 KiB read chunks not yet collected)', range(samples.map((x) => x.arrayBuffersMiB))],
    ['decode: streaming', 'peak RSS (getrusage)', fmtMiB(stream.maxRssKiB * 1024)],
  );
  notes.push(
    'streaming, 1 pass (messages: heapUsed / RSS / arrayBuffers, MiB): ' +
      samples.filter((_, i) => i % 4 === 0 || i === samples.length - 1).map((x) => `${x.messages / 1000}k: ${x.heapUsedMiB.toFixed(1)}/${x.rssMiB.toFixed(0)}/${x.arrayBuffersMiB.toFixed(0)}`).join(', '),
  );

  const read = await worker('read');
  const rc = (read.counts as { datagrams: number }).datagrams;
  rows.push(['decode: pcap read only', 'readNetlinkDatagramBatches(file), datagrams/s', `${fmtInt(read.perSecond)} (${fmtInt(rc)} in ${fmtSec(read.seconds)})`]);
  const decodeShare = stream.seconds - read.seconds;
  if (decodeShare > 0) rows.push(['decode: streaming', 'decode share (streaming - read only) -> msg/s', `${fmtSec(decodeShare)} -> ${fmtInt(sc.messages / decodeShare)}`]);

  const parser = await worker('parser');
  const parserRead = await worker('parser-read');
  rows.push(
    ['decode: streaming, sync parser', 'CaptureParser per 64 KiB chunk -> netlinkPayload -> decodeDatagram, msg/s', `${fmtInt(parser.perSecond)} (${fmtSec(parser.seconds)})`],
    ['decode: streaming, sync parser', 'the same without decoding (read only), datagrams/s', `${fmtInt(parserRead.perSecond)} (${fmtSec(parserRead.seconds)})`],
  );

  const long = await worker('stream', ['--passes', '3']);
  const ls = long.samples as Sample[];
  rows.push(
    ['decode: streaming x3', `${fmtInt((long.counts as { messages: number }).messages)} msgs (file read 3 times), msg/s`, fmtInt(long.perSecond)],
    ['decode: streaming x3', `heapUsed / RSS min..max (${ls.length} samples)`, `${range(ls.map((x) => x.heapUsedMiB))} / ${range(ls.map((x) => x.rssMiB), 0)}`],
    ['decode: streaming x3', 'RSS max over 1st / 2nd / 3rd million', [0, 1, 2].map((k) => Math.max(...ls.filter((x) => x.messages > k * 1e6 && x.messages <= (k + 1) * 1e6).map((x) => x.rssMiB)).toFixed(0)).join(' / ') + ' MiB'],
  );
  notes.push('decode workers run under `taskset -c 1`: the JS thread and V8 GC/compiler threads share one core.');
  if (recordDir !== undefined) removeTempDir(recordDir);
  else if (CAPTURE === undefined) notes.push(`capture kept: ${capture}`);
  return { rows, commands, notes };
}

// ---------------------------------------------------------------------------------------
// 2. flood (+ 4a through ctevents)

interface FloodRun {
  ours: Record<string, number | string>;
  conntrackE: { lines: number; new: number; destroy: number; shown: number; enobufs: number; stderr: string };
  floodSeconds: number;
  floodPerSecond: number;
  flushMs: number;
  elapsedMs: number;
  commands: string[];
}

/** A listener process: ours (listener.js) or the ctevents CLI. */
interface Listener {
  line: string;
  ready: Promise<void>;
  /** Resolves with its counts once done (it stops itself, or is stopped after going quiet). */
  result(): Promise<Record<string, number | string>>;
}

function ourListener(ns: BenchNetns, expect: number, extra: string[] = []): Listener {
  const c = nodeChild('listener.js', ['--netns', ns.name, '--expect', String(expect), '--idle-ms', '5000', ...extra], PIN_LISTENER);
  return {
    line: c.line,
    ready: c.next().then((r) => {
      if (r.ready !== true) throw new Error('listener did not start');
    }),
    result: async () => {
      const r = await withTimeout(c.next(), 180_000, 'listener');
      await exited(c.child);
      if (r.eof) throw new Error('listener died');
      return r as Record<string, number | string>;
    },
  };
}

/** CPU time (ticks) a process has used so far, from /proc/PID/stat. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return -1;
  }
}

/** Wait until a process has used no CPU for `quietMs` (it has caught up). */
async function quiesce(pid: number, quietMs: number, maxMs = 120_000): Promise<void> {
  const t0 = Date.now();
  let last = -2;
  let since = Date.now();
  while (Date.now() - t0 < maxMs) {
    const t = cpuTicks(pid);
    if (t < 0) return;
    if (t !== last) {
      last = t;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await sleep(100);
  }
}

/**
 * `ctevents --format json > /dev/null` (or --format FORMAT) with default settings. Its counts come from the
 * summary line it writes to stderr on exit (Ctrl-C), e.g.
 * "ctevents: 500000 events (new 250000, update 0, destroy 250000), 0 lost, 3.10 s, ...".
 */
function cteventsListener(ns: BenchNetns): Listener {
  const cmd = [...ns.prefix, NODE, CTEVENTS, '--format', CLI_FORMAT];
  const full = PIN_LISTENER !== undefined ? ['taskset', '-c', PIN_LISTENER, ...cmd] : cmd;
  const devnull = openSync('/dev/null', 'w');
  const p = spawnTracked(full[0]!, full.slice(1), { stdio: ['ignore', devnull, 'pipe'] });
  closeSync(devnull);
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  return {
    line: `${shellLine(full)} > /dev/null`,
    ready: sleep(1000).then(() => {
      if (p.exitCode !== null) throw new Error(`ctevents exited: ${stderr}`);
    }),
    result: async () => {
      await quiesce(p.pid!, 1500);
      p.kill('SIGINT');
      await withTimeout(exited(p), 10_000, 'ctevents exit');
      const summary = stderr.split('\n').reverse().find((l) => /\bevents\b/.test(l)) ?? '';
      const num = (re: RegExp) => Number(re.exec(summary)?.[1] ?? NaN);
      return {
        new: num(/new (\d+)/),
        update: num(/update (\d+)/),
        destroy: num(/destroy (\d+)/),
        events: num(/(\d+) events/),
        lost: num(/(\d+)\+? lost/),
        overruns: /overruns/.test(summary) ? num(/\((\d+) overruns\)/) : 'n/a (JSON overrun lines went to /dev/null)',
        summary: summary.trim(),
        stderr: stderr.trim().slice(0, 600),
      };
    },
  };
}

async function floodOnce(make: (ns: BenchNetns, dir: string) => Listener): Promise<FloodRun> {
  const ns = createNetns('flood');
  const dir = tempDir();
  try {
    const listener = make(ns, dir);
    await listener.ready;
    const cte = await startConntrackE(ns, dir);
    const flusher = await ConntrackClient.open({ netns: ns.name });
    const t0 = nowMs();
    const f = await flood(ns, FLOWS, 0, SENDER_CPU);
    const t1 = nowMs();
    await flusher.flush();
    const t2 = nowMs();
    await flusher.close();
    const ours = await listener.result();
    const ce = await cte.stop();
    const last = typeof ours.lastMs === 'number' && ours.lastMs > 0 ? ours.lastMs : t2;
    return {
      ours,
      conntrackE: ce,
      floodSeconds: f.seconds,
      floodPerSecond: f.perSecond,
      flushMs: t2 - t1,
      elapsedMs: last - t0,
      commands: [
        `ip netns add ${ns.name}; ip netns exec ${ns.name} ip link set lo up`,
        `ip netns exec ${ns.name} nft -f - <<EOF\n${RULESET}EOF`,
        `ip netns exec ${ns.name} sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3600 net.netfilter.nf_conntrack_events=1`,
        listener.line,
        cte.line,
        shellLine(floodArgv(ns, FLOWS, 0, SENDER_CPU)),
        `# then ConntrackClient.open({ netns: '${ns.name}' }).flush()   (same as: ip netns exec ${ns.name} conntrack -F)`,
        `ip netns del ${ns.name}`,
      ],
    };
  } finally {
    ns.remove();
    removeTempDir(dir);
  }
}

function floodRows(label: string, who: string, runs: FloodRun[]): Row[] {
  const rows: Row[] = [];
  const expect = 2 * FLOWS;
  for (const [i, r] of runs.entries()) {
    const tag = runs.length > 1 ? `${label} #${i + 1}` : label;
    const o = r.ours;
    rows.push(
      [tag, `flows created (sender on CPU ${SENDER_CPU})`, `${fmtInt(FLOWS)} in ${fmtSec(r.floodSeconds)} (${fmtInt(r.floodPerSecond)}/s)`],
      [tag, 'flush (ConntrackClient.flush)', sec(r.flushMs)],
      [tag, `${who}: NEW + DESTROY of ${fmtInt(expect)}`, `${fmtInt(Number(o.new))} + ${fmtInt(Number(o.destroy))} = ${fmtInt(Number(o.new) + Number(o.destroy))}`],
      [tag, `${who}: lost`, fmtInt(expect - Number(o.new) - Number(o.destroy))],
      typeof o.overruns === 'number'
        ? [tag, `${who}: overrun markers (kernel lost count)`, `${o.overruns} (${fmtInt(Number(o.lost))})`]
        : [tag, `${who}: lost according to its exit summary`, fmtInt(Number(o.lost))],
      [tag, 'conntrack -E: NEW + DESTROY lines (its own count)', `${fmtInt(r.conntrackE.new)} + ${fmtInt(r.conntrackE.destroy)} = ${fmtInt(r.conntrackE.new + r.conntrackE.destroy)} (${fmtInt(r.conntrackE.shown)})`],
      [tag, 'conntrack -E: lost / ENOBUFS warnings', `${fmtInt(expect - r.conntrackE.new - r.conntrackE.destroy)} / ${r.conntrackE.enobufs}`],
      typeof o.lastMs === 'number'
        ? [tag, `elapsed: flood start -> last event (${who})`, sec(r.elapsedMs)]
        : [tag, 'elapsed: flood start -> flush acknowledged', sec(r.elapsedMs)],
    );
    if (o.userMs !== undefined) {
      rows.push([tag, `${who}: CPU user + sys, peak RSS`, `${sec(Number(o.userMs))} + ${sec(Number(o.systemMs))}, ${fmtMiB(Number(o.maxRssKiB) * 1024)}`]);
    }
  }
  return rows;
}

async function benchFlood(): Promise<Result> {
  const runs: FloodRun[] = [];
  for (let i = 0; i < REPEAT; i++) {
    process.stderr.write(`flood: run ${i + 1}/${REPEAT} (${fmtInt(FLOWS)} flows) ...\n`);
    runs.push(await floodOnce((ns) => ourListener(ns, 2 * FLOWS)));
  }
  const notes = [
    `listener: ConntrackClient.events({ types: ['new', 'destroy'] }), default settings (64 MiB receive buffer, 256 MiB receive-thread backlog, 4 MiB consumer queue), drain()/wait() loop, in its own process` +
      (PIN_LISTENER !== undefined ? ` pinned to CPU ${PIN_LISTENER}` : ' (not pinned)'),
    'conntrack -E (1.4.7) runs with its default receive buffer (-b is broken in 1.4.7); its stdout goes straight to a file.',
  ];
  const errs = runs.map((r) => r.conntrackE.stderr).filter((s) => s.length > 0);
  if (errs.length) notes.push(`conntrack -E stderr (first run): ${errs[0]!.split('\n').slice(0, 3).join(' | ')}`);
  return { rows: floodRows('flood', 'ours', runs), commands: runs[0]!.commands, notes };
}

async function benchCliFlood(): Promise<Result> {
  if (!existsSync(CTEVENTS)) return skipped('cli-flood');
  const runs: FloodRun[] = [];
  for (let i = 0; i < REPEAT; i++) {
    process.stderr.write(`cli-flood: run ${i + 1}/${REPEAT} ...\n`);
    runs.push(await floodOnce((ns) => cteventsListener(ns)));
  }
  const notes = [
    `ctevents --format ${CLI_FORMAT}: default settings, stdout to /dev/null; counts from its exit summary on stderr (stopped with SIGINT once it used no CPU for 1.5 s).`,
  ];
  for (const r of runs) notes.push(`ctevents summary: ${String(r.ours.summary) || '(none) ' + String(r.ours.stderr)}`);
  return { rows: floodRows('cli-flood', 'ctevents', runs), commands: runs[0]!.commands, notes };
}

function skipped(name: string): Result {
  const msg = `skipped: ${CTEVENTS} is absent (build the ctevents CLI first)`;
  process.stderr.write(`${name}: ${msg}\n`);
  return { rows: [[name, 'skipped', `${CTEVENTS} absent`]], commands: [], notes: [`${name}: ${msg}`] };
}

// ---------------------------------------------------------------------------------------
// 2b. burst: acct + timestamps on, four listeners side by side

/** The C listener (bench/listener.c) in `ns`: counts NEW / DESTROY messages, reads SO_MEMINFO drops. */
function cListener(ns: BenchNetns, expect: number): Listener {
  const cmd = [...ns.prefix, listenerProgram(), '--expect', String(expect), '--idle-ms', '5000'];
  const full = PIN_LISTENER !== undefined ? ['taskset', '-c', PIN_LISTENER, ...cmd] : cmd;
  const p = spawnTracked(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const next = jsonLines(p.stdout!);
  return {
    line: shellLine(full),
    ready: next().then((r) => {
      if (r.ready !== true) throw new Error('C listener did not start');
    }),
    result: async () => {
      const r = await withTimeout(next(), 180_000, 'C listener');
      await exited(p);
      if (r.eof) throw new Error('C listener died');
      return r as Record<string, number | string>;
    },
  };
}

async function benchBurst(): Promise<Result> {
  const rows: Row[] = [];
  const notes: string[] = [];
  let commands: string[] = [];
  const expect = 2 * FLOWS;
  const haveCli = existsSync(CTEVENTS);
  for (let i = 0; i < REPEAT; i++) {
    process.stderr.write(`burst: run ${i + 1}/${REPEAT} (${fmtInt(FLOWS)} flows, acct + timestamps) ...\n`);
    const ns = createNetns('burst');
    const dir = tempDir();
    try {
      ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']);
      ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_timestamp=1']);
      const lib = ourListener(ns, expect);
      const noThread = BURST_NO_THREAD ? ourListener(ns, expect, ['--thread-buffer', '0']) : undefined;
      const cli = haveCli ? cteventsListener(ns) : undefined;
      const c = cListener(ns, expect);
      await Promise.all([lib.ready, noThread?.ready, cli?.ready, c.ready]);
      const cte = await startConntrackE(ns, dir);
      const flusher = await ConntrackClient.open({ netns: ns.name });
      const t0 = nowMs();
      const f = await flood(ns, FLOWS, 0, SENDER_CPU);
      const t1 = nowMs();
      await flusher.flush();
      const t2 = nowMs();
      await flusher.close();
      const [ours, nt, cliRes, cRes] = await Promise.all([lib.result(), noThread?.result(), cli?.result(), c.result()]);
      const ce = await cte.stop();
      const tag = REPEAT > 1 ? `burst #${i + 1}` : 'burst';
      const got = (o: Record<string, number | string>) => Number(o.new) + Number(o.destroy);
      rows.push(
        [tag, `flows created (acct + timestamps on)`, `${fmtInt(FLOWS)} in ${fmtSec(f.seconds)} (${fmtInt(f.perSecond)}/s)`],
        [tag, 'flush (ConntrackClient.flush)', sec(t2 - t1)],
        [tag, `ours, library (ConntrackClient.events): NEW + DESTROY of ${fmtInt(expect)}`, `${fmtInt(Number(ours.new))} + ${fmtInt(Number(ours.destroy))} = ${fmtInt(got(ours))}`],
        [tag, 'ours, library: overrun markers (lost)', `${ours.overruns} (${fmtInt(Number(ours.lost))})`],
        [tag, 'ours, library: CPU user + sys, peak RSS', `${sec(Number(ours.userMs))} + ${sec(Number(ours.systemMs))}, ${fmtMiB(Number(ours.maxRssKiB) * 1024)}`],
      );
      if (nt) {
        rows.push(
          [tag, `ours, library, receive thread OFF (--thread-buffer 0, the old path): NEW + DESTROY`, `${fmtInt(Number(nt.new))} + ${fmtInt(Number(nt.destroy))} = ${fmtInt(got(nt))}`],
          [tag, 'ours, library, receive thread OFF: overrun markers (lost)', `${nt.overruns} (${fmtInt(Number(nt.lost))})`],
        );
      }
      if (cliRes) {
        rows.push(
          [tag, `ctevents --format json: NEW + DESTROY of ${fmtInt(expect)}`, `${fmtInt(Number(cliRes.new))} + ${fmtInt(Number(cliRes.destroy))} = ${fmtInt(got(cliRes))}`],
          [tag, 'ctevents --format json: lost (its exit summary)', fmtInt(Number(cliRes.lost))],
        );
        notes.push(`burst ctevents summary: ${String(cliRes.summary) || '(none) ' + String(cliRes.stderr)}`);
      }
      rows.push(
        [tag, `conntrack -E: NEW + DESTROY lines of ${fmtInt(expect)}`, `${fmtInt(ce.new)} + ${fmtInt(ce.destroy)} = ${fmtInt(ce.new + ce.destroy)} (${ce.enobufs} ENOBUFS warnings)`],
        [tag, `C listener (the limit): NEW + DESTROY of ${fmtInt(expect)}`, `${fmtInt(Number(cRes.new))} + ${fmtInt(Number(cRes.destroy))} = ${fmtInt(got(cRes))}`],
        [tag, 'C listener: ENOBUFS / SO_MEMINFO drops / SO_RCVBUF', `${cRes.enobufs} / ${fmtInt(Number(cRes.drops))} / ${fmtMiB(Number(cRes.rcvbuf))}`],
        [tag, 'elapsed: flood start -> flush acknowledged', sec(t2 - t0)],
      );
      if (i === 0) {
        commands = [
          `ip netns add ${ns.name}; ip netns exec ${ns.name} ip link set lo up`,
          `ip netns exec ${ns.name} nft -f - <<EOF\n${RULESET}EOF`,
          `ip netns exec ${ns.name} sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3600 net.netfilter.nf_conntrack_events=1 net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1`,
          lib.line,
          ...(noThread ? [noThread.line] : []),
          ...(cli ? [cli.line] : []),
          c.line,
          cte.line,
          shellLine(floodArgv(ns, FLOWS, 0, SENDER_CPU)),
          `# then ConntrackClient.open({ netns: '${ns.name}' }).flush()   (same as: ip netns exec ${ns.name} conntrack -F)`,
          `ip netns del ${ns.name}`,
        ];
      }
    } finally {
      ns.remove();
      removeTempDir(dir);
    }
  }
  notes.push(
    'burst: all four listeners run at the same time, default settings each (ours: 64 MiB SO_RCVBUFFORCE + the 256 MiB receive-thread backlog; the C listener: 64 MiB SO_RCVBUFFORCE and nothing else; conntrack -E: its own default).',
    `LISTENER = cc -O2 bench/listener.c -o $TMP/listener (compiled per run into a temporary directory)`,
  );
  if (!haveCli) notes.push(`burst: ${CTEVENTS} absent: the ctevents column was skipped`);
  return { rows, commands, notes };
}

// ---------------------------------------------------------------------------------------
// 3. dump (+ 4b through ctevents)

/** Peak RSS (KiB) of one run of a command, by GNU time (its own stdout discarded). */
function peakRssOf(cmd: string[]): number {
  const res = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const m = /MAXRSS (\d+)/.exec(res.stderr ?? '');
  if (!m) throw new Error(`no RSS figure from: ${shellLine(cmd)}: ${res.stderr}`);
  return Number(m[1]);
}

async function dumpSizes(
  label: string,
  commandsFor: (ns: BenchNetns) => { name: string; cmd: string; argv: string[] }[],
): Promise<Result> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  const ns = createNetns('dump');
  const dir = tempDir();
  try {
    commands.push(
      `ip netns add ${ns.name}; ip netns exec ${ns.name} ip link set lo up`,
      `ip netns exec ${ns.name} nft -f - <<EOF\n${RULESET}EOF`,
      `ip netns exec ${ns.name} sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3600 net.netfilter.nf_conntrack_events=1`,
    );
    const small = Math.min(50_000, FLOWS);
    let have = 0;
    // 0 entries first: the fixed cost of each command (process start, module loading).
    for (const size of small < FLOWS ? [0, small, FLOWS] : [0, FLOWS]) {
      if (size > have) {
        const f = await flood(ns, size - have, have, SENDER_CPU);
        commands.push(shellLine(floodArgv(ns, size - have, have, SENDER_CPU)));
        if (f.failed > 0) notes.push(`${label}: sender: ${f.failed} datagrams failed, errno ${f.lastErrno}`);
      }
      have = size;
      const count = tableCount(ns);
      if (count !== size) notes.push(`${label}: table holds ${count} entries, expected ${size}`);
      process.stderr.write(`${label}: ${fmtInt(count)} entries\n`);
      const cmds = commandsFor(ns);
      // Paired rounds (A B A B ...): each figure beside conntrack's as per-round ratios (issue 14).
      const res = pairedRuns(cmds.map(({ name, argv }) => ({ name, argv })), RUNS, 1);
      commands.push(...pairedCommandLines(res, RUNS, 1));
      const tag = `${label} ${fmtInt(count)}`;
      rows.push(...pairedRows(tag, res, cmds.slice(1).map((c) => [c.name, cmds[0]!.name] as [string, string])));
      for (const c of cmds) {
        const kib = peakRssOf(c.argv);
        rows.push([tag, `${c.name}: peak RSS`, fmtMiB(kib * 1024)]);
      }
      commands.push(...cmds.map((c) => shellLine(['/usr/bin/time', '-f', '%M', ...c.argv])));
    }
  } finally {
    ns.remove();
    removeTempDir(dir);
  }
  commands.push(`ip netns del ${ns.name}`);
  return { rows, commands, notes };
}

async function benchDump(): Promise<Result> {
  const r = await dumpSizes('dump', (ns) => [
    { name: 'conntrack -L', cmd: `${shellLine([...ns.prefix, 'conntrack', '-L'])} > /dev/null`, argv: [...ns.prefix, 'conntrack', '-L'] },
    {
      name: 'ours dumpBatches()',
      cmd: `${shellLine([...ns.prefix, NODE, join(BENCH_BUILD, 'dump.js')])} > /dev/null`,
      argv: [...ns.prefix, NODE, join(BENCH_BUILD, 'dump.js')],
    },
    {
      name: 'ours dump() per entry',
      cmd: `${shellLine([...ns.prefix, NODE, join(BENCH_BUILD, 'dump.js'), '--entries'])} > /dev/null`,
      argv: [...ns.prefix, NODE, join(BENCH_BUILD, 'dump.js'), '--entries'],
    },
  ]);
  r.notes.push('dump: ratios are per paired round (our time / `conntrack -L` time in the same round), min / median / max; target (issue 14) for the library dump at 250,000 entries <= 0.8; all commands run through `ip netns exec`, node start-up and module loading included (see the 0-entry rows).');
  return r;
}

async function benchCliDump(): Promise<Result> {
  if (!existsSync(CTEVENTS)) return skipped('cli-dump');
  const r = await dumpSizes('cli-dump', (ns) => [
    { name: 'conntrack -L', cmd: `${shellLine([...ns.prefix, 'conntrack', '-L'])} > /dev/null`, argv: [...ns.prefix, 'conntrack', '-L'] },
    {
      name: 'ctevents dump --format conntrack',
      cmd: `${shellLine([...ns.prefix, NODE, CTEVENTS, 'dump', '--format', 'conntrack'])} > /dev/null`,
      argv: [...ns.prefix, NODE, CTEVENTS, 'dump', '--format', 'conntrack'],
    },
    {
      name: 'ctevents dump --format json',
      cmd: `${shellLine([...ns.prefix, NODE, CTEVENTS, 'dump', '--format', 'json'])} > /dev/null`,
      argv: [...ns.prefix, NODE, CTEVENTS, 'dump', '--format', 'json'],
    },
  ]);
  r.notes.push('cli-dump: targets (issue 14) at 250,000 entries: conntrack format <= 0.9x, json <= 1.0x `conntrack -L` (paired ratios, min / median / max).');
  return r;
}

// ---------------------------------------------------------------------------------------
// main

async function main(): Promise<void> {
  installCleanup();
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, CAP_NET_ADMIN)\n');
    process.exit(1);
  }
  const unknown = argv.filter((a) => a.startsWith('--'));
  if (unknown.length) throw new Error(`unknown option(s): ${unknown.join(' ')}`);
  const names = argv.length > 0 ? argv : Object.keys(BENCHES).filter((n) => n !== 'dos');
  for (const n of names) if (!BENCHES[n]) throw new Error(`unknown benchmark ${n}; known: ${Object.keys(BENCHES).join(', ')}`);

  let max = sh('sysctl', ['-n', 'net.netfilter.nf_conntrack_max']).trim();
  if (RAISE_MAX && Number(max) < FLOWS + 1000) {
    // GLOBAL sysctl: restored by the exit hook (normal exit, failure, signals all end in process.exit).
    const old = max;
    process.on('exit', () => {
      try {
        sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${old}`]);
      } catch {
        process.stderr.write(`bench: could not restore nf_conntrack_max=${old}\n`);
      }
    });
    sh('sysctl', ['-qw', `net.netfilter.nf_conntrack_max=${FLOWS + 50_000}`]);
    process.stderr.write(`bench: nf_conntrack_max ${old} -> ${FLOWS + 50_000} (GLOBAL; restored at exit)\n`);
    max = `${FLOWS + 50_000} (raised from ${old}, restored at exit)`;
  } else if (Number(max) < FLOWS + 1000) {
    throw new Error(`net.netfilter.nf_conntrack_max is ${max}, below --flows ${FLOWS}; lower --flows (global sysctls are left alone)`);
  }
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  for (const n of names) {
    const r = await BENCHES[n]!();
    rows.push(...r.rows);
    if (r.commands.length) commands.push(`# ${n}`, ...r.commands);
    notes.push(...r.notes);
  }
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? '?';
  const kernel = sh('uname', ['-r']).trim();
  const ctv = sh('conntrack', ['--version']).trim();
  process.stdout.write(`\n## Benchmark results (${new Date().toISOString()})\n`);
  process.stdout.write(`machine: ${cpu}, ${(await import('node:os')).cpus().length} CPUs; kernel ${kernel}; node ${process.version}; ${ctv}; nf_conntrack_max ${max}\n\n`);
  process.stdout.write(table(['benchmark', 'figure', 'value'], rows) + '\n\n');
  if (notes.length) process.stdout.write(notes.map((n) => `- ${n}`).join('\n') + '\n\n');
  process.stdout.write('### Commands\n\n');
  process.stdout.write(`FLOOD = ${'cc -O2 bench/flood.c -o $TMP/flood'} (compiled per run into a temporary directory)\n\n`);
  process.stdout.write(commands.join('\n') + '\n');
}

try {
  await main();
  process.exit(0);
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1); // the exit hook removes namespaces, children and temporary files
}
