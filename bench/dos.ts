/**
 * The DoS testbed (`npm run bench -- dos`): what keeps legitimate connections working when
 * the conntrack table of a router fills up.
 *
 * Four namespaces joined by veth pairs, addresses only inside them:
 *
 *   client 10.1.0.2 --- 10.1.0.1 [router] 10.3.0.1 --- 10.3.0.2 server
 *                                10.2.0.1
 *                                   |
 *                       attacker 10.2.0.2 (spoofs 10.66.0.0/16, routed back to it)
 *
 * The router forwards and tracks (nft: forward chain `ct state invalid drop`), with
 * nf_conntrack_tcp_loose=0 so that a legitimate connection whose entry was evicted really
 * breaks (as behind NAT). The other namespaces do not track. nf_conntrack_max is left at
 * its global default; the attacks fill the router's table to it.
 *
 * Legitimate load (bench/dos-peer.mjs): 500 long-lived TCP flows sending 8 bytes every
 * 3 s (echoed; dead after 5 s without echo), and new TCP connections at 200/s, each a
 * success when connect + request + reply take at most 1 s.
 *
 * Attacks (bench/dos-tools.c, compiled per run):
 *   a  unreplied UDP flood from spoofed /16 sources (udpflood, in the attacker)
 *   b  ASSURED ESTABLISHED entries created over ctnetlink, 432,000 s, /24 sources (ctfill, in the router)
 *   c  real bidirectional UDP flows that turn ASSURED, /24 sources (udpflows + echo on the
 *      server; the attacker opens max x 1.02 flows, then only keeps them going)
 *   d  concentrated: ASSURED entries from 4 sources, many flows each (ctfill /30)
 *   e  distributed: real UDP flows turning ASSURED from a whole /16 (udpflows /16)
 *
 * Modes: kernel alone; kernel tuned by hand (the router's timeouts shortened before the
 * attack, as an operator would: SHORT_TIMEOUTS plus ESTABLISHED 600 s); the guard
 * (`ctevents guard --apply --netns ROUTER`, default settings, started before the run).
 * Each (attack, mode) runs on freshly built namespaces: before (B s), during (D s, the
 * attack, counted from the moment the attack has filled the table to 89 % of
 * nf_conntrack_max: the fill time is reported, not counted), after (A s). Success =
 * attempts started in whole seconds of a phase that got their reply within 1 s.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ConntrackClient } from '../src/client/client.js';
import { SHORT_TIMEOUTS } from '../src/guard/guard.js';
import { DIST, ROOT, createNetns, exited, sh, sleep, spawnTracked, tempDir, type BenchNetns } from './util.js';

export type Mode = 'kernel' | 'tuned' | 'guard';
export type Attack = 'a' | 'b' | 'c' | 'd' | 'e';

export const ATTACKS: Record<Attack, string> = {
  a: 'a unreplied UDP flood, spoofed /16',
  b: 'b ASSURED via ctnetlink, /24',
  c: 'c real UDP flows -> ASSURED, /24',
  d: 'd concentrated: 4 sources, ASSURED',
  e: 'e distributed: real UDP flows, /16',
};

export interface DosOptions {
  before: number;
  during: number;
  after: number;
  /** New legitimate connections per second. */
  rate: number;
  /** Long-lived legitimate flows. */
  flows: number;
  intervalMs: number;
  /** At most this long for the attack to fill the table before "during" starts. */
  fillTimeout: number;
  /** Attack rates (packets, flows or inserts per second). */
  attackRate: Record<Attack, number>;
  /** Extra guard options (CLI words). */
  guardArgs?: string[];
  log?: (s: string) => void;
}

export const DEFAULT_DOS: DosOptions = {
  before: 4,
  during: 12,
  after: 8,
  rate: 200,
  flows: 500,
  intervalMs: 3000,
  fillTimeout: 40,
  attackRate: { a: 120_000, b: 150_000, c: 60_000, d: 150_000, e: 60_000 },
};

