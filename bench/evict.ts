/**
 * `npm run bench -- evict`: filtered deletion on the same 250k-entry table, conntrack-tools
 * beside us, one run.
 *
 *   1. filter = source + protocol (matches every entry), then filter = destination +
 *      protocol (matches 65,535 of 250,000): `conntrack -D FILTER` vs `ctevents delete
 *      FILTER` (both as processes through `ip netns exec`, start-up included) vs the
 *      library's deleteWhere() in this process, by both of its methods (kernel-side
 *      filtered flush; dump + pipelined batched deletes).
 *   2. targeted deletion: the table is built in two halves 2 s apart; a dump reads it,
 *      entries are ranked by idle time (configured timeout - remaining), the idler half is
 *      picked one by one and deleted with deleteMany(): entries/s of the deletes alone and
 *      end to end (dump + rank + delete).
 *
 * The table is refilled (bench/flood.c) before every measured command; every count is
 * checked with `conntrack -C` after. Namespaces are removed on every exit path; no global
 * sysctl is touched.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConntrackClient } from '../src/client/client.js';
import { readConntrackSysctls, idleSeconds } from '../src/client/sysctls.js';
import type { EntryKey } from '../src/ctnetlink/requests.js';
import { DIST, createNetns, flood, floodArgv, fmtInt, shellLine, sleep, tableCount, type BenchNetns } from './util.js';

type Row = [string, string, string];
interface Result {
  rows: Row[];
  commands: string[];
  notes: string[];
}

const NODE = process.execPath;
const CTEVENTS = join(DIST, 'cli', 'ctevents.cjs');

function wall(argv: string[]): { seconds: number; stdout: string; stderr: string; code: number | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

async function refill(ns: BenchNetns, flows: number, commands: string[]): Promise<void> {
  ns.exec('sh', ['-c', 'conntrack -F 2>/dev/null; true']);
  const f = await flood(ns, flows, 0, 0);
  if (commands.length < 4) commands.push(shellLine(floodArgv(ns, flows, 0, 0)));
  if (f.failed > 0) throw new Error(`flood: ${f.failed} datagrams failed (errno ${f.lastErrno})`);
}

const rate = (n: number, s: number) => `${fmtInt(n)} in ${s.toFixed(3)} s = ${fmtInt(n / s)}/s`;

export async function benchEvict(flows: number): Promise<Result> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  const ns = createNetns('evict');
  commands.push(`ip netns add ${ns.name}  (lo up, the benchmark ruleset, udp_timeout 3600)`);
  const client = await ConntrackClient.open({ netns: ns.name });
  try {
    const filters: { name: string; conntrack: string[]; ours: string[]; expect: number; kernel: { family: number; orig: { src?: string; dst?: string; proto: number } } }[] = [
      { name: 'src + proto (all entries)', conntrack: ['-s', '127.0.0.1', '-p', 'udp'], ours: ['--src', '127.0.0.1', '--proto', 'udp'], expect: flows, kernel: { family: 2, orig: { src: '127.0.0.1', proto: 17 } } },
      { name: 'dst + proto (65,535 entries)', conntrack: ['-d', '127.1.0.1', '-p', 'udp'], ours: ['--dst', '127.1.0.1', '--proto', 'udp'], expect: Math.max(0, Math.min(65535, flows - 65535)), kernel: { family: 2, orig: { dst: '127.1.0.1', proto: 17 } } },
    ];
    for (const f of filters) {
      const tag = `evict ${f.name}`;
      // conntrack -D
      await refill(ns, flows, commands);
      const before = tableCount(ns);
      const ct = wall([...ns.prefix, 'conntrack', '-D', ...f.conntrack]);
      commands.push(`${shellLine([...ns.prefix, 'conntrack', '-D', ...f.conntrack])} > /dev/null`);
      const ctGone = before - tableCount(ns);
      rows.push([tag, 'conntrack -D (process)', rate(ctGone, ct.seconds)]);
      // ctevents delete (process)
      await refill(ns, flows, commands);
      const b2 = tableCount(ns);
      const ours = wall([...ns.prefix, NODE, CTEVENTS, 'delete', ...f.ours]);
      commands.push(shellLine([...ns.prefix, NODE, CTEVENTS, 'delete', ...f.ours]));
      const oursGone = b2 - tableCount(ns);
      if (ours.code !== 0) notes.push(`${tag}: ctevents exited ${ours.code}: ${ours.stderr.trim()}`);
      rows.push([tag, 'ctevents delete (process, auto = kernel flush)', `${rate(oursGone, ours.seconds)}  (${(ct.seconds / ours.seconds).toFixed(1)}x conntrack -D)`]);
      notes.push(`${tag}: ctevents said: ${ours.stderr.trim()}`);
      // library, kernel-side flush
      await refill(ns, flows, commands);
      const r1 = await client.deleteWhere({ kernel: f.kernel }, { method: 'flush' });
      rows.push([tag, 'deleteWhere() method flush (in process)', `${rate(r1.deleted, r1.seconds)}  (${(ct.seconds / r1.seconds).toFixed(1)}x)`]);
      // library, dump + pipelined deletes
      await refill(ns, flows, commands);
      const b4 = tableCount(ns);
      const r2 = await client.deleteWhere({ kernel: f.kernel }, { method: 'dump' });
      const gone4 = b4 - tableCount(ns);
      rows.push([tag, 'deleteWhere() method dump (in process)', `${rate(r2.deleted, r2.seconds)}  (${(ct.seconds / r2.seconds).toFixed(1)}x)`]);
      for (const [who, n] of [['conntrack -D', ctGone], ['ctevents delete', oursGone], ['deleteWhere flush', r1.deleted], ['deleteWhere dump', gone4]] as const) {
        if (n !== f.expect) notes.push(`${tag}: ${who} removed ${n} entries, expected ${f.expect}`);
      }
    }

    // Targeted deletion by idle time.
    ns.exec('sh', ['-c', 'conntrack -F 2>/dev/null; true']);
    const half = Math.floor(flows / 2);
    await flood(ns, half, 0, 0);
    await sleep(2100);
    await flood(ns, flows - half, half, 0);
    const sysctls = readConntrackSysctls(ns.name);
    const t0 = process.hrtime.bigint();
    const cands: { idle: number; key: EntryKey }[] = [];
    for await (const batch of client.dumpBatches()) {
      for (const e of batch) cands.push({ idle: idleSeconds(e, sysctls), key: { family: e.family, orig: e.orig!, ...(e.id !== undefined ? { id: e.id } : {}) } });
    }
    const tDump = Number(process.hrtime.bigint() - t0) / 1e9;
    cands.sort((a, b) => b.idle - a.idle);
    const picked = cands.slice(0, half).map((c) => c.key);
    const tPick = Number(process.hrtime.bigint() - t0) / 1e9;
    const r = await client.deleteMany(picked);
    const tAll = Number(process.hrtime.bigint() - t0) / 1e9;
    const left = tableCount(ns);
    rows.push(['evict targeted (idlest half)', `dump ${fmtInt(cands.length)} entries + rank by idle`, `${tPick.toFixed(3)} s (dump ${tDump.toFixed(3)} s)`]);
    rows.push(['evict targeted (idlest half)', 'deleteMany() of the picked keys', `${rate(r.deleted, r.seconds)}  (target >= 200,000/s)`]);
    rows.push(['evict targeted (idlest half)', 'end to end (dump + rank + delete)', rate(r.deleted, tAll)]);
    if (left !== flows - half) notes.push(`evict targeted: ${left} entries left, expected ${flows - half}`);
    if (r.missing || r.failed) notes.push(`evict targeted: ${r.missing} missing, ${r.failed} refused`);
    notes.push('evict: "Nx" = conntrack -D wall time / ours; processes run through ip netns exec, node start-up (~80 ms) included for ctevents; in-process figures exclude start-up.');
  } finally {
    await client.close();
    ns.remove();
  }
  commands.push(`ip netns del ${ns.name}`);
  return { rows, commands, notes };
}
