/**
 * The mirror under test, as its own process (pinned to one core by the parent):
 *
 *   node --expose-gc build/bench/mirror-child.js --netns NAME
 *
 * Prints JSON lines: {"phase":"empty",rss} after the client is open (the empty process),
 * {"phase":"loaded",rss,heapUsed,arrayBuffers,size,loadMs} after ConntrackTable.open()
 * (subscribe + dump of the whole table), then obeys stdin lines:
 *   resync          -> {"phase":"resync",ms,entries,added,removed,updated}
 *   follow N IDLE   -> waits until N events (new + destroy) arrived, or IDLE ms without
 *                      one after the first; {"phase":"follow",events,lost,overruns,resyncs,
 *                      wallMs,cpuMs,size,inSync,syncWaitMs} (wall and CPU from the first event to the
 *                      last; then it waits for a resync in progress to finish)
 *   quit
 */
import { createInterface } from 'node:readline';
import { ConntrackClient } from '../src/client/client.js';
import { ConntrackTable } from '../src/table/table.js';

const i = process.argv.indexOf('--netns');
const netns = i > 0 ? process.argv[i + 1] : undefined;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const settle = async () => {
  for (let k = 0; k < 3; k++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
};

const client = await ConntrackClient.open(netns ? { netns } : {});
await client.stats();
await settle();
say({ phase: 'empty', rss: process.memoryUsage().rss });
const t0 = performance.now();
const table = await ConntrackTable.open(client, netns ? { netns } : {});
const loadMs = performance.now() - t0;
await settle();
const m = process.memoryUsage();
say({ phase: 'loaded', rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, size: table.size, loadMs, storeBytes: table.store.bytes });

let first = 0;
let last = 0;
let cpuFirst = process.cpuUsage();
let cpuLast = cpuFirst;
table.on('change', () => {}); // a listener, as a real consumer would have (kept cheap)
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'resync') {
    const r = await table.resync('manual');
    say({ phase: 'resync', ms: r.durationMs, entries: r.entries, added: r.added, removed: r.removed, updated: r.updated });
  } else if (cmd === 'follow') {
    const want = Number(a);
    const idle = Number(b ?? 3000);
    const c0 = table.counters;
    const base = c0.new + c0.destroy + c0.update;
    first = 0;
    let seen = 0;
    await new Promise<void>((res) => {
      const tick = setInterval(() => {
        const c = table.counters;
        const n = c.new + c.destroy + c.update - base;
        const now = performance.now();
        if (n > 0 && first === 0) {
          first = now;
          cpuFirst = process.cpuUsage();
        }
        if (n > seen) {
          seen = n;
          last = now;
          cpuLast = process.cpuUsage();
        }
        if (n >= want || (first > 0 && now - last > idle)) {
          clearInterval(tick);
          res();
        }
      }, 2);
    });
    // A loss starts a resync: wait for it, so the size reported is the repaired one.
    const waitStart = performance.now();
    while (!table.inSync && performance.now() - waitStart < 120_000) await new Promise((r) => setTimeout(r, 50));
    const syncWaitMs = performance.now() - waitStart;
    const c = table.counters;
    const cpu = (cpuLast.user - cpuFirst.user + cpuLast.system - cpuFirst.system) / 1000;
    say({
      phase: 'follow', events: c.new + c.destroy + c.update - base, lost: c.lost - c0.lost, overruns: c.overruns - c0.overruns,
      resyncs: c.resyncs - c0.resyncs, wallMs: last - first, cpuMs: cpu, size: table.size, inSync: table.inSync, syncWaitMs,
    });
  } else if (cmd === 'quit') break;
}
table.close();
await client.close();
process.exit(0);
