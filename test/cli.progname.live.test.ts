/**
 * `[USERSPACE] portid=N progname=NAME` against conntrack -E, live: N short-lived
 * `conntrack -I`, `-U` and `-D` processes (one entry each) in a throwaway namespace, with
 * `ctevents --format conntrack` and `conntrack -E` listening side by side. Both look the
 * requester up after its request and it may have exited by then; the addon starts the
 * lookup on its receive thread (src/native/progname.c). Every event conntrack names, we
 * name identically; how many we name that conntrack did not is printed. Skipped (with the
 * reason printed) when not root or without conntrack(8).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conntrackListener, createNetns, hasConntrackTool, liveSkipReason, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/ctevents.js');
const skip = liveSkipReason() ?? (hasConntrackTool ? undefined : 'conntrack(8) is not installed');
if (skip) console.warn(`cli.progname.live.test.ts: ${skip}`);

const N = 40;

function ctevents(args: string[]) {
  const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
  return {
    ready: new Promise<void>((res) => setTimeout(res, 800)),
    stop: async () => {
      await new Promise((r) => setTimeout(r, 500));
      p.kill('SIGINT');
      const code = await exited;
      return { code, stdout, stderr };
    },
  };
}

const PROG = / progname=(\S+)$/;

describe.skipIf(skip !== undefined)('progname of short-lived requesters, beside conntrack -E', () => {
  let ns: Netns;
  beforeAll(() => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    ns = createNetns();
  });
  afterAll(() => ns?.remove());

  it(`${N} conntrack -I, -U and -D: every name conntrack prints, we print identically`, async () => {
    const ours = ctevents(['--netns', ns.name, '--format', 'conntrack', '--events', 'new,update,destroy']);
    const theirs = conntrackListener(ns, ['-E']);
    await Promise.all([ours.ready, theirs.ready]);
    for (let i = 0; i < N; i++) {
      const tuple = ['-p', 'udp', '-s', '198.51.100.1', '-d', '198.51.100.2', '--sport', String(10000 + i), '--dport', '53'];
      ns.exec('conntrack', ['-I', ...tuple, '-t', '120']);
      ns.exec('conntrack', ['-U', ...tuple, '-m', '1']);
      ns.exec('conntrack', ['-D', ...tuple]);
    }
    const [a, b] = await Promise.all([ours.stop(), theirs.stop()]);
    expect(a.code, a.stderr).toBe(0);
    const mine = a.stdout.split('\n').filter(Boolean);
    // The same events, by their line less the name (each requester has its own port id).
    const strip = (l: string) => l.replace(PROG, '');
    expect(mine.map(strip).sort()).toEqual(b.map(strip).sort());
    expect(mine.filter((l) => l.includes('[USERSPACE]'))).toHaveLength(3 * N);
    const ourLine = new Map(mine.map((l) => [strip(l), l]));
    let theyNamed = 0;
    let weNamed = 0;
    let onlyWe = 0;
    const differ: string[] = [];
    for (const t of b) {
      const m = ourLine.get(strip(t))!;
      const tn = PROG.exec(t)?.[1];
      const mn = PROG.exec(m)?.[1];
      if (tn !== undefined) {
        theyNamed++;
        if (m !== t) differ.push(`conntrack: ${t}\nctevents:  ${m}`);
      }
      if (mn !== undefined) {
        weNamed++;
        if (tn === undefined) onlyWe++;
        // What we name is the requester: conntrack here.
        expect(mn).toBe('conntrack');
      }
    }
    console.log(`progname over ${3 * N} events of short-lived conntrack processes: conntrack -E named ${theyNamed}, ctevents ${weNamed} (${onlyWe} that conntrack did not)`);
    expect(differ).toEqual([]);
  }, 120_000);
});
