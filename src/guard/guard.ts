/**
 * The guard: keeps a namespace's conntrack table under a high watermark so that new
 * legitimate connections are admitted, by the policy in ./policy.ts.
 *
 * Loop (every `intervalMs`, default 200 ms): read the table's count and max
 * (IPCTNL_MSG_CT_GET_STATS) and the per-CPU counters (GET_STATS_CPU: drop, early_drop,
 * insert_failed deltas, logged with each decision). When count >= high x max (default
 * 0.9), or the kernel dropped packets while count >= low x max, a pressure episode
 * starts: it takes a view of the table and ranks victims by the policy (deep enough for
 * several cycles), then every 20 ms deletes count - low x max of them (default low 0.75;
 * at most `batchMax`, 16384, per round) with deleteMany (batched, pipelined; ENOENT from
 * races counted), until the count is under the low watermark. A new view is taken when the
 * ranked list runs short or is old (2 s with the mirror, 5 s with dumps), so eviction keeps
 * the attack's pace instead of waiting for a dump per cycle. Evictions are logged once a second (aggregated), views as `rank`.
 *
 * The guard stands back while the kernel copes by itself: when early_drop rises and no
 * packet is dropped (a flood of non-assured entries, which early_drop evicts one per new
 * entry), it logs `stand-by` and evicts nothing.
 *
 * Timeouts: on the first pressure it shortens the namespace's timeout sysctls for the
 * states floods fill (SHORT_TIMEOUTS: unreplied and stream UDP, ICMP, the TCP handshake
 * and closing states, generic); a new value applies to an entry at its next packet (the
 * kernel keeps an idle entry's timer), so this limits how long new junk stays. Before
 * writing, the original values go to a state file; once the table has stayed below the
 * low watermark for `calmSeconds` (default 60), on stop(), on SIGTERM/SIGINT (the CLI) and
 * after a crash of the guard's own logic, the originals are written back and the file
 * removed. A guard started with a state file left behind (kill -9, power loss) restores
 * it first.
 *
 * The view (`source`): by default the live mirror (ConntrackTable, opened at run(); a view
 * is a scan of its store, table-view.ts, ranked fairness-first, fair-first.ts, renewed every
 * `rerankMs`); a source holding `flushShare` of the maximum inside a heavy /16 is flushed in
 * the kernel. When the mirror falls below half of the kernel's count (its event socket
 * overran), or new entries arrive at `suspendRate` (100,000/s) or more, it is suspended
 * until the pressure ends and the guard evicts in flood mode (flood-evict.ts: the newest
 * entries of the heavy prefixes from NEW events, the rest from dumps, deletes written from
 * lean-decoded numbers) with the heavy prefixes and sources the mirror showed when it was
 * suspended. `source: 'dump'`: a full dump per view, tier-first policy (the fallback).
 *
 * CPU: ctnetlink inserts and deletes run under one kernel mutex (NFNL_CB_MUTEX), so against
 * an attacker inserting over ctnetlink on the same CPUs the guard's share of the CPU decides;
 * `nice` (the CLI: -10 with --apply) sets the priority of every thread at start.
 *
 * Dry run (the default, `apply: false`): everything is computed and logged, nothing is
 * deleted or written. Every action is one NDJSON-ready record through `log`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ConntrackClient } from '../client/client.js';
import type { DeleteCounts } from '../client/evict.js';
import { readConntrackSysctls, writeConntrackSysctls, type ConntrackSysctls } from '../client/sysctls.js';
import type { Conntrack, CpuStats } from '../ctnetlink/model.js';
import { rankForCycles, stepOf, type PolicyOptions, type PolicyStep, type Victim } from './policy.js';
import { SnapshotView, type GuardView } from './view.js';
import { ConntrackTable } from '../table/table.js';
import { TableView, guardEntryOfRow, heavySources } from './table-view.js';
import { chooseVictimsFairFirst } from './fair-first.js';
import { heavyOf, heavyPrefixes, sampleTable, wideKeyOf } from './stream-evict.js';
import { FloodEvictor } from './flood-evict.js';
import { setProcessNice, type PriorityResult } from './priority.js';
import { IPS_ASSURED } from '../ctnetlink/constants.js';

/** Timeouts under pressure (seconds), applied only where lower than the current value. */
export const SHORT_TIMEOUTS: ConntrackSysctls = {
  nf_conntrack_udp_timeout: 10,
  nf_conntrack_udp_timeout_stream: 30,
  nf_conntrack_icmp_timeout: 10,
  nf_conntrack_icmpv6_timeout: 10,
  nf_conntrack_tcp_timeout_syn_sent: 20,
  nf_conntrack_tcp_timeout_syn_recv: 10,
  nf_conntrack_tcp_timeout_fin_wait: 10,
  nf_conntrack_tcp_timeout_close_wait: 10,
  nf_conntrack_tcp_timeout_last_ack: 10,
  nf_conntrack_tcp_timeout_time_wait: 10,
  nf_conntrack_tcp_timeout_close: 5,
  nf_conntrack_generic_timeout: 60,
};

