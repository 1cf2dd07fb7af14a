/**
 * The CLI's print path offline (issue 14): the JavaScript work of `ctevents --format json`
 * per event, over a recorded capture of events, for the model path (decodeDatagram + the
 * session's formatter, what `ctevents` did before) and the lean path (src/cli/lean.ts:
 * printEventDatagram into a LineWriter in byte mode), passes alternated in one process,
 * lines written to /dev/null in 64 KiB chunks. Prints CPU seconds per 1M lines, min /
 * median of the passes. Run it under `taskset -c 1` on a quiet machine.
 *
 *   node build/bench/lean.js CAPTURE.pcap [--format json|conntrack] [--passes N]
 *
 * A capture: `ctevents --format json --write ev.pcap` while flows come and go (the
 * datagrams are copied into one buffer, as a receive batch holds them).
 */
import { openSync, readFileSync, writeSync } from 'node:fs';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import { createFormatter, type FormatName } from '../src/format/index.js';
import { LineWriter } from '../src/cli/output.js';
import { leanWriterFor, printEventDatagram } from '../src/cli/lean.js';
import type { Session } from '../src/cli/session.js';
import { netlinkPayload, parseCapture } from '../src/pcap/index.js';

const path = process.argv[2];
if (path === undefined || path.startsWith('--')) {
  process.stderr.write('usage: lean.js CAPTURE [--format json|conntrack] [--passes N]\n');
  process.exit(2);
}
const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const format = flag('format', 'json') as FormatName;
const passes = Number(flag('passes', '6'));

const dgs: { data: Uint8Array; ns: bigint }[] = [];
for (const rec of parseCapture(new Uint8Array(readFileSync(path)))) {
  const p = netlinkPayload(rec);
  if (p !== undefined && p.protocol === 12) dgs.push({ data: p.data, ns: rec.timestampNs });
}
{
  let total = 0;
  for (const d of dgs) total += d.data.length;
  const all = new Uint8Array(total);
  let o = 0;
  for (const d of dgs) {
    all.set(d.data, o);
    d.data = all.subarray(o, o + d.data.length);
    o += d.data.length;
  }
}

const fd = openSync('/dev/null', 'w');
const sink = { write: (c: string | Uint8Array) => (typeof c === 'string' ? writeSync(fd, c) : writeSync(fd, c), true), once: () => undefined, on: () => undefined, removeListener: () => undefined };
const fmt = createFormatter(format);

/** What printEventDatagram and the pump use of a Session, over a LineWriter to /dev/null. */
function session(): Session {
  const out = new LineWriter(sink);
  const s = {
    out,
    opts: { format, count: undefined, expect: false, output: {}, command: 'watch' },
    formatName: format,
    printed: 0,
    stop: new AbortController(),
    filter: { empty: true, match: () => true, matchExpect: () => true, kernel: {} },
    portids: undefined,
    warn: () => undefined,
    recordLine(line: string, kind: string) {
      out.line(line, kind);
      return false;
    },
    record(m: Parameters<Session['record']>[0], ns: bigint | undefined, kind: string) {
      const l = fmt(m, ns === undefined ? {} : { timestampNs: ns });
      if (l !== undefined) out.line(l, kind);
      return false;
    },
  };
  return s as unknown as Session;
}

function pass(mode: 'model' | 'lean'): { cpu: number; lines: number } {
  const s = session();
  const lean = leanWriterFor(s)!;
  const c0 = process.cpuUsage();
  if (mode === 'lean') {
    for (const d of dgs) printEventDatagram(s, lean, d.data, d.ns);
  } else {
    for (const d of dgs) for (const m of decodeDatagram(d.data)) if (m.kind === 'conntrack' && m.event) s.record(m, d.ns, m.event);
  }
  void s.out.flush();
  const c = process.cpuUsage(c0);
  let lines = 0;
  for (const k in s.out.written) lines += s.out.written[k]!;
  return { cpu: (c.user + c.system) / 1e6, lines };
}

const per: Record<string, number[]> = { model: [], lean: [] };
let lines = 0;
for (let i = 0; i < passes; i++) {
  for (const mode of ['model', 'lean'] as const) {
    const r = pass(mode);
    lines = r.lines;
    per[mode]!.push((r.cpu * 1e6) / r.lines);
  }
}
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(2)} / ${s[Math.floor(s.length / 2)]!.toFixed(2)}`;
};
process.stdout.write(`${lines} lines per pass, --format ${format}, ${passes} passes each, alternated\n`);
process.stdout.write(`model path (decode + formatter): CPU s per 1M lines, min / median ${stat(per.model!)}\n`);
process.stdout.write(`lean path (cli/lean.ts):         CPU s per 1M lines, min / median ${stat(per.lean!)}\n`);
