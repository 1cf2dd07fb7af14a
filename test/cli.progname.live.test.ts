/**
 * `[USERSPACE] portid=N progname=NAME` against conntrack -E, live: N short-lived
 * `conntrack -I`, `-U` and `-D` processes (one entry each) in a throwaway namespace, with
 * `ctevents --format conntrack` and `conntrack -E` listening side by side. Both look the
 * requester up after its request and it may have exited by then; the addon starts the
 * lookup on its receive thread (src/native/progname.c). Every event conntrack names, we
 * name identically; how many we name that conntrack did not is printed. Skipped (with the
 * reason printed) when not root or without conntrack(8).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCtevents } from './helpers/cli.js';
import { conntrackListener, createNetns, hasConntrackTool, liveSkipReason, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/ctevents.cjs');
const skip = liveSkipReason() ?? (hasConntrackTool ? undefined : 'conntrack(8) is not installed');
if (skip) console.warn(`cli.progname.live.test.ts: ${skip}`);

const N = 40;

function ctevents(args: string[]) {
  return spawnCtevents(args, { readyMs: 800, settleMs: 500 });
}

const PROG = / progname=(\S+)$/;

interface Trial {
  /** Events conntrack -E named, we named, and we named where it did not, by event type. */
  theyNamed: Record<string, number>;
  weNamed: Record<string, number>;
  onlyWe: number;
  /** conntrack named the process, we printed no name (a race lost). */
  missed: string[];
  /** Both named it, differently (never tolerated). */
  differ: string[];
  /** Lines not in both outputs, or a name that is not the requester's. */
  problems: string[];
}

/**
 * `n` rounds of short-lived conntrack processes (`-I`, then `-U`, then `-D` of one entry
 * each, as `ops` says) with both listeners running; compares their lines.
 */