export type GuardRecord = Record<string, unknown> & { action: string };

export interface GuardOptions {
  /** Act (delete, write sysctls). Default false: log what would be done. */
  apply?: boolean;
  /** Fractions of the maximum (default 0.9 and 0.75). */
  high?: number;
  low?: number;
  intervalMs?: number;
  /** Never evict entries this returns true for. */
  protect?: (ct: Conntrack) => boolean;
  policy?: PolicyOptions;
  /** Shorten timeouts under pressure (default true). */
  shortenTimeouts?: boolean;
  shortTimeouts?: ConntrackSysctls;
  /** Below the low watermark this long ends the pressure episode (restore). Default 60. */
  calmSeconds?: number;
  /** Where the original sysctl values are kept while changed. */
  stateFile?: string;
  /** Override the maximum (default: nf_conntrack_max from the kernel). */
  maxEntries?: number;
  /** Each action, as a record (the CLI prints NDJSON). */
  log?: (r: GuardRecord) => void;
  /** How the table is seen: a custom view (tests), else `source`. */
  view?: (sysctls: ConntrackSysctls, signal: AbortSignal) => Promise<GuardView>;
  /**
   * 'table' (default): the live mirror (ConntrackTable, opened at run() unless `table` is
   * given): a view is a scan of memory, so the ranking is renewed every `rerankMs`.
   * 'dump': a full dump per view (the fallback: no event socket needed).
   */
  source?: 'table' | 'dump';
  /**
   * With the table: when it mirrors less than this fraction of the kernel's count (its
   * event socket overran), evict by streaming a dump instead (default 0.5).
   */
  streamBelow?: number;
  /**
   * With the table: at this many NEW events/s or more (an insert flood), evict rows of the
   * heavy prefixes straight from the store, oldest first, instead of ranking the whole
   * table (seconds at 250,000 rows under load). Default 20,000.
   */
  floodRate?: number;
  /** Entries deleted at most per round of the loop (default 16384). */
  batchMax?: number;
  /** A mirror already open on this client's namespace (not closed by the guard). */
  table?: ConntrackTable;
  /** With the table: renew the ranking this often while evicting (ms, default 2000). */
  rerankMs?: number;
  /**
   * With the table, no `protect`, and a kernel that flushes by tuple filter (6.12+): a single
   * source holding at least this fraction of nf_conntrack_max while the table is over the
   * watermark has its ASSURED entries flushed inside the kernel (about 1 M entries/s, what a
   * concentrated attacker inserting at 200k/s needs). Default 0.125; 0 disables.
   */
  flushShare?: number;
  /**
   * While the mirror is suspended (an insert flood): take victims from NEW events of the
   * heavy prefixes as well as from dumps (flood-evict.ts). Default true; false: dumps only.
   */
  floodEvents?: boolean;
  /**
   * With the table: new entries per second (NEW events seen, or growth of the kernel's
   * count) from which the mirror is suspended at once when the table is over the watermark
   * and the guard evicts in flood mode (default 100,000).
   */
  suspendRate?: number;
  /**
   * With `apply`: set the process's nice value (every thread) when the guard starts, e.g.
   * -10 (the CLI's default with --apply): see priority.ts. Default: leave it.
   */
  nice?: number;
}

export interface GuardSummary {
  seconds: number;
  /** CPU time of the guard's process over the run (user, system; seconds). */
  cpuUser?: number;
  cpuSystem?: number;
  episodes: number;
  evictions: number;
  /** Of the evictions: entries removed by kernel-side flushes of heavy sources (estimate). */
  flushed: number;
  /** Of the evictions: entries deleted while streaming a dump (mirror behind the kernel). */
  streamed: number;
  bySteps: Record<PolicyStep, number>;
  missing: number;
  refused: number;
  cycles: number;
  maxCount: number;
  timeoutsChanged: number;
  restored: boolean;
}

interface StateFile {
  netns: string | null;
  pid: number;
  changedAt: string;
  original: ConntrackSysctls;
}

export function defaultStateFile(netns?: string): string {
  const tag = netns === undefined ? 'host' : netns.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `/run/ctevents-guard-${tag}.json`;
}

/** Write back what a state file says was changed, then remove it. Returns what it restored. */
export function restoreFromStateFile(path: string, netns?: string): ConntrackSysctls | undefined {
  if (!existsSync(path)) return undefined;
  const s = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
  writeConntrackSysctls(s.original, netns ?? s.netns ?? undefined);
  rmSync(path, { force: true });
  return s.original;
}