export interface ScenarioResult {
  attack: Attack;
  mode: Mode;
  success: { before: number; during: number; after: number };
  attempts: { before: number; during: number; after: number };
  flows: number;
  aliveEnd: number;
  peak: number;
  max: number;
  /** Seconds the attack took to fill the table to 89 % (not counted in any phase). */
  fillSeconds: number;
  drop: number;
  earlyDrop: number;
  attackSent: string;
  guard?: string;
  guardRestored?: boolean;
  notes: string[];
}

const CTEVENTS = join(DIST, 'cli', 'ctevents.cjs');
const PEER = join(ROOT, 'bench', 'dos-peer.mjs');
const TOOLS_SOURCE = join(ROOT, 'bench', 'dos-tools.c');
let tools: string | undefined;

export function dosTools(): string {
  if (tools) return tools;
  const out = join(tempDir(), 'dos-tools');
  sh('cc', ['-O2', '-Wall', '-o', out, TOOLS_SOURCE]);
  return (tools = out);
}

/** Sysctls of the router tuned by hand. */
export const TUNED: Record<string, number> = { ...SHORT_TIMEOUTS, nf_conntrack_tcp_timeout_established: 600 };

interface Topology {
  r: BenchNetns;
  c: BenchNetns;
  a: BenchNetns;
  s: BenchNetns;
  remove(): void;
}

function topology(): Topology {
  const r = createNetns('dosr');
  const c = createNetns('dosc');
  const a = createNetns('dosa');
  const s = createNetns('doss');
  const all = [r, c, a, s];
  // createNetns installs the loopback benchmark ruleset; the testbed wants its own.
  for (const n of all) n.exec('nft', ['flush', 'ruleset']);
  const link = (x: BenchNetns, xi: string, xa: string, y: BenchNetns, yi: string, ya: string) => {
    sh('ip', ['link', 'add', xi, 'netns', x.name, 'type', 'veth', 'peer', 'name', yi, 'netns', y.name]);
    x.exec('ip', ['addr', 'add', xa, 'dev', xi]);
    y.exec('ip', ['addr', 'add', ya, 'dev', yi]);
    x.exec('ip', ['link', 'set', xi, 'up']);
    y.exec('ip', ['link', 'set', yi, 'up']);
  };
  link(c, 'c0', '10.1.0.2/24', r, 'rc', '10.1.0.1/24');
  link(a, 'a0', '10.2.0.2/24', r, 'ra', '10.2.0.1/24');
  link(s, 's0', '10.3.0.2/24', r, 'rs', '10.3.0.1/24');
  c.exec('ip', ['route', 'add', 'default', 'via', '10.1.0.1']);
  a.exec('ip', ['route', 'add', 'default', 'via', '10.2.0.1']);
  s.exec('ip', ['route', 'add', 'default', 'via', '10.3.0.1']);
  r.exec('ip', ['route', 'add', '10.66.0.0/16', 'via', '10.2.0.2']);
  r.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
  for (const i of ['rc', 'ra', 'rs']) r.exec('sysctl', ['-qw', `net.ipv4.conf.${i}.rp_filter=0`]);
  r.exec('nft', ['-f', '-'], 'table inet dos {\n  chain fw { type filter hook forward priority 0; policy accept; ct state invalid drop; }\n}\n');
  // createNetns set a 3600 s UDP timeout for its own use: back to the kernel default.
  r.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=30', 'net.netfilter.nf_conntrack_tcp_loose=0']);
  // The server drops the unreplied flood's ports (no ICMP storm); no conntrack there.
  s.exec('nft', ['-f', '-'], 'table inet srv {\n  chain in { type filter hook input priority 0; udp dport 20000-59999 drop; }\n}\n');
  return { r, c, a, s, remove: () => all.forEach((n) => n.remove()) };
}

function lines(child: ChildProcess, onLine: (l: string) => void): void {
  createInterface({ input: child.stdout! }).on('line', onLine);
}

function cpuSum(ns: BenchNetns): { drop: number; earlyDrop: number } {
  const out = ns.exec('sh', ['-c', 'conntrack -S 2>/dev/null; true']);
  let drop = 0;
  let earlyDrop = 0;
  for (const m of out.matchAll(/\bdrop=(\d+)/g)) drop += Number(m[1]);
  for (const m of out.matchAll(/early_drop=(\d+)/g)) earlyDrop += Number(m[1]);
  return { drop, earlyDrop };
}

