/**
 * Dump the conntrack table into the full model and count the entries: the counterpart
 * of `conntrack -L > /dev/null` in the dump benchmark.
 *
 *   node build/bench/dump.js [--netns NAME] [--entries] [--json]
 *
 * Default: ConntrackClient.dumpBatches() (one batch per received chunk, the fast path);
 * --entries: ConntrackClient.dump() (entry by entry). Without --netns it dumps the
 * namespace it runs in (e.g. under `ip netns exec`). Prints the count, or with --json
 * {"entries":N,"seconds":S,"maxRssKiB":K,"heapUsedMaxMiB":H}.
 *
 * It imports the package by its own name, as a user does: from build/bench/dump.js,
 * 'ctevents' resolves through package.json "exports" to the library bundle's façade
 * (dist/lib/index.mjs, tools/bundle.mjs), so the figure includes the library's start-up.
 */
import { performance } from 'node:perf_hooks';
import { ConntrackClient } from 'ctevents';

const argv = process.argv.slice(2);
const i = argv.indexOf('--netns');
const netns = i >= 0 ? argv[i + 1] : undefined;
const entryByEntry = argv.includes('--entries');
const json = argv.includes('--json');

const t0 = performance.now();
const ct = await ConntrackClient.open(netns !== undefined ? { netns } : {});
let entries = 0;
let check = 0;
let heapMax = 0;
let batches = 0;
if (entryByEntry) {
  for await (const e of ct.dump()) {
    entries++;
    check = (check + (e.orig?.dstPort ?? 0)) | 0;
    if ((entries & 0x3fff) === 0) heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }
} else {
  for await (const batch of ct.dumpBatches()) {
    batches++;
    entries += batch.length;
    for (const e of batch) check = (check + (e.orig?.dstPort ?? 0)) | 0;
    if ((batches & 0x3f) === 0) heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }
}
await ct.close();
const seconds = (performance.now() - t0) / 1000;
heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
if (json) {
  const out = { entries, seconds, maxRssKiB: process.resourceUsage().maxRSS, heapUsedMaxMiB: heapMax / 1048576, check };
  process.stdout.write(JSON.stringify(out) + '\n');
} else {
  process.stdout.write(`${entries}\n`);
}