async function trial(ns: Netns, n: number, ops: readonly ('I' | 'U' | 'D')[], base: number): Promise<Trial> {
  const ours = ctevents(['--netns', ns.name, '--format', 'conntrack', '--events', 'new,update,destroy']);
  const theirs = conntrackListener(ns, ['-E']);
  await Promise.all([ours.ready, theirs.ready]);
  for (let i = 0; i < n; i++) {
    const tuple = ['-p', 'udp', '-s', '198.51.100.1', '-d', '198.51.100.2', '--sport', String(base + i), '--dport', '53'];
    for (const op of ops) {
      if (op === 'I') ns.exec('conntrack', ['-I', ...tuple, '-t', '120']);
      if (op === 'U') ns.exec('conntrack', ['-U', ...tuple, '-m', '1']);
      if (op === 'D') ns.exec('conntrack', ['-D', ...tuple]);
    }
  }
  const [a, b] = await Promise.all([ours.stop(), theirs.stop()]);
  const t: Trial = { theyNamed: {}, weNamed: {}, onlyWe: 0, missed: [], differ: [], problems: [] };
  if (a.code !== 0) t.problems.push(`ctevents exited ${a.code}: ${a.stderr}`);
  const mine = a.stdout.split('\n').filter(Boolean);
  // The same events, by their line less the name (each requester has its own port id).
  const strip = (l: string) => l.replace(PROG, '');
  const ourLine = new Map(mine.map((l) => [strip(l), l]));
  const theirKeys = new Set(b.map(strip));
  for (const l of mine) if (!theirKeys.has(strip(l))) t.problems.push(`only ctevents: ${l}`);
  for (const l of b) {
    const m = ourLine.get(strip(l));
    if (m === undefined) {
      t.problems.push(`only conntrack: ${l}`);
      continue;
    }
    const type = /^\s*\[(\w+)\]/.exec(l)?.[1] ?? '?';
    const tn = PROG.exec(l)?.[1];
    const mn = PROG.exec(m)?.[1];
    if (tn !== undefined) t.theyNamed[type] = (t.theyNamed[type] ?? 0) + 1;
    if (mn !== undefined) {
      t.weNamed[type] = (t.weNamed[type] ?? 0) + 1;
      if (tn === undefined) t.onlyWe++;
      // What we name is the requester: conntrack here.
      if (mn !== 'conntrack') t.problems.push(`not the requester: ${m}`);
    }
    if (tn !== undefined && mn === undefined) t.missed.push(l);
    if (tn !== undefined && mn !== undefined && tn !== mn) t.differ.push(`conntrack: ${l}\nctevents:  ${m}`);
  }
  if (mine.filter((l) => l.includes('[USERSPACE]')).length !== n * ops.length) t.problems.push(`expected ${n * ops.length} [USERSPACE] lines, got ${mine.length}`);
  return t;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
const figures = (t: Trial) =>
  `conntrack -E named ${sum(t.theyNamed)} ${JSON.stringify(t.theyNamed)}, ctevents ${sum(t.weNamed)} ${JSON.stringify(t.weNamed)}, ` +
  `${t.onlyWe} that conntrack did not, ${t.missed.length} that only conntrack named`;

describe.skipIf(skip !== undefined)('progname of short-lived requesters, beside conntrack -E', () => {
  let ns: Netns;
  beforeAll(() => {
    expect(existsSync(bin), 'dist/ is built by npm install').toBe(true);
    ns = createNetns();
  });
  afterAll(() => ns?.remove());

  // Both tools race the requester's exit (it exits right after the kernel's ACK; the
  // event was queued just before), so neither can name every event: what is asserted
  // exactly is that every line is in both outputs, that we never print a different name
  // and that every name we print is the requester's. A name conntrack finds and we do not
  // is a race we lost: about 1 event in 250 on this VM, nearly always a `-I` (its
  // requester exits fastest), but a CI machine under the parallel suite lost 1 to 3 of
  // ~50 in every round (2.7 % over 5 rounds; 4 of 111 in a later CI run), where conntrack
  // lost two thirds of all events. So three rounds are summed and the losses are bounded
  // with room for that spread: at most 1 in 10 of the names conntrack printed, and we name
  // at least as many events as conntrack does.
  it(`${N} conntrack -I, -U and -D: every name we print is conntrack's, we lose at most 1 in 10 of its names`, async () => {
    let theirs = 0;
    let ours = 0;
    const missed: string[] = [];
    for (let round = 0; round < 3; round++) {
      const t = await trial(ns, N, ['I', 'U', 'D'], 10000 + round * 1000);
      console.log(`progname round ${round + 1}, ${3 * N} events of short-lived conntrack processes: ${figures(t)}`);
      expect(t.problems).toEqual([]);
      expect(t.differ).toEqual([]);
      theirs += sum(t.theyNamed);
      ours += sum(t.weNamed);
      missed.push(...t.missed);
    }
    for (const l of missed) console.log(`only conntrack named: ${l}`);
    expect(ours).toBeGreaterThanOrEqual(theirs);
    expect(missed.length, `${missed.length} of ${theirs} names conntrack printed`).toBeLessThanOrEqual(Math.max(3, Math.floor(theirs / 10)));
  }, 300_000);

  // The figure in the README: CTEVENTS_PROGNAME_RUNS=60 npx vitest run test/cli.progname.live.test.ts
  const runs = Number(process.env.CTEVENTS_PROGNAME_RUNS ?? 0);
  it.runIf(runs > 0)(`measure: ${runs} conntrack -D of one entry each`, async () => {
    const t = await trial(ns, runs, ['I', 'D'], 30000);
    for (const l of t.missed) console.log(`only conntrack named: ${l}`);
    console.log(`progname, ${runs} conntrack -D (after conntrack -I): DESTROY named by conntrack -E ${t.theyNamed.DESTROY ?? 0}, by ctevents ${t.weNamed.DESTROY ?? 0}; all: ${figures(t)}`);
    expect(t.problems).toEqual([]);
    expect(t.differ).toEqual([]);
  }, 600_000);
});
