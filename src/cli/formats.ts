/**
 * The CLI's view of the output formats in src/format: one line formatter per --format,
 * plus the lines only the CLI produces (overrun markers, the stats report).
 */
import { readFileSync } from 'node:fs';
import type { CpuStats, GlobalStats, Message } from '../ctnetlink/model.js';
import type { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import type { ConntrackFormatOptions, LineFormatter } from '../format/index.js';
import { formatCpuStatsConntrack } from '../format/conntrack-stats.js';
import { isoTime } from '../format/json-time.js';
import type { Format, OutputFlags } from './args.js';
import type { NetnsFileReader } from './host.js';

export type { LineFormatter } from '../format/index.js';

/**
 * The formatter modules, loaded per format before a run needs them (loadFormat): a run
 * evaluates only its own format's modules (start-up, issue 14), not all four.
 */
interface Loaded {
  conntrack?: typeof import('../format/conntrack.js');
  text?: typeof import('../format/text.js');
  json?: typeof import('../format/json.js');
  xml?: typeof import('../format/xml.js');
  connlabel?: typeof import('../host/connlabel.js');
}
const loaded: Loaded = {};

/** Load what formatterFor(f, { output }) and the xml frame need; idempotent. */
export async function loadFormat(f: Format, output?: OutputFlags): Promise<void> {
  if (f === 'text') loaded.text ??= await import('../format/text.js');
  if (f === 'json') loaded.json ??= await import('../format/json.js');
  if (f === 'conntrack') loaded.conntrack ??= await import('../format/conntrack.js');
  if (f === 'xml') loaded.xml ??= await import('../format/xml.js');
  if (output?.labels && (f === 'conntrack' || f === 'xml')) loaded.connlabel ??= await import('../host/connlabel.js');
}

function need<K extends keyof Loaded>(k: K): NonNullable<Loaded[K]> {
  const m = loaded[k];
  if (m === undefined) throw new Error(`internal: format module ${k} used before loadFormat()`);
  return m as NonNullable<Loaded[K]>;
}

/** The opening and closing lines of an XML document (`--format xml`; loadFormat('xml') first). */
export function xmlFrame(): { header: (root: 'conntrack' | 'expect') => string; footer: (root: 'conntrack' | 'expect') => string } {
  const x = need('xml');
  return { header: x.xmlHeader, footer: x.xmlFooter };
}

/**
 * The formatter for a run. conntrack -E names the process behind an event; live runs pass
 * the names the session looked up (`progname`), in the --netns namespace when one is given.
 */
export function formatterFor(
  f: Format,
  run: { live: boolean; output?: OutputFlags; progname?: (portid: number) => string | undefined },
): LineFormatter {
  if (f === 'text') return need('text').createTextFormatter();
  if (f === 'json') return need('json').createJsonFormatter();
  const o: ConntrackFormatOptions = {};
  const out = run.output ?? {};
  if (out.extended) o.extended = true;
  if (out.id) o.id = true;
  if (out.timestamp) o.timestamp = true;
  if (out.ktimestamp) o.ktimestamp = true;
  if (out.labels) {
    const map = need('connlabel').loadConnlabels();
    if (map) o.labels = map;
  }
  // `read` names nobody: a capture's processes are long gone, and a live process with the
  // same port id would be the wrong name.
  o.progname = run.live && run.progname !== undefined ? run.progname : () => undefined;
  return f === 'xml' ? need('xml').createXmlFormatter(o) : need('conntrack').createConntrackFormatter(o);
}

/** The socket table of the namespace the events come from (this process's own without --netns). */
export function netlinkTable(netns: string | undefined, readNetnsFile: NetnsFileReader): () => string {
  if (netns === undefined) return () => readFileSync('/proc/net/netlink', 'latin1');
  return () => Buffer.from(readNetnsFile(netns, '/proc/thread-self/net/netlink')).toString('latin1');
}

/**
 * The in-band overrun notice. In conntrack format stdout must stay what conntrack prints,
 * so the notice goes to stderr there, worded as conntrack-tools words it.
 */
export function overrunLine(f: Format, lost: number | undefined, ns: bigint, source?: 'kernel' | 'buffer'): { stdout?: string; stderr?: string } {
  const n = lost === undefined ? 'an unknown number of' : String(lost);
  switch (f) {
    case 'json': {
      const o: Record<string, unknown> = { type: 'overrun', time: isoTime(ns), timestampNs: String(ns) };
      if (lost !== undefined) o.lost = lost;
      if (source !== undefined) o.source = source;
      return { stdout: JSON.stringify(o) };
    }
    case 'text':
      return {
        stdout:
          source === 'buffer'
            ? `OVERRUN: ${n} events lost (our receive backlog was full: the output is too slow; raise --backlog-size)`
            : `OVERRUN: ${n} events lost (the kernel's receive queue was full; raise --buffer-size)`,
      };
    case 'conntrack':
    case 'xml':
      return { stderr: `WARNING: We have hit ENOBUFS! We are losing events. (${n} lost)` };
  }
}

type CpuKey = (typeof CPU_STATS_FIELDS)[number][1];

/** The counters `conntrack -S` shows, in its order, with its names. */
const SHOWN: readonly [CpuKey, string][] = [
  ['found', 'found'], ['invalid', 'invalid'], ['insert', 'insert'], ['insertFailed', 'insert_failed'], ['drop', 'drop'],
  ['earlyDrop', 'early_drop'], ['error', 'error'], ['searchRestart', 'search_restart'], ['clashResolve', 'clash_resolve'],
  ['chainTooLong', 'chaintoolong'],
];

/** The kernel's replies to GET_STATS and GET_STATS_CPU, as decoded (ConntrackClient.statsMessages()). */
export interface StatsReplies {
  global: Extract<Message, { kind: 'stats' }>;
  cpus: Extract<Message, { kind: 'stats-cpu' }>[];
}

export function statsLines(f: Format, replies: StatsReplies, buckets: number | undefined, timestampNs: bigint = BigInt(Date.now()) * 1_000_000n): string[] {
  const g: GlobalStats = replies.global.stats;
  const cpus: CpuStats[] = replies.cpus.map((m) => m.stats);
  if (f === 'conntrack' || f === 'xml') return cpus.map((c) => formatCpuStatsConntrack(c));
  const sums: Record<string, number> = {};
  for (const [k] of SHOWN) sums[k] = cpus.reduce((a, c) => a + (c[k] ?? 0), 0);
  const entries = g.entries ?? 0;
  const max = g.maxEntries ?? 0;
  const fill = max > 0 ? (100 * entries) / max : 0;
  if (f === 'json') {
    // The same objects `read` prints for the kernel's replies (schema/ctevents.schema.json:
    // "stats" and "stats-cpu"), the stats line with the two figures only a live run knows.
    // The kernel's own reply messages, as `read` prints them from a capture.
    const json = need('json').createJsonFormatter();
    const g0 = json(replies.global, { timestampNs })!;
    const extra = `${buckets !== undefined ? `,"buckets":${buckets}` : ''},"fillPercent":${Number(fill.toFixed(2))}`;
    return [g0.slice(0, -1) + extra + '}', ...replies.cpus.map((m) => json(m, { timestampNs })!)];
  }
  const lines = [
    `entries   ${entries}`,
    `max       ${max}`,
    `buckets   ${buckets ?? 'unknown'}`,
    `fill      ${fill.toFixed(2)}%`,
    '',
  ];
  const head = ['cpu', ...SHOWN.map(([, n]) => n)];
  const rows = [...cpus.map((c) => [String(c.cpu), ...SHOWN.map(([k]) => String(c[k] ?? 0))]), ['sum', ...SHOWN.map(([k]) => String(sums[k]))]];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt));
  return lines;
}
