/**
 * MetricsSource: the narrow, read-only view the exporter renders from. Every getter must
 * answer from memory in O(groups), never by asking the kernel: a scrape costs the same at
 * 1,000 and at 1,000,000 entries. Whoever keeps the numbers implements it (TableSource:
 * the table mirror and the pressure sampler); the exporter does not care.
 *
 * Kernel counters are passed as the kernel gives them (u32 per CPU); sums are computed by
 * the renderer.
 */
import type { CpuStats } from '../ctnetlink/model.js';

/** Entries per group of the mirrored table. Keys are label values. */
export interface GroupCounts {
  /** By layer-4 protocol name (`tcp`, `udp`, `icmp`, `ipv6-icmp`, ...: /etc/protocols names, or the number). */
  protocol: ReadonlyMap<string, number>;
  /** TCP entries by state name (`ESTABLISHED`, `TIME_WAIT`, ...; `NONE` when unknown). */
  tcpState: ReadonlyMap<string, number>;
  /** By the IPS_ASSURED bit. */
  assured: number;
  notAssured: number;
  /** By conntrack zone (`0` for no zone). */
  zone: ReadonlyMap<string, number>;
}

export interface TopEntry {
  /** The label value: an address, or a port. */
  key: string;
  /** For destination ports: the protocol name, when the source tells ports apart by protocol. */
  protocol?: string;
  entries: number;
}

/** The kernel's pressure counters, as last sampled. */
export interface KernelSample {
  /** Entries in use in the namespace (CTA_STATS_GLOBAL_ENTRIES = nf_conntrack_count). */
  entries: number;
  /** nf_conntrack_max (CTA_STATS_GLOBAL_MAX_ENTRIES). */
  max: number;
  /** One per possible CPU. */
  cpus: readonly CpuStats[];
  /** nf_conntrack_buckets, when readable. */
  buckets?: number;
  /** Object size of the nf_conntrack slab cache (/proc/slabinfo), when readable. */
  entryBytes?: number;
  /** When it was taken (Date.now()). */
  sampledAt: number;
}

export interface EventCounts {
  new: number;
  update: number;
  destroy: number;
  /** Events the kernel dropped (receive queue overruns), by its own count. */
  lost: number;
  /** Overrun notifications (ENOBUFS) received. */
  overruns: number;
}

export interface MetricsSource {
  /** The namespace followed (undefined: the exporter's own). */
  readonly netns: string | undefined;
  /** True when the mirror has a complete picture: first dump done and no loss since. */
  inSync(): boolean;
  /** Entries the mirror holds now. */
  mirrorEntries(): number;
  /** Full dumps taken to (re)build the mirror, the first one excluded. */
  resyncs(): number;
  counts(): GroupCounts;
  /** The n sources (original-direction source address) holding the most entries. */
  topSources(n: number): readonly TopEntry[];
  /** The n (protocol, original destination port) pairs holding the most entries. */
  topDestinationPorts(n: number): readonly TopEntry[];
  events(): EventCounts;
  /** Undefined until the first sample arrived. */
  kernel(): KernelSample | undefined;
  /**
   * The diagnoses that apply now (at least one), from DIAGNOSES: the pressure analysis'
   * (src/pressure/analyze.ts, after dos.md) under label-friendly names; 'filling' is its
   * 'ok' at 90 % fill or more; 'unknown' before the first analysis.
   */
  diagnoses(): readonly Diagnosis[];
  /** Guard actions by name, when a guard runs in this process (see setGuardActions). */
  guardActions?(): ReadonlyMap<string, number>;
}

export const DIAGNOSES = ['ok', 'filling', 'full_not_evictable', 'non_assured_flood', 'chains_too_long', 'gc_evicting', 'events_lost', 'unknown'] as const;
export type Diagnosis = (typeof DIAGNOSES)[number];
