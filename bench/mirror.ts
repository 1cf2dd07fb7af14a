/**
 * `npm run bench -- mirror`: the table mirror at 1,000,000 entries.
 *
 * 1. Raises the GLOBAL net.netfilter.nf_conntrack_max to 1,100,000 when it is lower, and
 *    restores the old value on every exit path (normal end, error, Ctrl-C / SIGTERM via the
 *    bench's exit hook, which runs the process 'exit' handler registered here).
 * 2. Fills a throwaway namespace with 1,000,000 UDP entries (bench/flood.c, pinned to CPU 0).
 * 3. Starts the mirror in its own process pinned to CPU 1 (bench/mirror-child.ts): RSS of
 *    the empty process (client open), then after ConntrackTable.open() has loaded the table;
 *    memory per entry = the difference / entries. Beside it: `conntrack -L > /dev/null`
 *    (time and max RSS), the peer's way to see the same table.
 * 4. Resync time (dump + diff of 1M entries) beside `conntrack -L` time.
 * 5. Events followed: `conntrack -F` (1M DESTROY events), then 1M new flows (1M NEW events),
 *    each followed by the mirror on one core: events/s over the wall time from the first to
 *    the last event, events per CPU-second, lost; `conntrack -E` counts the same events
 *    beside it.
 * 6. The event path alone (bench/mirror-cpu.ts): 1M NEW + 1M DESTROY datagrams from memory
 *    through the table on one core, no kernel.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { BENCH_BUILD, createNetns, exited, flood, fmtInt, fmtMiB, sh, shellLine, sleep, spawnTracked, tableCount } from './util.js';

type Row = [string, string, string];
const MAX_PATH = '/proc/sys/net/netfilter/nf_conntrack_max';
const ENTRIES = Number(process.env.CTBENCH_MIRROR_ENTRIES ?? 1_000_000);

let savedMax: string | undefined;
function restoreMax(): void {
  if (savedMax === undefined) return;
  try {
    writeFileSync(MAX_PATH, savedMax);
  } catch {
    /* reported by the caller's check */
  }
  savedMax = undefined;
}

/** Run argv with stdout to /dev/null; wall ms and max RSS (KiB, from /usr/bin/time when present). */
function measure(argv: string[]): { ms: number; maxRssKiB: number | undefined } {
  const t0 = performance.now();
  let rss: number | undefined;
  try {
    const r = sh('sh', ['-c', `/usr/bin/time -f '%M' ${shellLine(argv)} 2>&1 >/dev/null | tail -n 1`]);
    rss = Number(r.trim()) || undefined;
  } catch {
    sh('sh', ['-c', `${shellLine(argv)} > /dev/null`]);
  }
  return { ms: performance.now() - t0, maxRssKiB: rss };
}