function sumCpu(cpus: CpuStats[]): { drop: number; earlyDrop: number; insertFailed: number } {
  let drop = 0;
  let earlyDrop = 0;
  let insertFailed = 0;
  for (const c of cpus) {
    drop += c.drop ?? 0;
    earlyDrop += c.earlyDrop ?? 0;
    insertFailed += c.insertFailed ?? 0;
  }
  return { drop, earlyDrop, insertFailed };
}

export class Guard {
  private readonly client: ConntrackClient;
  private readonly o: Required<Pick<GuardOptions, 'apply' | 'high' | 'low' | 'intervalMs' | 'shortenTimeouts' | 'calmSeconds' | 'stateFile'>> & GuardOptions;
  private changed: ConntrackSysctls | undefined;
  private readonly summary: GuardSummary = {
    seconds: 0, episodes: 0, evictions: 0, flushed: 0, streamed: 0, bySteps: { closing: 0, unassured: 0, assured: 0, fresh: 0 }, missing: 0, refused: 0,
    cycles: 0, maxCount: 0, timeoutsChanged: 0, restored: false,
  };

  constructor(client: ConntrackClient, opts: GuardOptions = {}) {
    this.client = client;
    const high = opts.high ?? 0.9;
    const low = opts.low ?? 0.75;
    if (!(high > 0 && high <= 1) || !(low > 0 && low < high)) throw new RangeError(`guard: need 0 < low < high <= 1 (low ${low}, high ${high})`);
    this.o = {
      ...opts,
      apply: opts.apply ?? false,
      high,
      low,
      intervalMs: opts.intervalMs ?? 200,
      shortenTimeouts: opts.shortenTimeouts ?? true,
      calmSeconds: opts.calmSeconds ?? 60,
      stateFile: opts.stateFile ?? defaultStateFile(client.netns),
    };
  }

  private log(r: GuardRecord): void {
    this.o.log?.({ time: new Date().toISOString(), ...r });
  }

  /** Restore every sysctl this guard changed (also the ones of a crashed predecessor). */
  restore(): void {
    if (!this.o.apply) return;
    try {
      const restored = restoreFromStateFile(this.o.stateFile, this.client.netns);
      if (restored) {
        this.log({ action: 'timeouts-restored', why: 'end of pressure or exit', values: restored });
        this.summary.restored = true;
      }
      this.changed = undefined;
    } catch (e) {
      this.log({ action: 'error', what: 'restoring timeouts', error: (e as Error).message, stateFile: this.o.stateFile });
      throw e;
    }
  }

