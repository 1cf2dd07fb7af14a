/**
 * Benchmark plumbing: throwaway network namespaces (always removed, also on Ctrl-C and on
 * failure), the C flow generator (compiled into a temporary directory), child processes
 * that are killed on exit, and a few helpers for figures and tables.
 *
 * Nothing here touches global sysctls: settings are made inside the namespaces only.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns as createSharedNetns } from '../tools/netns.js';

/** Package root: bench/util.ts is one level down, build/bench/util.js two. */
const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = existsSync(join(HERE, '..', 'package.json')) ? join(HERE, '..') : join(HERE, '..', '..');
/** The built package (the CLI the cli-* benchmarks run). */
export const DIST = join(ROOT, 'dist');
/** The compiled benchmark scripts (`tsc -p bench`). */
export const BENCH_BUILD = join(ROOT, 'build', 'bench');

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
}

/** Quote an argv for display as a shell command line. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

// ---------------------------------------------------------------------------------------
// Cleanup registry

const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooked = false;

function cleanupSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  children.clear();
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  namespaces.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** Install exit / signal / crash handlers that remove everything created here. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up (${[...namespaces].join(', ') || 'no namespaces'})\n`);
      cleanupSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    cleanupSync();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    cleanupSync();
    process.exit(1);
  });
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ctbench-'));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

/** Spawn a child that is killed when the benchmark exits. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const c = spawn(cmd, args, opts);
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

export function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((res) => c.on('exit', (code) => res(code)));
}

// ---------------------------------------------------------------------------------------
// Namespaces

let nsCounter = 0;

export interface BenchNetns {
  name: string;
  /** argv prefix that runs a command inside the namespace. */
  prefix: string[];
  exec(cmd: string, args?: string[], input?: string): string;
  remove(): void;
}

/** The nftables ruleset of every benchmark namespace (loopback traffic only). */
export const RULESET = `table inet ctbench {
  chain out { type filter hook output priority 0; ct state new accept; }
  chain in { type filter hook input priority 0; meta l4proto udp drop; }
}
`;

/**
 * A namespace with loopback up, tracking on (`ct state new` in output), UDP dropped on
 * input (entries are confirmed on output first; dropping avoids ICMP port-unreachable
 * work), and an UNREPLIED UDP timeout of 3600 s so a 250k-entry table outlives a run.
 * The timeout sysctl is per namespace; nothing global changes.
 */
export function createNetns(tag: string): BenchNetns {
  installCleanup();
  const ns = createSharedNetns({
    name: `ctbench-${process.pid}-${tag}-${++nsCounter}`,
    ruleset: RULESET,
    sysctls: ['net.netfilter.nf_conntrack_udp_timeout=3600', 'net.netfilter.nf_conntrack_events=1'],
    onCreate: (n) => namespaces.add(n),
    onRemove: (n) => namespaces.delete(n),
  });
  return { name: ns.name, prefix: ['ip', 'netns', 'exec', ns.name], exec: ns.exec, remove: ns.remove };
}

/** Entries in the namespace's table (`conntrack -C`). */
export function tableCount(ns: BenchNetns): number {
  return Number(ns.exec('conntrack', ['-C']).trim());
}

// ---------------------------------------------------------------------------------------
// The C flow generator

export const FLOOD_SOURCE = join(ROOT, 'bench', 'flood.c');
let floodBinary: string | undefined;

/** Compile bench/flood.c with `cc -O2` into a temporary directory (once per run). */
export function floodProgram(): string {
  if (floodBinary !== undefined) return floodBinary;
  if (!existsSync(FLOOD_SOURCE)) throw new Error(`${FLOOD_SOURCE} is missing`);
  const out = join(tempDir(), 'flood');
  sh('cc', ['-O2', '-Wall', '-o', out, FLOOD_SOURCE]);
  floodBinary = out;
  return out;
}

export interface FloodResult {
  flows: number;
  sent: number;
  failed: number;
  lastErrno: number;
  seconds: number;
  perSecond: number;
}

/** argv of one flood run in `ns`, pinned to `cpu` when given. */
export function floodArgv(ns: BenchNetns, count: number, first = 0, cpu?: number): string[] {
  const base = [...ns.prefix, floodProgram(), String(count), String(first)];
  return cpu === undefined ? base : ['taskset', '-c', String(cpu), ...base];
}

/** Run the flow generator in `ns` and wait for it. */
export async function flood(ns: BenchNetns, count: number, first = 0, cpu?: number): Promise<FloodResult> {
  const argv = floodArgv(ns, count, first, cpu);
  const c = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (err += d));
  const code = await exited(c);
  const line = out.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`flood failed (exit ${code}): ${err.trim()}`);
  return JSON.parse(line) as FloodResult;
}

// ---------------------------------------------------------------------------------------
// Figures

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function fmtSec(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A Markdown table: text columns left-aligned, the last (the values) right-aligned. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const last = head.length - 1;
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    '| ' + r.map((c, i) => (i < last ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ') + ' |';
  const rule = '|' + w.map((n, i) => (i < last ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|') + '|';
  return [line(head), rule, ...rows.map(line)].join('\n');
}

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Count '\n' bytes of a file, streaming. */
export async function countLines(path: string): Promise<number> {
  const { createReadStream } = await import('node:fs');
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// The minimal C listener (the limit of the burst benchmark)

export const LISTENER_SOURCE = join(ROOT, 'bench', 'listener.c');
let listenerBinary: string | undefined;

/** Compile bench/listener.c with `cc -O2` into a temporary directory (once per run). */
export function listenerProgram(): string {
  if (listenerBinary !== undefined) return listenerBinary;
  if (!existsSync(LISTENER_SOURCE)) throw new Error(`${LISTENER_SOURCE} is missing`);
  const out = join(tempDir(), 'listener');
  sh('cc', ['-O2', '-Wall', '-o', out, LISTENER_SOURCE]);
  listenerBinary = out;
  return out;
}
