/**
 * The one namespace harness: throwaway network namespaces with loopback up and conntrack
 * enabled by an nftables ruleset, used by the tests (test/helpers/live.ts re-exports it),
 * the benchmarks (bench/util.ts: their own ruleset and sysctls, and a cleanup registry)
 * and the fixture recorders (tools/record-cttimeout.ts, tools/captures/harness.ts). Every namespace is removed by its
 * remove() (and on a failed setup); sysctls set here are per namespace, never global.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
}

let counter = 0;

export interface Netns {
  name: string;
  /** Run a command inside the namespace and return its stdout. */
  exec(cmd: string, args?: string[], input?: string): string;
  /** Start a long-running command inside the namespace. */
  spawn(cmd: string, args?: string[]): ChildProcess;
  remove(): void;
}

/** Tracking on for everything that starts in the namespace (output and prerouting). */
export const TRACK_ALL_RULESET = `table inet ctev {
  chain out { type filter hook output priority 0; ct state new accept; }
  chain pre { type filter hook prerouting priority 0; ct state new accept; }
}
`;

export interface NetnsOptions {
  /** Turn nf_conntrack_acct on (per namespace). */
  acct?: boolean;
  /** Turn nf_conntrack_timestamp on (per namespace). */
  timestamp?: boolean;
  /** Name prefix; the name is `${prefix}-${pid}-${n}` (default "ctev"), or exactly `name`. */
  prefix?: string;
  name?: string;
  /** nftables ruleset loaded with nft -f - (default TRACK_ALL_RULESET; null: none, the caller loads its own). */
  ruleset?: string | null;
  /** More per-namespace sysctls, "key=value" as sysctl -w takes them. */
  sysctls?: readonly string[];
  /** Called with the name right after `ip netns add` and after removal (cleanup registries). */
  onCreate?(name: string): void;
  onRemove?(name: string): void;
}

/**
 * Create a namespace with loopback up and tracking enabled by `ruleset`, optionally with
 * accounting, timestamps and other per-namespace sysctls.
 */
export function createNetns(opts: NetnsOptions = {}): Netns {
  const name = opts.name ?? `${opts.prefix ?? 'ctev'}-${process.pid}-${++counter}`;
  sh('ip', ['netns', 'add', name]);
  opts.onCreate?.(name);
  const del = () => {
    try {
      sh('ip', ['netns', 'del', name]);
    } catch {
      /* already gone */
    }
    opts.onRemove?.(name);
  };
  const exec = (cmd: string, args: string[] = [], input?: string) => sh('ip', ['netns', 'exec', name, cmd, ...args], input);
  try {
    exec('ip', ['link', 'set', 'lo', 'up']);
    if (opts.ruleset !== null) exec('nft', ['-f', '-'], opts.ruleset ?? TRACK_ALL_RULESET);
    if (opts.acct) exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']);
    if (opts.timestamp) exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_timestamp=1']);
    for (const kv of opts.sysctls ?? []) exec('sysctl', ['-qw', kv]);
  } catch (e) {
    del();
    throw e;
  }
  return {
    name,
    exec,
    spawn: (cmd, args = []) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: del,
  };
}