export async function benchMirror(): Promise<{ rows: Row[]; commands: string[]; notes: string[] }> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  const old = readFileSync(MAX_PATH, 'utf8').trim();
  const want = ENTRIES + 100_000;
  if (Number(old) < want) {
    savedMax = old;
    process.on('exit', restoreMax);
    writeFileSync(MAX_PATH, String(want));
    commands.push(`sysctl -w net.netfilter.nf_conntrack_max=${want}   # restored to ${old} at the end`);
  }
  const ns = createNetns('mirror');
  try {
    const f = await flood(ns, ENTRIES, 0, 0);
    const count = tableCount(ns);
    commands.push(`${shellLine([...ns.prefix, 'FLOOD', String(ENTRIES), '0'])}   # ${fmtInt(count)} entries, ${fmtInt(Math.round(f.perSecond))} flows/s`);
    if (count < ENTRIES * 0.99) throw new Error(`mirror: only ${count} entries were created (flood: ${JSON.stringify(f)})`);

    const L = measure([...ns.prefix, 'conntrack', '-L']);
    const argv = ['taskset', '-c', '1', process.execPath, '--expose-gc', join(BENCH_BUILD, 'mirror-child.js'), '--netns', ns.name];
    commands.push(shellLine(argv));
    const child = spawnTracked(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, number | boolean>> => {
      const r = await lines.next();
      if (r.done) throw new Error('mirror child ended early');
      return JSON.parse(r.value) as Record<string, number | boolean>;
    };
    const empty = await next();
    const loaded = await next();
    const size = loaded.size as number;
    const perEntry = ((loaded.rss as number) - (empty.rss as number)) / size;
    rows.push(['mirror', `entries mirrored (conntrack -C ${fmtInt(count)})`, fmtInt(size)]);
    rows.push(['mirror', 'RSS empty process -> with the table', `${fmtMiB(empty.rss as number)} -> ${fmtMiB(loaded.rss as number)}`]);
    rows.push(['mirror', 'memory per entry above the empty process', `**${perEntry.toFixed(1)} B** (typed arrays ${(((loaded.storeBytes as number) / size)).toFixed(1)} B; kernel slab 256 B + 8 B/bucket)`]);
    rows.push(['mirror', 'initial load (subscribe + dump + index)', `${fmtInt(Math.round(loaded.loadMs as number))} ms`]);
    rows.push(['mirror', '`conntrack -L > /dev/null`, same table', `${fmtInt(Math.round(L.ms))} ms, max RSS ${L.maxRssKiB ? fmtMiB(L.maxRssKiB * 1024) : '?'}`]);

    child.stdin!.write('resync\n');
    const rs = await next();
    rows.push(['mirror', 'resync (dump + diff) of the whole table', `**${fmtInt(Math.round(rs.ms as number))} ms** (repaired +${rs.added} -${rs.removed} ~${rs.updated})`]);

    // DESTROY burst: flush, with conntrack -E counting beside.
    const follow = async (label: string, expected: number, action: () => Promise<void> | void) => {
      // `ip netns exec` execs conntrack: the child's pid is conntrack's.
      const ce = spawnTracked(ns.prefix[0]!, [...ns.prefix.slice(1), 'conntrack', '-E', '-e', 'NEW,DESTROY'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let ceLines = 0;
      ce.stdout!.on('data', (d: Buffer) => {
        for (const byte of d) if (byte === 10) ceLines++;
      });
      await sleep(500);
      child.stdin!.write(`follow ${expected} 3000\n`);
      await sleep(100);
      await action();
      const r = await next();
      ce.kill('SIGINT');
      await Promise.race([exited(ce), sleep(5000)]);
      const events = r.events as number;
      const wall = (r.wallMs as number) / 1000;
      const cpu = (r.cpuMs as number) / 1000;
      const truth = tableCount(ns);
      rows.push(['mirror', `${label}: events followed of ${fmtInt(expected)} (lost, resyncs)`, `${fmtInt(events)} (${fmtInt(r.lost as number)} lost, ${r.resyncs} resyncs)`]);
      rows.push(['mirror', `${label}: mirror size after (conntrack -C), in sync`, `${fmtInt(r.size as number)} (${fmtInt(truth)}), ${r.inSync}${(r.syncWaitMs as number) > 100 ? ` after a resync that ended ${fmtInt(Math.round(r.syncWaitMs as number))} ms after the last event` : ''}`]);
      rows.push(['mirror', `${label}: events/s followed (wall, first to last event)`, `**${fmtInt(Math.round(events / Math.max(wall, 1e-6)))}**`]);
      rows.push(['mirror', `${label}: events per CPU-second of the mirror (one core)`, `**${fmtInt(Math.round(events / Math.max(cpu, 1e-6)))}**`]);
      rows.push(['mirror', `${label}: \`conntrack -E\` beside it received`, fmtInt(ceLines)]);
    };
    await follow('flush', ENTRIES, async () => {
      // Asynchronously: a synchronous exec would stop this process from draining conntrack -E's pipe.
      await exited(spawnTracked(ns.prefix[0]!, [...ns.prefix.slice(1), 'conntrack', '-F'], { stdio: 'ignore' }));
    });
    await follow('1M new flows', ENTRIES, async () => {
      const fr = await flood(ns, ENTRIES, 0, 0);
      rows.push(['mirror', '1M new flows: the flood generated (the kernel\'s event rate bounds ours)', `${fmtInt(Math.round(fr.perSecond))} flows/s`]);
    });
    child.stdin!.write('quit\n');
    // The event path alone, no kernel: 1M NEW + 1M DESTROY datagrams from memory, one core.
    const cpuArgv = ['taskset', '-c', '1', process.execPath, join(BENCH_BUILD, 'mirror-cpu.js'), String(ENTRIES)];
    commands.push(shellLine(cpuArgv));
    const cpuRun = JSON.parse(sh(cpuArgv[0]!, cpuArgv.slice(1)).trim().split('\n').pop()!) as Record<string, number>;
    rows.push(['mirror', 'event path alone (datagrams in memory, one core): NEW / DESTROY events/s', `**${fmtInt(cpuRun.newPerSecond!)}** / **${fmtInt(cpuRun.destroyPerSecond!)}**`]);
    await Promise.race([exited(child), sleep(10_000)]);
    commands.push(`${shellLine([...ns.prefix, 'conntrack', '-L'])} > /dev/null`, `${shellLine([...ns.prefix, 'conntrack', '-F'])}`);
    notes.push('mirror: memory per entry is (RSS with the table - RSS of the empty process) / entries, both after gc(); the child runs `taskset -c 1`, the flood `taskset -c 0`.');
  } finally {
    ns.remove();
    restoreMax();
    const now = readFileSync(MAX_PATH, 'utf8').trim();
    if (now !== old) notes.push(`WARNING: nf_conntrack_max is ${now}, was ${old}`);
  }
  return { rows, commands, notes };
}
