/**
 * The families `ctevents metrics` serves, rendered from MetricsSources (one per namespace).
 *
 * node_exporter's conntrack collector, same names, types and values (gauges; stat_* summed
 * over CPUs, as it sums /proc/net/stat/nf_conntrack):
 *   node_nf_conntrack_entries, node_nf_conntrack_entries_limit,
 *   node_nf_conntrack_stat_{found,invalid,ignore,insert,insert_failed,drop,early_drop,search_restart}
 * Then ours, under ctevents_ (see README "ctevents metrics" for the full list).
 *
 * With several namespaces every sample carries a `netns` label; with one it has none, so
 * node_exporter dashboards work unchanged. Cardinality is bounded: per CPU, per protocol,
 * per TCP state, per zone in use, and top-N (N fixed by the caller).
 */
import type { CpuStats } from '../ctnetlink/model.js';
import { ExpositionWriter, type ExpositionFormat, type Labels } from './exposition.js';
import { DIAGNOSES, type MetricsSource } from './source.js';

export interface RenderOptions {
  /** How many top sources / destination ports (default 10). */
  top?: number;
  /** Label samples with netns (default: when there is more than one source). */
  netnsLabel?: boolean;
}

type CpuKey = Exclude<keyof CpuStats, 'cpu' | 'unknown'>;

/** node_exporter's stat gauges: name suffix, field, help (node_exporter's own wording). */
const NODE_STATS: readonly [string, CpuKey, string][] = [
  ['found', 'found', 'Number of searched entries which were successful.'],
  ['invalid', 'invalid', 'Number of packets seen which can not be tracked.'],
  ['ignore', 'ignore', 'Number of packets seen which are already connected to a conntrack entry.'],
  ['insert', 'insert', 'Number of entries inserted into the list.'],
  ['insert_failed', 'insertFailed', 'Number of entries for which list insertion was attempted but failed.'],
  ['drop', 'drop', 'Number of packets dropped due to conntrack failure.'],
  ['early_drop', 'earlyDrop', 'Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.'],
  ['search_restart', 'searchRestart', 'Number of conntrack table lookups which had to be restarted due to hashtable resizes.'],
];

/** Our per-CPU kernel counters (kernel names), as counters. */
const CT_STATS: readonly [string, CpuKey, string][] = [
  ['found', 'found', 'lookups that found an entry'],
  ['invalid', 'invalid', 'packets that could not be tracked'],
  ['insert', 'insert', 'entries inserted by ctnetlink or BPF (not the new-flow rate)'],
  ['insert_failed', 'insertFailed', 'confirmations that failed (unresolved clash, chain too long, dying entry)'],
  ['drop', 'drop', 'packets dropped by conntrack (table full, allocation failure, tracker verdict, unresolved clash)'],
  ['early_drop', 'earlyDrop', 'non-assured entries evicted by early_drop() to make room'],
  ['error', 'error', 'packets with errors seen by the trackers'],
  ['search_restart', 'searchRestart', 'lookups restarted by concurrent table changes'],
  ['clash_resolve', 'clashResolve', 'racing duplicate entries resolved (merged or inserted as NAT_CLASH)'],
  ['chaintoolong', 'chainTooLong', 'inserts refused because a hash chain was too long (too few buckets)'],
];

function sumCpus(cpus: readonly CpuStats[], key: CpuKey): number {
  let s = 0;
  for (const c of cpus) s += c[key] ?? 0;
  return s;
}

