/**
 * Event counter for the flood benchmark, run as its own process (so it does not share
 * the sender's core):
 *
 *   node build/bench/listener.js --netns NAME [--expect N] [--idle-ms MS] [--timeout-ms MS]
 *                               [--types new,destroy] [--buffer BYTES] [--thread-buffer BYTES]
 *
 * Subscribes with ConntrackClient.events() (default settings unless --buffer or
 * --thread-buffer is given; --thread-buffer 0 turns the receive thread off),
 * prints {"ready":true} once subscribed, then counts NEW / UPDATE / DESTROY events and
 * overrun markers (with the kernel's lost counts). Stops when --expect events arrived,
 * when no event came for --idle-ms after the first one, after --timeout-ms, or on SIGTERM,
 * and prints one JSON line with the counts, times (epoch ms) and its own CPU and memory.
 */
import { performance } from 'node:perf_hooks';
import { ConntrackClient } from '../src/client/client.js';
import type { EventType } from '../src/ctnetlink/model.js';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const netns = arg('netns');
const expect = Number(arg('expect', '0'));
const idleMs = Number(arg('idle-ms', '3000'));
const timeoutMs = Number(arg('timeout-ms', '120000'));
const types = (arg('types', 'new,destroy') ?? 'new,destroy').split(',') as EventType[];
const buffer = arg('buffer');
const threadBuffer = arg('thread-buffer');

const nowMs = () => performance.timeOrigin + performance.now();

const ct = await ConntrackClient.open(netns !== undefined ? { netns } : {});
const sub = ct.events({
  types,
  ...(buffer !== undefined ? { receiveBufferSize: Number(buffer) } : {}),
  ...(threadBuffer !== undefined ? { receiveThreadBuffer: Number(threadBuffer) } : {}),
});

const counts = { new: 0, update: 0, destroy: 0 };
let events = 0;
let overruns = 0;
let lost = 0;
let decodeErrors = 0;
let firstMs = 0;
let lastMs = 0;
let firstDestroyMs = 0;
let maxBatch = 0;
let stopReason = 'expected count reached';
const startMs = nowMs();
const cpu0 = process.cpuUsage();

const stop = (why: string) => {
  stopReason = why;
  sub.close();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
const watchdog = setInterval(() => {
  const t = nowMs();
  if (firstMs > 0 && t - lastMs > idleMs) stop(`idle ${idleMs} ms`);
  else if (t - startMs > timeoutMs) stop(`timeout ${timeoutMs} ms`);
}, 100);

process.stdout.write(JSON.stringify({ ready: true }) + '\n');

for (;;) {
  const items = sub.drain();
  if (items.length > 0) {
    if (items.length > maxBatch) maxBatch = items.length;
    const t = nowMs();
    for (const it of items) {
      if (it.kind === 'event') {
        counts[it.type]++;
        events++;
        if (it.type === 'destroy' && firstDestroyMs === 0) firstDestroyMs = t;
      } else if (it.kind === 'overrun') {
        overruns++;
        lost += it.lost ?? 0;
      } else if (it.kind === 'decode-error') decodeErrors++;
    }
    if (firstMs === 0) firstMs = t;
    lastMs = t;
    if (expect > 0 && events >= expect) break;
    continue;
  }
  if (sub.isEnded) break;
  await sub.wait();
}
clearInterval(watchdog);
const cpu = process.cpuUsage(cpu0);
await ct.close();
const ru = process.resourceUsage();
process.stdout.write(
  JSON.stringify({
    ready: false,
    ...counts,
    events,
    overruns,
    lost,
    decodeErrors,
    firstMs,
    firstDestroyMs,
    lastMs,
    stopReason,
    maxBatch,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    maxRssKiB: ru.maxRSS,
  }) + '\n',
);
process.exit(0);