  private shorten(): void {
    if (!this.o.shortenTimeouts || this.changed) return;
    const current = readConntrackSysctls(this.client.netns);
    const want = this.o.shortTimeouts ?? SHORT_TIMEOUTS;
    const original: ConntrackSysctls = {};
    const next: ConntrackSysctls = {};
    for (const [k, v] of Object.entries(want)) {
      const cur = current[k];
      if (cur !== undefined && v < cur) {
        original[k] = cur;
        next[k] = v;
      }
    }
    if (Object.keys(next).length === 0) return;
    if (!this.o.apply) {
      this.log({ action: 'timeouts-shorten', dryRun: true, why: 'pressure', values: next, original });
      this.changed = original;
      return;
    }
    // The state file first: a crash between the two leaves the originals on disk.
    const state: StateFile = { netns: this.client.netns ?? null, pid: process.pid, changedAt: new Date().toISOString(), original };
    const tmp = `${this.o.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state) + '\n');
    renameSync(tmp, this.o.stateFile);
    try {
      writeConntrackSysctls(next, this.client.netns);
    } catch (e) {
      this.log({ action: 'error', what: 'shortening timeouts', error: (e as Error).message });
      this.restore();
      return;
    }
    this.changed = original;
    cache = undefined; // idle times from now on use the new values (and `changed` for older entries)
    this.summary.timeoutsChanged = Object.keys(next).length;
    this.log({ action: 'timeouts-shorten', why: 'pressure', values: next, original, stateFile: this.o.stateFile });
  }

  // The ranked victims of the last view, consumed a little at a time (see run()).
  private ranked: Victim[] = [];
  private pos = 0;
  private rankedAt = 0;
  private refreshing: Promise<void> | undefined;
  private refreshError: Error | undefined;
  private window: { at: number; deleted: number; missing: number; refused: number; batches: number; bySteps: Record<string, number>; error: string | undefined; streamed?: number; fromEvents?: number; fromDump?: number; prefixes?: string[] } =
    { at: 0, deleted: 0, missing: 0, refused: 0, batches: 0, bySteps: {}, error: undefined };

  /**
   * Take a view and rank victims for the next cycles (rankForCycles): what the view says
   * must go to reach the low watermark, in policy order, then, for the cycles until the next
   * view, only entries of heavy prefixes (a /16 holding 10 % of the table or more, and half as
   * many entries as the largest /16 or more). The list
   * is consumed while the table changes: a plain deep ranking ends with the entries of the
   * smallest (legitimate) groups once the attacker's ranked entries are gone and its new
   * ones are not in the view yet (measured: 0 of 500 long-lived connections survived).
   */
  private refresh(low: number, signal: AbortSignal): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      const t0 = process.hrtime.bigint();
      const sysctls = readConntrackSysctlsCached(this.client.netns);
      const view = this.o.view
        ? await this.o.view(sysctls, signal)
        : this.mirror
          ? TableView.take(this.mirror, { ...(this.o.protect ? { protect: this.o.protect } : {}), sysctls, ...(this.changed ? { previous: this.changed } : {}), skipIds: this.deletedIds })
          : await SnapshotView.take(this.client, sysctls, this.o.protect, signal, this.changed);
      const t1 = process.hrtime.bigint();
      const list = [...view.entries()];
      // The mirror's idle times are upper bounds (no event for a packet that only re-arms a
      // timer): rank fairness first there (fair-first.ts); a dump's are exact.
      const victims = rankForCycles(list, list.length - low, this.o.policy, this.mirror && !this.o.view ? chooseVictimsFairFirst : undefined);
      this.ranked = victims;
      this.pos = 0;
      this.rankedAt = Date.now();
      const bySteps: Record<string, number> = {};
      for (const v of victims) bySteps[v.step] = (bySteps[v.step] ?? 0) + 1;
      this.log({
        action: 'rank', why: 'table over the watermark: a fresh view', source: this.o.view ? 'custom' : this.mirror ? 'table' : 'dump', entries: view.count(), ranked: victims.length, bySteps,
        viewSeconds: Number(t1 - t0) / 1e9, rankSeconds: Number(process.hrtime.bigint() - t1) / 1e9,
      });
    })()
      .catch((e: Error) => {
        this.refreshError = e;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private flushWindow(force: boolean, extra: Record<string, unknown> = {}): void {
    const w = this.window;
    if (w.batches === 0 || (!force && Date.now() - w.at < 1000)) return;
    this.log({
      action: 'evict', why: 'table over the watermark', deleted: w.deleted, missing: w.missing, refused: w.refused, bySteps: w.bySteps,
      deletes: w.batches, ...(w.error ? { error: w.error } : {}), ...(w.streamed !== undefined ? { streamed: w.streamed, fromEvents: w.fromEvents, fromDump: w.fromDump, prefixes: w.prefixes } : {}), ...extra,
    });
    this.window = { at: Date.now(), deleted: 0, missing: 0, refused: 0, batches: 0, bySteps: {}, error: undefined };
  }

  /** Run until `signal` aborts; restores what it changed before returning. */
  async run(signal: AbortSignal): Promise<GuardSummary> {
    const started = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    if (this.o.apply && existsSync(this.o.stateFile)) {
      const restored = restoreFromStateFile(this.o.stateFile, this.client.netns);
      this.log({ action: 'timeouts-restored', why: 'state file left by an earlier guard', values: restored, stateFile: this.o.stateFile });
    }
    // timers/promises removes its abort listener when the timer fires: a listener added per
    // interval and kept until the end would pile up over days (and did, here).
    const sleep = (ms: number) => delay(ms, undefined, { signal }).catch(() => undefined);
    if (!this.o.view && (this.o.source ?? 'table') === 'table') {
      if (this.o.table) this.mirror = this.o.table;
      else {
        const t0 = performance.now();
        // No resync by itself: under an attack every resync (a full dump) is spoilt by the next
        // overrun; the guard resyncs it when the pressure is off (see below).
        try {
          this.mirror = await ConntrackTable.open(this.client, { autoResync: false, ...(this.client.netns !== undefined ? { netns: this.client.netns } : {}) });
          this.ownMirror = true;
          this.mirror.on('error', (e) => this.log({ action: 'error', what: 'table mirror', error: e.message }));
          this.log({ action: 'table-open', entries: this.mirror.size, seconds: (performance.now() - t0) / 1000 });
        } catch (e) {
          // No event socket (or no dump): the dump-based view still works.
          this.log({ action: 'error', what: 'opening the table mirror; using dump snapshots', error: (e as Error).message });
        }
      }
    }
    let last = sumCpu(await this.client.statsPerCpu());
    let lastCpuAt = 0;
    let delta = { drop: 0, earlyDrop: 0, insertFailed: 0 };
    let pressure = false;
    let coping = false;
    let calmSince = 0;
    let priority: PriorityResult | undefined;
    if (this.o.apply && this.o.nice !== undefined) {
      priority = setProcessNice(this.o.nice);
      if (priority.error) this.log({ action: 'error', what: `setting the nice value to ${this.o.nice}`, error: priority.error });
    }
    this.log({ action: 'start', apply: this.o.apply, high: this.o.high, low: this.o.low, netns: this.client.netns ?? null, ...(priority && !priority.error ? { nice: priority.nice, niceBefore: priority.before } : {}) });
    try {
      while (!signal.aborted) {
        if (this.refreshError) throw this.refreshError;
        const st = await this.client.stats();
        const count = st.entries ?? 0;
        const max = this.o.maxEntries ?? st.maxEntries ?? 0;
        if (Date.now() - lastCpuAt >= 1000 || !pressure) {
          const cpu = sumCpu(await this.client.statsPerCpu());
          delta = { drop: cpu.drop - last.drop, earlyDrop: cpu.earlyDrop - last.earlyDrop, insertFailed: cpu.insertFailed - last.insertFailed };
          last = cpu;
          lastCpuAt = Date.now();
        }
        this.summary.maxCount = Math.max(this.summary.maxCount, count);
        if (this.mirror) this.insertRate(this.mirror); // sampled all along, so it is known when pressure starts
        this.trackFill(count);
        const high = Math.floor(max * this.o.high);
        const low = Math.floor(max * this.o.low);
        // The kernel copes alone with what early_drop can evict (non-assured entries):
        // early_drop rising while nothing is dropped means exactly that, so stand back.
        const kernelCoping = delta.earlyDrop > 0 && delta.drop === 0;
        const over = max > 0 && !kernelCoping && (count >= high || (delta.drop > 0 && count >= low) || (pressure && this.o.apply && count > low));
        if (kernelCoping && count >= high && !coping) this.log({ action: 'stand-by', why: 'early_drop is evicting non-assured entries and nothing is dropped: the kernel copes', count, max, ...delta });
        coping = kernelCoping && count >= high;
        if (over) {
          if (!pressure) {
            pressure = true;
            this.summary.episodes++;
            this.log({ action: 'pressure-start', count, max, high, low, ...delta });
          }
          calmSince = 0;
          this.shorten();
          this.summary.cycles++;
          if (!this.o.apply) {
            // Dry run: rank and report what would go, at the normal pace.
            await this.refresh(low, signal);
            this.log({ action: 'evict', dryRun: true, why: `count ${count} over the watermark`, need: count - low, chosen: Math.min(count - low, this.ranked.length) });
            await sleep(this.o.intervalMs);
            continue;
          }
          // At most `batchMax` per round, so that the loop looks at the count, the heavy
          // sources and the mirror again between rounds (one delete of 240,000 keys took 14 s).
          const need = Math.min(count - low, this.o.batchMax ?? 16_384);
          const heavy = this.flushCandidates(max);
          if (heavy.length > 0) {
            // A concentrated attacker: kernel-side flushes only (deleting one by one next to
            // them only delays the next flush).
            const wait = 250 - (performance.now() - this.lastFlushAt);
            if (wait > 0) {
              await sleep(wait);
              continue;
            }
            this.lastFlushAt = performance.now();
            if ((await this.flushSources(heavy, this.o.flushShare ?? 0.125)) > 0) continue;
          }
          const fast = this.mirror ? Math.max(this.insertRate(this.mirror), this.fill.perSecond) : 0;
          if (this.mirror && fast >= (this.o.suspendRate ?? 100_000)) {
            // An insert flood the mirror cannot follow on a few cores (100k+ new entries/s):
            // flood mode at once, before the mirror's overruns say so (measured: about 2 s of
            // a full table at the start of attack b went by while the mirror tried).
            this.suspendMirror(count, max, `${Math.round(fast)} new entries/s: an insert flood the mirror cannot follow`);
          } else if (this.mirror && this.mirror.size - this.deletedIds.size < count * (this.o.streamBelow ?? 0.5)) {
            // The mirror holds less than half of the kernel's table (its socket overran; rows
            // the guard deleted but whose DESTROY it lost do not count): it cannot follow this
            // attack, and following it costs the CPU the eviction needs. Suspend it until the
            // pressure ends; meanwhile evict from dumps (stream-evict.ts).
            this.suspendMirror(count, max);
          }
          if (this.mirrorSuspended) {
            await this.streamNow(need, signal, count, max);
            continue;
          }
          if (this.mirror && this.insertRate(this.mirror) >= (this.o.floodRate ?? 20_000) && (await this.fastEvict(need))) {
            this.flushWindow(false, { count, need, mode: 'flood' });
            await sleep(Math.min(this.o.intervalMs, 20));
            continue;
          }
          const left = this.ranked.length - this.pos;
          const stale = Date.now() - this.rankedAt > (this.mirror ? (this.o.rerankMs ?? 2000) : 5000);
          if (left < need * 4 || stale) {
            const r = this.refresh(low, signal);
            if (left === 0 || stale) await r; // nothing (trustworthy) to evict until the view is in
          }
          const take = Math.min(need, this.ranked.length - this.pos);
          if (take > 0) {
            const batch = this.ranked.slice(this.pos, this.pos + take);
            this.pos += take;
            await this.evictNow(batch);
          }
          this.flushWindow(false, { count, need });
          await sleep(Math.min(this.o.intervalMs, 20));
          continue;
        }
        const m = this.mirror;
        // Not during a pressure episode: a resync under an ongoing attack is a full dump that
        // the next overrun spoils, and it drops the per-source counts the flushes go by.
        if (m && this.ownMirror && !m.inSync && !pressure && !this.mirrorResyncing && Date.now() - this.mirrorResyncAt > 1000) {
          this.mirrorResyncing = true;
          this.mirrorResyncAt = Date.now();
          m.resync('overrun')
            .then((r) => this.log({ action: 'table-resync', added: r.added, removed: r.removed, updated: r.updated, entries: r.entries, seconds: r.durationMs / 1000 }))
            .catch((e: Error) => this.log({ action: 'error', what: 'table resync', error: e.message }))
            .finally(() => (this.mirrorResyncing = false));
        }
        if (pressure && count < low) {
          this.flushWindow(true);
          calmSince ||= Date.now();
          if (Date.now() - calmSince >= this.o.calmSeconds * 1000) {
            pressure = false;
            this.deletedIds.clear();
            this.ranked = [];
            this.pos = 0;
            const mem = process.memoryUsage();
            this.log({ action: 'pressure-end', count, max, calmSeconds: this.o.calmSeconds, rssMiB: Math.round(mem.rss / 1048576), heapUsedMiB: Math.round(mem.heapUsed / 1048576) });
            if (this.mirrorSuspended) await this.resumeMirror();
            if (this.o.apply) this.restore();
            else this.changed = undefined;
          }
        } else if (count >= low) calmSince = 0;
        this.flushWindow(false);
        await sleep(this.o.intervalMs);
      }
    } finally {
      this.flushWindow(true);
      this.flood?.close();
      this.flood = undefined;
      if (this.refreshing) await this.refreshing;
      this.ranked = [];
      this.deletedIds.clear();
      if (this.ownMirror) this.mirror?.close();
      this.mirror = undefined;
      this.ownMirror = false;
      this.restore();
      this.summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      this.summary.cpuUser = cpu.user / 1e6;
      this.summary.cpuSystem = cpu.system / 1e6;
      this.log({ action: 'summary', ...this.summary });
    }
    return this.summary;
  }

  private mirror: ConntrackTable | undefined;
  private ownMirror = false;
  private flushUnsupported = false;
  /** Ids the guard deleted in this pressure episode (see TableViewOptions.skipIds). */
  private readonly deletedIds = new Set<number>();
  private lastFlushAt = -Infinity;

  /**
   * Sources whose ASSURED entries are to be flushed inside the kernel: those holding
   * flushShare x max or more inside a heavy /16, by the mirror's per-source aggregate (no
   * scan), or as the mirror showed them when it was suspended. None with --protect (the
   * kernel cannot apply it), on kernels before 6.12, or after a refused flush.
   */
  private flushCandidates(max: number): { src: string; count: number }[] {
    const share = this.o.flushShare ?? 0.125;
    if (share <= 0 || this.o.protect || this.flushUnsupported) return [];
    if (this.mirrorSuspended) return this.frozen?.sources ?? [];
    return this.mirror ? this.heavySourcesOfMirror(this.mirror, share, max) : [];
  }

  /**
   * Sources holding share x max or more (or share of the mirror, when it holds less than
   * max: it lost events), inside a heavy /16 (never a lone big legitimate source).
   */
  private heavySourcesOfMirror(m: ConntrackTable, share: number, max: number): { src: string; count: number }[] {
    const prefixes = heavyPrefixes(m);
    return heavySources(m, Math.max(1, Math.floor(share * Math.min(max, m.size)))).filter((h) => prefixes.has(wideKeyOf(h.src)));
  }

  /** Kernel-side flush of the ASSURED entries of each source; returns how many went. */
  private async flushSources(heavy: { src: string; count: number }[], share: number): Promise<number> {
    let total = 0;
    for (const h of heavy) {
      const family = h.src.includes(':') ? 10 : 2;
      try {
        const r = await this.client.deleteWhere({ kernel: { family, orig: { src: h.src }, status: IPS_ASSURED, statusMask: IPS_ASSURED } }, { method: 'flush' });
        this.summary.evictions += r.deleted;
        this.summary.flushed += r.deleted;
        total += r.deleted;
        this.summary.bySteps.assured += r.deleted;
        this.log({ action: 'flush-source', why: `source holds ${h.count} entries, at least ${share} of the maximum`, src: h.src, entries: h.count, deleted: r.deleted, seconds: r.seconds, step: 'assured' });
      } catch (e) {
        this.flushUnsupported = true;
        this.log({ action: 'error', what: 'kernel-side flush of a heavy source (not tried again)', src: h.src, error: (e as Error).message });
        return total;
      }
    }
    return total;
  }

  private mirrorResyncing = false;
  private mirrorResyncAt = 0;

  /** One streaming pass (stream-evict.ts), counted like evictNow. */
  private mirrorSuspended = false;
  /** The flood evictor while the mirror is suspended (flood-evict.ts). */
  private flood: FloodEvictor | undefined;
  private rate = { at: 0, news: 0, perSecond: 0 };

  /** Growth of the kernel's count per second (windows of 250 ms or more; the last positive one, for 2 s). */
  private fill = { at: 0, count: 0, perSecond: 0, seenAt: 0 };

  private trackFill(count: number): void {
    const now = performance.now();
    const f = this.fill;
    if (f.at === 0) {
      f.at = now;
      f.count = count;
      return;
    }
    if (now - f.at < 250) return;
    const rate = ((count - f.count) * 1000) / (now - f.at);
    if (rate > 0 || now - f.seenAt > 2000) {
      f.perSecond = Math.max(0, rate);
      f.seenAt = now;
    }
    f.at = now;
    f.count = count;
  }

  /** NEW events per second seen by the mirror (over the last second or more). */
  private insertRate(m: ConntrackTable): number {
    const now = performance.now();
    if (now - this.rate.at >= 1000) {
      const news = m.counters.new;
      if (this.rate.at > 0) this.rate.perSecond = ((news - this.rate.news) * 1000) / (now - this.rate.at);
      this.rate.at = now;
      this.rate.news = news;
    }
    return this.rate.perSecond;
  }

  /**
   * Flood path (an insert flood of floodRate NEW/s or more, when ranking the whole mirror
   * takes seconds): `need` rows of the heavy /16 prefixes (the table's per-source
   * aggregate), in row order (roughly oldest first), straight from the store; keys materialised only for them.
   */
  private async fastEvict(need: number): Promise<boolean> {
    const m = this.mirror!;
    const prefixes = heavyPrefixes(m);
    if (prefixes.size === 0) return false;
    const st = m.store;
    const grace = this.o.policy?.graceSeconds ?? 5;
    const skip = this.deletedIds;
    const o = { ...(this.o.protect ? { protect: this.o.protect } : {}), ...(this.changed ? { previous: this.changed } : {}) };
    const victims: Victim[] = [];
    for (let r = 0; r < st.top && victims.length < need; r++) {
      if (!st.used(r) || skip.has(st.id[r]!)) continue;
      const k = st.family(r) === 2 ? st.addrArray(r)[st.addrOffset(r)]! >>> 16 : undefined;
      if (k !== undefined && !prefixes.has(k)) continue;
      const e = guardEntryOfRow(m, r, o);
      if (e.protected || (k === undefined && !prefixes.has(wideKeyOf(e.src)))) continue;
      victims.push({ entry: e, step: stepOf(e, grace) });
    }
    if (victims.length === 0) return false;
    await this.evictNow(victims);
    return true;
  }

  /** What the mirror said when it was suspended: heavy prefixes and sources, kept for the episode. */
  private frozen: { prefixes: Set<string | number>; sources: { src: string; count: number }[] } | undefined;

  private suspendMirror(count: number, max: number, why = 'the mirror holds less than half of the table (events lost)'): void {
    if (!this.mirror) return;
    const share = this.o.flushShare ?? 0.125;
    // Decided now, from the whole mirror: samples of later dumps are biased (the stream
    // deletes from the dump's first buckets, leaving what it skipped there).
    const prefixes = heavyPrefixes(this.mirror);
    this.frozen = { prefixes, sources: share > 0 ? this.heavySourcesOfMirror(this.mirror, share, max) : [] };
    this.log({
      action: 'table-suspend', why: `${why}: flood mode (events and dumps) until the pressure ends`, mirrored: this.mirror.size, count,
      heavyPrefixes: [...prefixes].map(String), heavySources: this.frozen.sources.map((h) => h.src),
    });
    if (this.ownMirror) this.mirror.close();
    this.mirror = undefined;
    this.mirrorSuspended = true;
    this.ranked = [];
    this.pos = 0;
    this.deletedIds.clear();
  }

  private async resumeMirror(): Promise<void> {
    this.mirrorSuspended = false;
    this.flood?.close();
    this.flood = undefined;
    this.frozen = undefined;
    if (!this.ownMirror) {
      this.mirror = this.o.table;
      return;
    }
    const t0 = performance.now();
    try {
      this.mirror = await ConntrackTable.open(this.client, { autoResync: false, ...(this.client.netns !== undefined ? { netns: this.client.netns } : {}) });
      this.mirror.on('error', (e) => this.log({ action: 'error', what: 'table mirror', error: e.message }));
      this.log({ action: 'table-open', entries: this.mirror.size, seconds: (performance.now() - t0) / 1000 });
    } catch (e) {
      this.mirrorSuspended = true; // try again at the next pressure end; dumps meanwhile
      this.log({ action: 'error', what: 'reopening the table mirror', error: (e as Error).message });
    }
  }

  /**
   * One round without the mirror: sample the table (the first 4096 entries of a dump), flush
   * inside the kernel each source the sample says holds flushShare x max or more, else
   * delete from a streaming dump, heavy prefixes only, exactly `need` at most.
   */
  private async streamNow(need: number, signal: AbortSignal, count: number, max: number): Promise<void> {
    let prefixes = this.frozen?.prefixes;
    if (!prefixes || prefixes.size === 0) {
      // The mirror had nothing to say: decide on a sample of the table (first round only).
      try {
        prefixes = heavyOf((await sampleTable(this.client, 4096, signal)).prefixes);
      } catch (e) {
        if (signal.aborted) return;
        throw e;
      }
      this.frozen = { prefixes, sources: [] };
    }
    if (!this.flood) {
      this.flood = new FloodEvictor(this.client, {
        prefixes, ...(this.o.protect ? { protect: this.o.protect } : {}), events: this.o.floodEvents ?? true,
      }).open();
      this.log({ action: 'flood-mode', why: 'evicting the heavy prefixes\' newest entries from NEW events, the rest from dumps', prefixes: [...prefixes].map(String), events: this.o.floodEvents ?? true });
    }
    let r;
    try {
      r = await this.flood.evict(need, { signal });
    } catch (e) {
      if (signal.aborted) return; // stopping: the deletes sent are done, the rest is not needed
      throw e;
    }
    const chosen = r.fromEvents + r.fromDump;
    this.account(r, chosen, 'assured');
    const w = this.window;
    w.streamed = (w.streamed ?? 0) + r.deleted;
    w.fromEvents = (w.fromEvents ?? 0) + r.fromEvents;
    w.fromDump = (w.fromDump ?? 0) + r.fromDump;
    w.prefixes = [...prefixes].map(String);
    this.summary.streamed += r.deleted;
    const fs = this.flood.stats;
    this.flushWindow(false, { count, need, mode: 'stream', events: fs.events, overruns: fs.overruns, ...(fs.subscriptionError ? { eventsError: fs.subscriptionError } : {}) });
    if (chosen === 0) await new Promise((res) => setTimeout(res, Math.min(this.o.intervalMs, 20)));
  }

  private account(r: DeleteCounts, n: number, step: PolicyStep, stepOnly = false): void {
    const w = this.window;
    w.bySteps[step] = (w.bySteps[step] ?? 0) + n;
    this.summary.bySteps[step] += n;
    if (stepOnly) return;
    if (w.batches === 0) w.at = Date.now();
    w.batches++;
    w.deleted += r.deleted;
    w.missing += r.missing;
    w.refused += r.failed;
    if (r.firstError && !w.error) w.error = r.firstError.message;
    this.summary.evictions += r.deleted;
    this.summary.missing += r.missing;
    this.summary.refused += r.failed;
    if (r.failed > 0 && r.deleted === 0) {
      this.flushWindow(true);
      throw r.firstError ?? new Error('guard: every delete was refused');
    }
  }

  private async evictNow(victims: Victim[]): Promise<void> {
    if (this.mirror) {
      // Bounded: the mirror catches up by events or its next resync long before this.
      if (this.deletedIds.size > 1_000_000) this.deletedIds.clear();
      for (const v of victims) if (v.entry.key.id !== undefined) this.deletedIds.add(v.entry.key.id);
    }
    const r = await this.client.deleteMany(victims.map((v) => v.entry.key));
    const by: Partial<Record<PolicyStep, number>> = {};
    for (const v of victims) by[v.step] = (by[v.step] ?? 0) + 1;
    const steps = Object.entries(by) as [PolicyStep, number][];
    // Counts go with the first step; the others only add their victims.
    steps.forEach(([step, n], i) => this.account(i === 0 ? r : NO_COUNTS, n, step, i > 0));
  }
}

const NO_COUNTS: DeleteCounts = { requested: 0, deleted: 0, missing: 0, failed: 0, errors: {}, repliesLost: false, seconds: 0 };

let cache: { netns: string | undefined; at: number; v: ConntrackSysctls } | undefined;
function readConntrackSysctlsCached(netns: string | undefined): ConntrackSysctls {
  if (cache && cache.netns === netns && Date.now() - cache.at < 5000) return cache.v;
  cache = { netns, at: Date.now(), v: readConntrackSysctls(netns) };
  return cache.v;
}
