/**
 * Decode A/B in one process, on CPU time: decodeDatagram of two builds of the package,
 * alternated pass by pass over the same datagrams, each pass timed with process.cpuUsage()
 * (time spent descheduled on a loaded machine does not count), so that two versions can be
 * compared fairly even while other work runs. Used for the "How it is built" figures.
 *
 *   tsc -p bench; cp -r build /tmp/before        # on the old commit
 *   tsc -p bench                                 # on the new one
 *   taskset -c 1 node build/bench/decode-ab.js /tmp/before build CAPTURE.pcap [DATAGRAMS] [ROUNDS]
 *
 * A build directory is what `tsc -p bench` writes (it holds src/ctnetlink/message.js).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { netlinkPayload, parseCapture } from '../src/pcap/index.js';

type Decode = (b: Uint8Array) => { kind: string; conntrack?: { orig?: { srcPort?: number }; id?: number } }[];

const [beforeDir, afterDir, capture, nArg, roundsArg] = process.argv.slice(2);
if (beforeDir === undefined || afterDir === undefined || capture === undefined) {
  process.stderr.write('usage: decode-ab.js BEFORE_BUILD AFTER_BUILD CAPTURE [DATAGRAMS=200000] [ROUNDS=16]\n');
  process.exit(2);
}
const N = Number(nArg ?? 200_000);
const ROUNDS = Number(roundsArg ?? 16);
const load = async (dir: string): Promise<Decode> =>
  ((await import(pathToFileURL(join(resolve(dir), 'src', 'ctnetlink', 'message.js')).href)) as { decodeDatagram: Decode }).decodeDatagram;
const A = await load(beforeDir);
const B = await load(afterDir);

const datagrams: Uint8Array[] = [];
for (const rec of parseCapture(readFileSync(capture))) {
  const p = netlinkPayload(rec);
  if (p) datagrams.push(new Uint8Array(p.data));
  if (datagrams.length >= N) break;
}

let sink = 0;
function pass(decode: Decode): number {
  const c0 = process.cpuUsage();
  for (const d of datagrams) for (const m of decode(d)) if (m.kind === 'conntrack') sink += (m.conntrack?.orig?.srcPort ?? 0) + (m.conntrack?.id ?? 0);
  const c = process.cpuUsage(c0);
  return datagrams.length / ((c.user + c.system) / 1e6);
}

const rates = { before: [] as number[], after: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  if (i % 2 === 0) {
    rates.before.push(pass(A));
    rates.after.push(pass(B));
  } else {
    rates.after.push(pass(B));
    rates.before.push(pass(A));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const k of ['before', 'after'] as const) {
  const xs = rates[k].slice(2); // the first two passes include JIT warm-up
  process.stdout.write(`${k.padEnd(6)} messages per CPU-second: median ${Math.round(median(xs))}, best ${Math.round(Math.max(...xs))} (${xs.length} passes of ${datagrams.length})\n`);
}
process.stdout.write(`after/before (medians): ${(median(rates.after.slice(2)) / median(rates.before.slice(2))).toFixed(3)}  [checksum ${sink % 1000}]\n`);