function attackArgv(t: Topology, attack: Attack, rate: number, seconds: number): string[] {
  const bin = dosTools();
  const d = String(seconds);
  const total = String(Math.ceil(Number(sh('sysctl', ['-n', 'net.netfilter.nf_conntrack_max']).trim()) * 1.02));
  switch (attack) {
    case 'a': return [...t.a.prefix, bin, 'udpflood', '10.3.0.2', '10.66.0.0', '16', String(rate), d];
    case 'b': return [...t.r.prefix, bin, 'ctfill', '10.66.0.0', '24', '10.3.0.2', String(rate), d];
    case 'c': return [...t.a.prefix, bin, 'udpflows', '10.3.0.2', '7', '10.66.0.0', '24', String(rate), d, total];
    case 'd': return [...t.r.prefix, bin, 'ctfill', '10.66.9.0', '30', '10.3.0.2', String(rate), d];
    case 'e': return [...t.a.prefix, bin, 'udpflows', '10.3.0.2', '7', '10.66.0.0', '16', String(rate), d, total];
  }
}

export async function runScenario(attack: Attack, mode: Mode, o: DosOptions): Promise<ScenarioResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const notes: string[] = [];
  const t = topology();
  const children: ChildProcess[] = [];
  let client: ConntrackClient | undefined;
  try {
    if (mode === 'tuned') t.r.exec('sysctl', ['-qw', ...Object.entries(TUNED).map(([k, v]) => `net.netfilter.${k}=${v}`)]);
    const before = { ...readSysctls(t.r) };
    const server = spawnTracked('ip', ['netns', 'exec', t.s.name, process.execPath, PEER, 'server'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const echo = spawnTracked('ip', ['netns', 'exec', t.s.name, dosTools(), 'echo', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server, echo);
    let guard: ChildProcess | undefined;
    let guardErr = '';
    const guardLog: Record<string, unknown>[] = [];
    if (mode === 'guard') {
      if (!existsSync(CTEVENTS)) throw new Error(`${CTEVENTS} is missing: npm run build`);
      const stateFile = join(tempDir(), 'guard-state.json');
      // DOS_GUARD_NODE_ARGS: extra node flags for the guard (e.g. --cpu-prof --cpu-prof-dir=DIR);
      // DOS_GUARD_ARGS: extra guard options (e.g. --nice=0).
      const nodeArgs = process.env.DOS_GUARD_NODE_ARGS ? process.env.DOS_GUARD_NODE_ARGS.split(' ').filter(Boolean) : [];
      guard = spawnTracked(process.execPath, [...nodeArgs, CTEVENTS, 'guard', '--apply', '--netns', t.r.name, '--state-file', stateFile, ...(o.guardArgs ?? []), ...(process.env.DOS_GUARD_ARGS ? process.env.DOS_GUARD_ARGS.split(' ').filter(Boolean) : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      guard.stderr!.on('data', (d) => (guardErr += d));
      lines(guard, (l) => {
        try {
          guardLog.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          /* not ours */
        }
      });
      children.push(guard);
    }
    await sleep(300);
    const peer = spawnTracked('ip', ['netns', 'exec', t.c.name, process.execPath, PEER, 'client', '10.3.0.2', String(o.rate), String(o.flows), String(o.intervalMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(peer);
    const secs: { t: number; attempts: number; ok: number }[] = [];
    let final: { alive: number; dead: number } | undefined;
    let ready!: () => void;
    const isReady = new Promise<void>((res) => (ready = res));
    lines(peer, (l) => {
      const v = JSON.parse(l) as Record<string, number | boolean>;
      if (v.ready) ready();
      else if (v.final) final = { alive: v.alive as number, dead: v.dead as number };
      else secs.push({ t: v.t as number, attempts: v.attempts as number, ok: v.ok as number });
    });
    await Promise.race([isReady, sleep(20_000)]);
    client = await ConntrackClient.open({ netns: t.r.name });
    let peak = 0;
    let max = 0;
    let now = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const st = await client!.stats();
        now = st.entries ?? 0;
        peak = Math.max(peak, now);
        max = st.maxEntries ?? max;
        await sleep(100);
      }
    })();
    const t0 = Date.now();
    await sleep(o.before * 1000);
    // The attack fills the table first (until 89 % of nf_conntrack_max, at most
    // fillTimeout s); "during" is the D s after that: the attack at full strength on a
    // full table, whatever the global max is.
    const tf = Date.now();
    const argv = attackArgv(t, attack, o.attackRate[attack], o.fillTimeout + o.during + 1);
    log(`dos: ${ATTACKS[attack]} / ${mode}: ${argv.join(' ')}`);
    const atk = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(atk);
    let atkOut = '';
    atk.stdout!.on('data', (d) => (atkOut += d));
    while (Date.now() - tf < o.fillTimeout * 1000 && !(max > 0 && now >= 0.89 * max) && atk.exitCode === null) await sleep(100);
    const fillSeconds = (Date.now() - tf) / 1000;
    if (!(now >= 0.89 * max)) notes.push(`the attack did not fill the table within ${o.fillTimeout} s (${now} of ${max})`);
    const t1 = Date.now();
    const s1 = cpuSum(t.r);
    await sleep(o.during * 1000);
    const t2 = Date.now();
    const s2 = cpuSum(t.r);
    if (atk.exitCode === null) atk.kill('SIGTERM');
    await sleep(o.after * 1000);
    const t3 = Date.now();
    sampling = false;
    await sampler;
    peer.kill('SIGTERM');
    await Promise.race([exited(peer), sleep(5000)]);
    await Promise.race([exited(atk), sleep(3000)]);
    let guardSummary: string | undefined;
    let restored: boolean | undefined;
    if (guard) {
      guard.kill('SIGTERM');
      await Promise.race([exited(guard), sleep(10_000)]);
      guardSummary = guardErr.trim().split('\n').pop();
      const after = readSysctls(t.r);
      restored = Object.keys(before).every((k) => after[k] === before[k]);
      if (!restored) notes.push(`guard left sysctls changed: ${JSON.stringify(Object.keys(before).filter((k) => after[k] !== before[k]))}`);
      if (process.env.DOS_GUARD_LOG) writeFileSync(`${process.env.DOS_GUARD_LOG}-${attack}.ndjson`, guardLog.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const errors = guardLog.filter((r) => r.action === 'error');
      if (errors.length) notes.push(`guard errors: ${JSON.stringify(errors.slice(0, 3))}`);
    }
    const phase = (a: number, b: number) => {
      let attempts = 0;
      let ok = 0;
      for (const s of secs) if (s.t >= a && s.t + 1000 <= b) {
        attempts += s.attempts;
        ok += s.ok;
      }
      return { attempts, pct: attempts ? (100 * ok) / attempts : NaN };
    };
    const pb = phase(t0, t1);
    const pd = phase(t1, t2);
    const pa = phase(t2, t3);
    return {
      attack, mode,
      success: { before: pb.pct, during: pd.pct, after: pa.pct },
      attempts: { before: pb.attempts, during: pd.attempts, after: pa.attempts },
      flows: o.flows, aliveEnd: final?.alive ?? -1, peak, max, fillSeconds,
      drop: s2.drop - s1.drop, earlyDrop: s2.earlyDrop - s1.earlyDrop,
      attackSent: atkOut.trim(),
      ...(guardSummary !== undefined ? { guard: guardSummary } : {}),
      ...(restored !== undefined ? { guardRestored: restored } : {}),
      notes,
    };
  } finally {
    await client?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    t.remove();
  }
}

function readSysctls(ns: BenchNetns): Record<string, string> {
  const out: Record<string, string> = {};
  const text = ns.exec('sh', ['-c', 'grep -H . /proc/sys/net/netfilter/nf_conntrack_*timeout* 2>/dev/null; true']);
  for (const l of text.split('\n')) {
    const m = /\/(nf_conntrack_\w+):(.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

const pct = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(1)} %`);

export function dosTable(results: ScenarioResult[]): string {
  const head = ['attack', 'mode', 'before', 'fill s', 'during', 'after', 'long-lived alive', 'peak / max', 'drop / early_drop (during)', 'guard'];
  const rows = results.map((r) => [
    ATTACKS[r.attack], r.mode, pct(r.success.before), r.fillSeconds.toFixed(1), pct(r.success.during), pct(r.success.after),
    `${r.aliveEnd} / ${r.flows}`, `${r.peak} / ${r.max}`, `${r.drop} / ${r.earlyDrop}`,
    r.guard ? r.guard.replace(/^ctevents: guard /, '').replace(/\(closing.*?\), /, '') + (r.guardRestored === false ? ' NOT RESTORED' : '') : '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

export interface DosRun {
  attacks: Attack[];
  modes: Mode[];
  options: DosOptions;
}

/** Take the dos options out of the benchmark's argv (before its unknown-option check). */
export function takeDosOptions(argv: string[]): DosRun {
  const o: DosOptions = { ...DEFAULT_DOS, attackRate: { ...DEFAULT_DOS.attackRate } };
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const attacks = (get('attacks') ?? 'a,b,c,d,e').split(',') as Attack[];
  const modes = (get('modes') ?? 'kernel,tuned,guard').split(',') as Mode[];
  for (const a of attacks) if (!(a in ATTACKS)) throw new Error(`--attacks: unknown attack ${a} (a, b, c, d, e)`);
  for (const m of modes) if (!['kernel', 'tuned', 'guard'].includes(m)) throw new Error(`--modes: unknown mode ${m}`);
  for (const k of ['before', 'during', 'after', 'fillTimeout'] as const) {
    const v = get(k);
    if (v !== undefined) o[k] = Number(v);
  }
  return { attacks, modes, options: o };
}

export async function benchDos(run: DosRun): Promise<{ rows: [string, string, string][]; commands: string[]; notes: string[] }> {
  const { attacks, modes, options: o } = run;
  const results: ScenarioResult[] = [];
  const notes: string[] = [];
  const commands: string[] = [`DOS = cc -O2 -Wall bench/dos-tools.c -o $TMP/dos-tools; peers: node bench/dos-peer.mjs`];
  for (const a of attacks) {
    for (const m of modes) {
      const r = await runScenario(a, m, o);
      results.push(r);
      process.stderr.write(`${dosTable([r])}\n`);
      notes.push(`${ATTACKS[a]} / ${m}: attack ${r.attackSent}${r.notes.length ? '; ' + r.notes.join('; ') : ''}`);
    }
  }
  process.stdout.write(`\n### DoS testbed (before ${o.before} s, during ${o.during} s, after ${o.after} s; ${o.rate} new connections/s, ${o.flows} long-lived flows)\n\n${dosTable(results)}\n`);
  commands.push(...(Object.keys(ATTACKS) as Attack[]).map((a) => `${a}: ${attackArgvText(a, o)}`));
  commands.push(`tuned: ip netns exec ROUTER sysctl -w ${Object.entries(TUNED).map(([k, v]) => `net.netfilter.${k}=${v}`).join(' ')}`);
  commands.push('guard: node dist/cli/ctevents.cjs guard --apply --netns ROUTER');
  const rows: [string, string, string][] = results.map((r) => [`dos ${ATTACKS[r.attack]}`, r.mode, `${pct(r.success.before)} / ${pct(r.success.during)} / ${pct(r.success.after)}; alive ${r.aliveEnd}/${r.flows}`]);
  return { rows, commands, notes };
}

function attackArgvText(a: Attack, o: DosOptions): string {
  const r = o.attackRate[a];
  const d = o.during;
  return {
    a: `ip netns exec ATTACKER $DOS udpflood 10.3.0.2 10.66.0.0 16 ${r} ${d}`,
    b: `ip netns exec ROUTER $DOS ctfill 10.66.0.0 24 10.3.0.2 ${r} ${d}`,
    c: `ip netns exec ATTACKER $DOS udpflows 10.3.0.2 7 10.66.0.0 24 ${r} ${d} MAX*1.02`,
    d: `ip netns exec ROUTER $DOS ctfill 10.66.9.0 30 10.3.0.2 ${r} ${d}`,
    e: `ip netns exec ATTACKER $DOS udpflows 10.3.0.2 7 10.66.0.0 16 ${r} ${d} MAX*1.02`,
  }[a];
}

export function guardSummaryLine(text: string): string | undefined {
  return text.split('\n').find((l) => l.includes('guard'));
}

export { readFileSync, spawnSync };
