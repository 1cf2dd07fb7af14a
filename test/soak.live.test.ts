// Soak (issue 12, "Memory of a long-running listener"): `ctevents --format json` listens
// while 1,000,000 events are generated in a namespace (5 rounds of 100,000 new UDP flows
// from bench/flood.c, each followed by a flush: NEW + DESTROY). Its resident memory, read
// from the process's own /proc/PID/status after each round once it has caught up (no CPU
// used for 1 s), must not grow after the first round (warm-up) beyond a generous bound,
// and every event must be accounted for (received or reported lost). No wall-clock
// assertion. Needs root, cc, nft, conntrack and the built CLI (dist/).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNetns, hasConntrackTool, liveSkipReason } from './helpers/live.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli', 'ctevents.js');
const skip = liveSkipReason() ?? (!existsSync(CLI) ? 'dist/cli/ctevents.js is missing (npm run build)' : undefined) ?? (!hasConntrackTool ? 'conntrack is not installed' : undefined);
if (skip) console.warn(`test/soak.live.test.ts: skipped: ${skip}`);

const ROUNDS = 5;
const FLOWS = 100_000;

function status(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Wait until the process used no CPU for `quietMs` (it has caught up with the kernel). */
async function quiesce(pid: number, quietMs = 1000, maxMs = 180_000): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  let since = Date.now();
  while (Date.now() - t0 < maxMs) {
    const t = cpuTicks(pid);
    if (t !== last) {
      last = t;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skip !== undefined)('ctevents soak (live, root)', () => {
  it(`keeps its memory flat over ${ROUNDS * FLOWS * 2} events`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctev-soak-'));
    const ns = createNetns();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const flood = join(dir, 'flood');
      execFileSync('cc', ['-O2', '-o', flood, join(ROOT, 'bench', 'flood.c')]);
      // Drop the datagrams once their entries are confirmed: no ICMP errors.
      ns.exec('nft', ['add', 'rule', 'inet', 'ctev', 'pre', 'meta', 'l4proto', 'udp', 'drop']);
      child = spawn(process.execPath, [CLI, '--netns', ns.name, '--format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      await new Promise((r) => setTimeout(r, 1000));
      expect(child.exitCode).toBe(null);
      const pid = child.pid!;
      const samples: { rssKiB: number; hwmKiB: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        ns.exec(flood, [String(FLOWS), String(round * FLOWS)]);
        ns.exec('conntrack', ['-F']);
        await quiesce(pid);
        samples.push(status(pid));
      }
      const exited = new Promise<number | null>((res) => child!.on('exit', (code) => res(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      const summary = /ctevents: (\d+) events .*?, (\d+) lost/.exec(stderr);
      expect(summary, stderr).not.toBe(null);
      const [events, lost] = [Number(summary![1]), Number(summary![2])];
      console.log(`soak: ${events} events, ${lost} lost; RSS after each round (MiB): ${samples.map((s) => (s.rssKiB / 1024).toFixed(0)).join(', ')}; peak ${(Math.max(...samples.map((s) => s.hwmKiB)) / 1024).toFixed(0)} MiB`);
      expect(events + lost).toBe(ROUNDS * FLOWS * 2);
      const warm = samples[0]!.rssKiB;
      const end = samples[samples.length - 1]!.rssKiB;
      // Flat: the end within 1.5x the warmed-up figure plus 64 MiB (a leak of a few
      // hundred bytes per event would add hundreds of MiB over 800,000 more events).
      expect(end).toBeLessThan(warm * 1.5 + 64 * 1024);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
