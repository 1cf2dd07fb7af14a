/**
 * The one namespace harness: throwaway network namespaces with loopback up and conntrack
 * enabled by an nftables rule (`ct state new accept` in output and prerouting), used by
 * the tests (test/helpers/live.ts re-exports it), the benchmarks and the fixture
 * recorders. Every namespace is removed by its remove(); nothing here touches a global
 * sysctl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
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

/**
 * Create a namespace with loopback up and tracking enabled (`ct state new` in output and
 * prerouting), optionally with accounting and timestamps on.
 */
export function createNetns(opts: { acct?: boolean; timestamp?: boolean } = {}): Netns {
  const name = `ctev-${process.pid}-${++counter}`;
  sh('ip', ['netns', 'add', name]);
  const exec = (cmd: string, args: string[] = [], input?: string) => sh('ip', ['netns', 'exec', name, cmd, ...args], input);
  try {
    exec('ip', ['link', 'set', 'lo', 'up']);
    exec('nft', ['-f', '-'], `table inet ctev {
  chain out { type filter hook output priority 0; ct state new accept; }
  chain pre { type filter hook prerouting priority 0; ct state new accept; }
}
`);
    if (opts.acct) exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']);
    if (opts.timestamp) exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_timestamp=1']);
  } catch (e) {
    sh('ip', ['netns', 'del', name]);
    throw e;
  }
  return {
    name,
    exec,
    spawn: (cmd, args = []) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: () => {
      try {
        sh('ip', ['netns', 'del', name]);
      } catch {
        /* already gone */
      }
    },
  };
}