/** Sort a small map's entries by key for a stable output. */
function sorted(m: ReadonlyMap<string, number>): [string, number][] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function renderMetrics(sources: readonly MetricsSource[], format: ExpositionFormat, opts: RenderOptions = {}): string {
  const top = opts.top ?? 10;
  const labelNetns = opts.netnsLabel ?? sources.length > 1;
  const w = new ExpositionWriter(format);
  const nsLabels = sources.map((s): Labels => (labelNetns ? { netns: s.netns ?? '' } : {}));
  const kernels = sources.map((s) => s.kernel());
  const L = (i: number, extra?: Labels): Labels => (extra ? { ...nsLabels[i], ...extra } : nsLabels[i]!);

  // node_exporter's families (only when the kernel was sampled at least once).
  w.family({ name: 'node_nf_conntrack_entries', type: 'gauge', help: 'Number of currently allocated flow entries for connection tracking.' });
  kernels.forEach((k, i) => k && w.sample(L(i), k.entries));
  w.family({ name: 'node_nf_conntrack_entries_limit', type: 'gauge', help: 'Maximum size of connection tracking table.' });
  kernels.forEach((k, i) => k && w.sample(L(i), k.max));
  for (const [suffix, key, help] of NODE_STATS) {
    w.family({ name: `node_nf_conntrack_stat_${suffix}`, type: 'gauge', help });
    kernels.forEach((k, i) => k && w.sample(L(i), sumCpus(k.cpus, key)));
  }

  // Kernel state and counters.
  w.family({ name: 'ctevents_up', type: 'gauge', help: 'Whether the kernel counters of the namespace were sampled in the last 10 seconds.' });
  const now = Date.now();
  kernels.forEach((k, i) => w.sample(L(i), k && now - k.sampledAt < 10_000 ? 1 : 0));
  w.family({ name: 'ctevents_entries', type: 'gauge', help: 'Entries in the namespace table (nf_conntrack_count, from ctnetlink).' });
  kernels.forEach((k, i) => k && w.sample(L(i), k.entries));
  w.family({ name: 'ctevents_entries_limit', type: 'gauge', help: 'nf_conntrack_max: entries the namespace may hold before new flows are dropped.' });
  kernels.forEach((k, i) => k && w.sample(L(i), k.max));
  w.family({ name: 'ctevents_fill_ratio', type: 'gauge', unit: 'ratio', help: 'Entries divided by nf_conntrack_max (1 = full).' });
  kernels.forEach((k, i) => k && k.max > 0 && w.sample(L(i), k.entries / k.max));
  w.family({ name: 'ctevents_buckets', type: 'gauge', help: 'Hash table buckets (nf_conntrack_buckets).' });
  kernels.forEach((k, i) => k?.buckets !== undefined && w.sample(L(i), k.buckets));
  w.family({ name: 'ctevents_entry_size_bytes', type: 'gauge', unit: 'bytes', help: 'Memory of one entry: the object size of the nf_conntrack slab cache (extensions not included).' });
  kernels.forEach((k, i) => k?.entryBytes !== undefined && w.sample(L(i), k.entryBytes));
  w.family({ name: 'ctevents_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Estimated kernel memory of the table: entries times the entry object size plus 8 bytes per bucket.' });
  kernels.forEach((k, i) => k?.entryBytes !== undefined && w.sample(L(i), k.entries * k.entryBytes + (k.buckets ?? 0) * 8));

  for (const [name, key, help] of CT_STATS) {
    w.family({ name: `ctevents_cpu_stat_${name}`, type: 'counter', help: `Per CPU: ${help} (kernel per-CPU counter, u32, wraps).` });
    kernels.forEach((k, i) => {
      if (k) for (const c of k.cpus) w.sample(L(i, { cpu: String(c.cpu) }), c[key] ?? 0);
    });
  }
  for (const [name, key, help] of CT_STATS) {
    w.family({ name: `ctevents_stat_${name}`, type: 'counter', help: `All CPUs: ${help}.` });
    kernels.forEach((k, i) => k && w.sample(L(i), sumCpus(k.cpus, key)));
  }

  // The mirror.
  w.family({ name: 'ctevents_mirror_in_sync', type: 'gauge', help: 'Whether the mirror holds a complete picture of the table (1) or is (re)building after a loss (0).' });
  sources.forEach((s, i) => w.sample(L(i), s.inSync() ? 1 : 0));
  w.family({ name: 'ctevents_mirror_entries', type: 'gauge', help: 'Entries held by the mirror.' });
  sources.forEach((s, i) => w.sample(L(i), s.mirrorEntries()));
  w.family({ name: 'ctevents_mirror_resyncs', type: 'counter', help: 'Full dumps taken to repair the mirror (after lost events, or to confirm entries older than the subscription).' });
  sources.forEach((s, i) => w.sample(L(i), s.resyncs()));

  const counts = sources.map((s) => s.counts());
  w.family({ name: 'ctevents_entries_by_protocol', type: 'gauge', help: 'Entries by layer-4 protocol.' });
  counts.forEach((c, i) => sorted(c.protocol).forEach(([p, n]) => w.sample(L(i, { protocol: p }), n)));
  w.family({ name: 'ctevents_entries_by_tcp_state', type: 'gauge', help: 'TCP entries by conntrack TCP state.' });
  counts.forEach((c, i) => sorted(c.tcpState).forEach(([st, n]) => w.sample(L(i, { state: st }), n)));
  w.family({ name: 'ctevents_entries_by_assured', type: 'gauge', help: 'Entries by the ASSURED status bit (assured entries are never early-dropped).' });
  counts.forEach((c, i) => {
    w.sample(L(i, { assured: 'true' }), c.assured);
    w.sample(L(i, { assured: 'false' }), c.notAssured);
  });
  w.family({ name: 'ctevents_entries_by_zone', type: 'gauge', help: 'Entries by conntrack zone.' });
  counts.forEach((c, i) => sorted(c.zone).forEach(([z, n]) => w.sample(L(i, { zone: z }), n)));

  w.family({ name: 'ctevents_top_source_entries', type: 'gauge', help: `Entries of the ${top} original-direction source addresses holding the most entries.` });
  sources.forEach((s, i) => s.topSources(top).forEach((t, r) => w.sample(L(i, { rank: String(r + 1), source: t.key }), t.entries)));
  w.family({ name: 'ctevents_top_destination_port_entries', type: 'gauge', help: `Entries of the ${top} original destination ports holding the most entries (TCP, UDP, UDP-Lite, SCTP and DCCP together unless a protocol label says otherwise).` });
  sources.forEach((s, i) =>
    s.topDestinationPorts(top).forEach((t, r) => w.sample(L(i, t.protocol !== undefined ? { rank: String(r + 1), protocol: t.protocol, port: t.key } : { rank: String(r + 1), port: t.key }), t.entries)),
  );

  // Events.
  const events = sources.map((s) => s.events());
  w.family({ name: 'ctevents_events', type: 'counter', help: 'Conntrack events received, by type.' });
  events.forEach((e, i) => {
    w.sample(L(i, { type: 'new' }), e.new);
    w.sample(L(i, { type: 'update' }), e.update);
    w.sample(L(i, { type: 'destroy' }), e.destroy);
  });
  w.family({ name: 'ctevents_events_lost', type: 'counter', help: 'Events the kernel dropped because our receive queue was full (its own count; the type of a lost event is unknown).' });
  events.forEach((e, i) => w.sample(L(i), e.lost));
  w.family({ name: 'ctevents_event_overruns', type: 'counter', help: 'Receive queue overruns (ENOBUFS) on the event socket.' });
  events.forEach((e, i) => w.sample(L(i), e.overruns));

  // Diagnosis.
  w.family({ name: 'ctevents_diagnosis', type: 'gauge', help: 'The table pressure diagnoses: 1 for each that applies now, 0 for the others.' });
  sources.forEach((s, i) => {
    const d = s.diagnoses();
    for (const x of DIAGNOSES) w.sample(L(i, { diagnosis: x }), d.includes(x) ? 1 : 0);
  });

  // Guard actions, when a guard runs in this process.
  if (sources.some((s) => s.guardActions)) {
    w.family({ name: 'ctevents_guard_actions', type: 'counter', help: 'Actions taken by the in-process guard, by action.' });
    sources.forEach((s, i) => {
      const g = s.guardActions?.();
      if (g) sorted(g).forEach(([a, n]) => w.sample(L(i, { action: a }), n));
    });
  }
  return w.finish();
}
