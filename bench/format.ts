/**
 * Formatter cost over a recorded capture (offline, one process; run it under `taskset -c 1`):
 * every datagram is decoded into the model once, then each pass formats every message
 * with the chosen format (as the CLI does: one FormatContext per datagram with its
 * capture time) and gathers the lines into 64 KiB chunks encoded to UTF-8 as the CLI's
 * LineWriter and the stream do (the flattening of the line ropes is part of the cost). Prints CPU seconds per pass and ns per line.
 *
 *   node build/bench/format.js CAPTURE.pcap [--format json|conntrack|text] [--passes N] [--decode | --as-events]
 *
 * --decode: each pass decodes too (decode + format, the whole JS work of a dump line).
 * --as-events: every entry formatted as a NEW event with its own receive time (one message
 * per datagram, as when listening; not with --decode).
 * A capture: node build/bench/format-capture.js DIR (a real 250,000-entry dump).
 */
import { readFileSync } from 'node:fs';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import { createFormatter, type FormatContext, type FormatName } from '../src/format/index.js';
import { netlinkPayload, parseCapture } from '../src/pcap/index.js';

const path = process.argv[2];
if (path === undefined || path.startsWith('--')) {
  process.stderr.write('usage: format.js CAPTURE [--format json|conntrack|text] [--passes N] [--decode] [--as-events]\n');
  process.exit(2);
}
const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const format = flag('format', 'json') as FormatName;
const passes = Number(flag('passes', '5'));
const decodeEach = process.argv.includes('--decode');
const asEvents = process.argv.includes('--as-events');

const datagrams: { data: Uint8Array; ns: bigint }[] = [];
for (const rec of parseCapture(readFileSync(path))) {
  const p = netlinkPayload(rec);
  if (p !== undefined && p.protocol === 12) datagrams.push({ data: p.data.slice(), ns: rec.timestampNs });
}
let decoded: { msgs: Message[]; ctx: FormatContext }[] = datagrams.map((d) => ({ msgs: decodeDatagram(d.data), ctx: { timestampNs: d.ns } }));
if (asEvents) {
  // One message per datagram, each its own receive time, as NEW events (listening).
  let ns = datagrams[0]?.ns ?? 0n;
  const one: { msgs: Message[]; ctx: FormatContext }[] = [];
  for (const d of decoded) {
    for (const m of d.msgs) {
      if (m.kind === 'conntrack') (m as { event?: string }).event = 'new';
      ns += 20_000n;
      one.push({ msgs: [m], ctx: { timestampNs: ns } });
    }
  }
  decoded = one;
}
let lines = 0;
for (const d of decoded) lines += d.msgs.length;
const fmt = createFormatter(format);

const results: { cpuSeconds: number; nsPerLine: number }[] = [];
let chars = 0;
let buf = '';
for (let p = 0; p < passes; p++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < decoded.length; i++) {
    const d = decoded[i]!;
    const msgs = decodeEach && !asEvents ? decodeDatagram(datagrams[i]!.data) : d.msgs;
    for (const m of msgs) {
      const l = fmt(m, d.ctx);
      if (l === undefined) continue;
      buf += l + '\n';
      if (buf.length >= 65536) {
        chars += Buffer.from(buf, 'utf8').length;
        buf = '';
      }
    }
  }
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  results.push({ cpuSeconds: cpu, nsPerLine: Math.round((cpu * 1e9) / lines) });
}
const sorted = results.map((r) => r.nsPerLine).sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ format, decode: decodeEach, lines, passes: results, medianNsPerLine: sorted[sorted.length >> 1], chars }) + '\n');
