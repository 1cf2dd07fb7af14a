/**
 * `ctevents top` snapshots: the pressure report plus the top holders of the table per
 * grouping, as one JSON object per interval (`--format json`, or stdout not a terminal)
 * or as plain lines (`--format text`). The TTY view (top-view.ts) draws the same data.
 *
 * JSON schema (version 1), one object per line:
 *   {"type":"top", "time":"2026-11-30T07:00:01.000Z", "intervalSec":1,
 *    "entries":12345,                 kernel count (GET_STATS) in the namespace
 *    "mirrored":12345,                the mirror's count; "inSync":true
 *    "max":262144, "buckets":262144, "fillPercent":4.71,
 *    "fillRatePerSec":120.5, "secondsToFull":2073.1 | null, "entriesPerBucket":0.047,
 *    "rates":{"new":..,"destroyed":..,"drop":..,"early_drop":..,"insert_failed":..,
 *             "clash_resolve":..,"chaintoolong":..},          per second
 *    "stats":{"found":..,"invalid":..,"insert":..,"insert_failed":..,"drop":..,"early_drop":..,
 *             "error":..,"search_restart":..,"clash_resolve":..,"chaintoolong":..},
 *                                     per-CPU counters summed, delta over the interval
 *    "diagnosis":[{"code":"ok"|"assured-full"|"non-assured-flood"|"chains-too-long"|
 *                  "gc-evicting"|"events-lost","text":"...","numbers":{...}}],
 *    "sizing":{"bytesPerEntry":256,"bytesAtMax":..,"bucketBytes":..,"bucketsPerMax":1,
 *              "advice":[{"setting":"nf_conntrack_max","value":..,"memoryBytes":..,"text":".."}]},
 *    "mirror":{"lost":0,"resyncs":0,"repairedAdded":0,"repairedRemoved":0,"repairedUpdated":0},
 *    "top":{"source":[{"key":"198.19.0.7","count":123,"share":0.5,"rate":10}, ...],
 *           "sourcePrefix":[...], "destination":[...], "dport":[...], "proto":[...],
 *           "state":[...], "assured":[...], "zone":[...], "mark":[...]}}
 * `top` lists are largest first, at most --limit (default 10) each; `share` is the
 * fraction of mirrored entries; `rate` the change of the count per second since the
 * previous snapshot (0 in the first). Keys: addresses as inet_ntop writes them, prefixes
 * "a.b.c.0/24" / "2001:db8::/64", ports as decimal, protocols by name ("tcp", "udp",
 * "icmp", or the number), TCP states by kernel name, "assured" / "not-assured", zone and
 * mark as decimal.
 */
import type { PressureReport } from '../pressure/analyze.js';
import type { ConntrackTable } from '../table/table.js';
import type { Grouping } from '../table/aggregates.js';
import type { TopRow } from '../table/rates.js';

export { TopRates, type TopRow } from '../table/rates.js';

export interface TopSnapshot {
  type: 'top';
  time: string;
  intervalSec: number;
  entries: number;
  mirrored: number;
  inSync: boolean;
  max: number;
  buckets: number | null;
  fillPercent: number;
  fillRatePerSec: number;
  secondsToFull: number | null;
  entriesPerBucket: number | null;
  rates: PressureReport['rates'];
  stats: PressureReport['stats'];
  diagnosis: PressureReport['diagnosis'];
  sizing: PressureReport['sizing'];
  mirror: { lost: number; resyncs: number; repairedAdded: number; repairedRemoved: number; repairedUpdated: number };
  top: Record<Grouping, TopRow[]>;
}

export function buildSnapshot(report: PressureReport, table: ConntrackTable, top: Record<Grouping, TopRow[]>): TopSnapshot {
  const c = table.counters;
  return {
    type: 'top',
    time: new Date().toISOString(),
    intervalSec: report.intervalSec,
    entries: report.entries,
    mirrored: table.size,
    inSync: table.inSync,
    max: report.max,
    buckets: report.buckets,
    fillPercent: report.fillPercent,
    fillRatePerSec: report.fillRatePerSec,
    secondsToFull: report.secondsToFull,
    entriesPerBucket: report.entriesPerBucket,
    rates: report.rates,
    stats: report.stats,
    diagnosis: report.diagnosis,
    sizing: report.sizing,
    mirror: { lost: c.lost, resyncs: c.resyncs, repairedAdded: c.repairedAdded, repairedRemoved: c.repairedRemoved, repairedUpdated: c.repairedUpdated },
    top,
  };
}

const fmt = (n: number | null) => (n === null ? '-' : String(n));

/** The header lines shared by --format text and the TTY view. */
export function headerLines(s: TopSnapshot): string[] {
  const r = s.rates;
  const ttf = s.secondsToFull === null ? 'not filling' : `full in ${s.secondsToFull} s`;
  return [
    `entries ${s.entries}/${s.max} (${s.fillPercent} %), buckets ${fmt(s.buckets)} (${fmt(s.entriesPerBucket)}/bucket), fill ${s.fillRatePerSec}/s, ${ttf}${s.inSync ? '' : ', mirror resyncing'}`,
    `per s: new ${fmt(r.new)} destroyed ${fmt(r.destroyed)} drop ${r.drop} early_drop ${r.early_drop} insert_failed ${r.insert_failed} clash_resolve ${r.clash_resolve} chaintoolong ${r.chaintoolong}`,
    `memory: ${s.sizing.bytesPerEntry} B/entry, ${(s.sizing.bytesAtMax / 1048576).toFixed(1)} MiB at max, buckets/max ${fmt(s.sizing.bucketsPerMax)}; events lost ${s.mirror.lost}, resyncs ${s.mirror.resyncs}`,
    ...s.diagnosis.map((d) => `diagnosis: ${d.text}`),
    ...s.sizing.advice.map((a) => `advice: ${a.text}`),
  ];
}

/** --format text: the header, then each grouping's list, then a blank line. */
export function textLines(s: TopSnapshot): string[] {
  const out = [`top ${s.time}`, ...headerLines(s)];
  for (const [g, rows] of Object.entries(s.top)) {
    out.push(`${g}: ${rows.map((r) => `${r.key} ${r.count} (${(r.share * 100).toFixed(1)} %, ${r.rate}/s)`).join(', ') || '-'}`);
  }
  out.push('');
  return out;
}
