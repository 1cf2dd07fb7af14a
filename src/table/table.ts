/**
 * ConntrackTable: the conntrack table in memory, kept true.
 *
 *   const table = await ConntrackTable.open(client, { netns: 'blue' });
 *   table.size; table.get({ orig: { src, dst, proto: 17, srcPort, dstPort } });
 *   for (const e of table) ...;  table.top('source', 10);  table.on('change', (type, row) => ...)
 *   table.on('resync', (r) => console.log(`repaired: +${r.added} -${r.removed} ~${r.updated}`));
 *
 * Start-up: subscribe to NEW/UPDATE/DESTROY first, then dump; events are applied as they
 * arrive, also while the dump runs. Merging the two (the dump and the events travel on
 * different sockets, so either may be processed first):
 * - every row touched during a sync gets the sync's generation; a dump entry for a row an
 *   event already touched in this sync is older than that event and is skipped;
 * - ids destroyed by events during the sync are remembered, so a dump entry read before
 *   its DESTROY but processed after it does not come back;
 * - when the dump ends, rows without the current generation are gone from the kernel
 *   (their DESTROY was lost): they are removed.
 * After an overrun (or an undecodable datagram) the same dump-and-diff runs by itself
 * (a resync); what it repaired is counted and reported with a 'resync' notification.
 * Entries that existed before anyone listened may never send events (nf_conntrack_events
 * = 2, the default, gives an entry an event cache only if a listener existed when it was
 * created): while such entries remain, the table resyncs periodically (counters.unwatched).
 *
 * Storage is columnar (store.ts), aggregates are maintained on every change
 * (aggregates.ts); lifetime and idle histograms are computed on demand by a scan.
 */
import { CompactEntry, EV_DESTROY, EV_NEW, HAS_MARK, HAS_ORIG, HAS_STATUS, HAS_TCP_STATE, HAS_TIMEOUT } from '../ctnetlink/compact.js';
import { parseIpv4, parseIpv6 } from '../ctnetlink/address.js';
import type { Tuple } from '../ctnetlink/model.js';
import { TCP_STATE_NAMES } from '../ctnetlink/constants.js';
import type { ConntrackClient } from '../client/client.js';
import type { Transport } from '../client/transport.js';
import { Aggregates, type AggregateOptions, type GroupKey, type Grouping, type TopItem, hasPorts } from './aggregates.js';
import { rawDump, rawEvents } from './raw.js';
import { NO_STATE, ROW_WATCHED, RowStore } from './store.js';
import { configuredTimeout, readEventsMode, readTimeouts, type TimeoutTable } from './timeouts.js';
import { formatIpv4, formatIpv6 } from '../ctnetlink/address.js';

export interface TableOptions extends AggregateOptions {
  /** Namespace whose timeout sysctls give idle times (the client's namespace; default: ours). */
  netns?: string;
  /** Configured timeouts (default: read from the namespace's sysctls at open). */
  timeouts?: TimeoutTable;
  /** Receive buffer of the event socket (default: the client's). */
  receiveBufferSize?: number;
  /**
   * Bytes the addon's receive thread may hold for the event socket while JavaScript is busy
   * (default: the client's, 256 MiB; 0: no thread, the event loop reads the socket).
   */
  receiveThreadBuffer?: number;
  /** Resync by itself after an overrun (default true). */
  autoResync?: boolean;
  /** Rows allocated at start (default 4096; doubles as needed). */
  initialCapacity?: number;
  /**
   * While entries from before our subscription remain (see `unwatched`), resync at most
   * this often (ms; default 10000, and never more than 10 % of the time); 0: never.
   */
  unwatchedResyncMs?: number;
}

/** A mirrored entry, materialised on request. */
export interface TableEntry {
  family: number;
  proto: number;
  src: string;
  dst: string;
  /** Ports (TCP, UDP, UDP-Lite, SCTP, DCCP) */
  srcPort?: number;
  dstPort?: number;
  /** ICMP / ICMPv6 */
  icmpId?: number;
  icmpType?: number;
  icmpCode?: number;
  zone: number;
  status: number;
  /** Remaining seconds now (timeout when last seen minus the time since). */
  timeout: number;
  mark: number;
  id: number;
  /** TCP state number and name (TCP only). */
  tcpState?: number;
  tcpStateName?: string;
}

export interface TableCounters {
  /** Events received, by type. */
  new: number;
  update: number;
  destroy: number;
  /** Messages the kernel dropped for our event socket (as far as it can tell). */
  lost: number;
  overruns: number;
  decodeErrors: number;
  /** Resyncs completed (the initial dump is not counted). */
  resyncs: number;
  /** What resyncs repaired, summed. */
  repairedAdded: number;
  repairedRemoved: number;
  repairedUpdated: number;
  /** DESTROY events of entries with more than 1 s of their timeout left (evictions, deletes, flushes). */
  destroyedUnexpired: number;
  /**
   * Entries known only from the initial dump, never from an event. With
   * nf_conntrack_events=2 (the default: events only while a listener exists) entries
   * created before anyone listened have no event cache and never send DESTROY, so the
   * mirror resyncs periodically while such entries remain (unwatchedResyncMs).
   */
  unwatched: number;
}

export interface ResyncReport {
  reason: 'initial' | 'overrun' | 'decode-error' | 'unwatched' | 'manual';
  /** Entries the dump had that the mirror did not (NEW events lost). */
  added: number;
  /** Entries the mirror had that the dump did not (DESTROY events lost). */
  removed: number;
  /** Entries whose state, status, mark or timeout class differed. */
  updated: number;
  entries: number;
  durationMs: number;
}

export type ChangeType = 'add' | 'update' | 'remove';

interface Listeners {
  change: ((type: ChangeType, row: number) => void)[];
  resync: ((r: ResyncReport) => void)[];
  overrun: ((lost: number | undefined) => void)[];
  error: ((err: Error) => void)[];
}

/** Upper bounds (s) of the default lifetime and idle histogram buckets; the last is open. */
export const DEFAULT_HISTOGRAM_BOUNDS: readonly number[] = [1, 10, 30, 60, 120, 300, 600, 3600, 86400, Infinity];

export interface Histogram {
  /** Bucket i counts values <= bounds[i] and > bounds[i - 1]. */
  bounds: number[];
  counts: number[];
}

const t0 = performance.now();
/** Deciseconds since module load (the `seen` column's clock). */
function nowDs(): number {
  return Math.floor((performance.now() - t0) / 100);
}

export class ConntrackTable implements Iterable<TableEntry> {
  readonly store: RowStore;
  readonly aggregates: Aggregates;
  readonly timeouts: TimeoutTable;
  private readonly client: ConntrackClient;
  private readonly opts: TableOptions;
  private events: Transport | undefined;
  private gen = 1;
  private syncing = false;
  private destroyedIds: Set<number> | undefined;
  private pendingResync: ResyncReport['reason'] | undefined;
  private resyncPromise: Promise<ResyncReport> | undefined;
  private closed = false;
  private outOfSync = true;
  private readonly listeners: Listeners = { change: [], resync: [], overrun: [], error: [] };
  private readonly c: TableCounters = {
    new: 0, update: 0, destroy: 0, lost: 0, overruns: 0, decodeErrors: 0, resyncs: 0,
    repairedAdded: 0, repairedRemoved: 0, repairedUpdated: 0, destroyedUnexpired: 0, unwatched: 0,
  };
  private watchTimer: NodeJS.Timeout | undefined;
  /** nf_conntrack_events=1 in the namespace: every entry has an event cache. */
  private readonly eventsForAll: boolean;
  private lastSyncEnd = 0;
  private lastSyncMs = 0;
  private readonly keyScratch = new CompactEntry();

  private constructor(client: ConntrackClient, opts: TableOptions) {
    this.client = client;
    this.opts = opts;
    this.store = new RowStore(opts.initialCapacity ?? 4096);
    this.aggregates = new Aggregates(opts);
    this.timeouts = opts.timeouts ?? readTimeouts(opts.netns);
    this.eventsForAll = readEventsMode(opts.netns) === 1;
  }

  /** Subscribe, dump, and return a table in sync (rejects if the dump fails). */
  static async open(client: ConntrackClient, opts: TableOptions = {}): Promise<ConntrackTable> {
    const t = new ConntrackTable(client, opts);
    t.events = rawEvents(
      client,
      {
        event: (e) => t.apply(e),
        overrun: (lost) => t.onOverrun(lost),
        decodeError: (err) => {
          t.c.decodeErrors++;
          t.emit('error', err);
          t.scheduleResync('decode-error');
        },
        error: (err) => {
          t.outOfSync = true;
          t.emit('error', err);
        },
      },
      opts.receiveBufferSize,
      opts.receiveThreadBuffer,
    );
    try {
      await t.sync('initial');
    } catch (e) {
      t.close();
      throw e;
    }
    // Loss during the initial dump: repair it now (sync() itself does not loop).
    const again = t.pendingResync;
    t.pendingResync = undefined;
    if (again) t.scheduleResync(again);
    t.watchUnwatched();
    return t;
  }

  /** Entries mirrored. */
  get size(): number {
    return this.store.size;
  }

  /** False from an overrun (or socket error) until the resync that repairs it completes. */
  get inSync(): boolean {
    return !this.outOfSync;
  }

  /** A copy of the counters. */
  get counters(): TableCounters {
    return { ...this.c };
  }

  on(ev: 'change', fn: (type: ChangeType, row: number) => void): () => void;
  on(ev: 'resync', fn: (r: ResyncReport) => void): () => void;
  on(ev: 'overrun', fn: (lost: number | undefined) => void): () => void;
  on(ev: 'error', fn: (err: Error) => void): () => void;
  on(ev: keyof Listeners, fn: (...a: never[]) => void): () => void {
    const list = this.listeners[ev] as unknown[];
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private emit<K extends keyof Listeners>(ev: K, ...args: Parameters<Listeners[K][number]>): void {
    for (const fn of this.listeners[ev]) (fn as (...a: unknown[]) => void)(...args);
  }

  /** Resync now and then while entries without an event cache may remain (see TableCounters.unwatched). */
  private watchUnwatched(): void {
    const every = this.opts.unwatchedResyncMs ?? 10_000;
    if (every <= 0) return;
    this.watchTimer = setInterval(() => {
      if (this.c.unwatched === 0) {
        clearInterval(this.watchTimer);
        this.watchTimer = undefined;
        return;
      }
      const since = performance.now() - this.lastSyncEnd;
      if (!this.syncing && since >= Math.max(every, 9 * this.lastSyncMs)) this.scheduleResync('unwatched');
    }, Math.min(every, 1000));
    this.watchTimer.unref();
  }

  private onOverrun(lost: number | undefined): void {
    this.c.overruns++;
    if (lost) this.c.lost += lost;
    this.outOfSync = true;
    this.emit('overrun', lost);
    if (this.opts.autoResync !== false) this.scheduleResync('overrun');
  }

  private scheduleResync(reason: ResyncReport['reason']): void {
    if (this.closed) return;
    if (this.syncing) {
      this.pendingResync ??= reason;
      return;
    }
    this.resync(reason).catch((err: Error) => this.emit('error', err));
  }

  /** Dump and diff now; resolves with what was repaired. */
  resync(reason: ResyncReport['reason'] = 'manual'): Promise<ResyncReport> {
    if (this.resyncPromise) return this.resyncPromise;
    const p = this.sync(reason).finally(() => {
      this.resyncPromise = undefined;
      const again = this.pendingResync;
      this.pendingResync = undefined;
      if (again && !this.closed) this.scheduleResync(again);
    });
    this.resyncPromise = p;
    return p;
  }

  private async sync(reason: ResyncReport['reason']): Promise<ResyncReport> {
    const started = performance.now();
    this.syncing = true;
    this.outOfSync = false; // an overrun during the dump sets it again
    this.gen = (this.gen % 255) + 1;
    const gen = this.gen;
    this.destroyedIds = new Set();
    const report: ResyncReport = { reason, added: 0, removed: 0, updated: 0, entries: 0, durationMs: 0 };
    const s = this.store;
    try {
      const d = rawDump(this.client, (e) => {
        if (!(e.has & HAS_ORIG) || this.destroyedIds!.has(e.id)) return;
        let row = s.find(e);
        if (row < 0) {
          row = s.insert(e, gen);
          // Created while we listened (or nf_conntrack_events=1): it has an event cache.
          if (reason === 'initial' && !this.eventsForAll) this.c.unwatched++;
          else s.flags[row] = ROW_WATCHED;
          this.fill(row, e, true);
          this.aggregates.addRow(s, row, 1);
          report.added++;
          this.emitChange('add', row);
        } else if (s.gen(row) !== gen) {
          s.setGen(row, gen);
          if (this.differs(row, e)) report.updated++;
          this.updateRow(row, e);
        }
      });
      await d.done;
      // Sweep: rows the dump did not confirm and no event touched are gone.
      for (let r = 0; r < s.top; r++) {
        if (s.used(r) && s.gen(r) !== gen) {
          this.removeRow(r);
          report.removed++;
        }
      }
    } catch (e) {
      this.outOfSync = true;
      throw e;
    } finally {
      this.syncing = false;
      this.destroyedIds = undefined;
    }
    report.entries = s.size;
    report.durationMs = performance.now() - started;
    this.lastSyncEnd = performance.now();
    this.lastSyncMs = report.durationMs;
    if (reason !== 'initial') {
      this.c.resyncs++;
      this.c.repairedAdded += report.added;
      this.c.repairedRemoved += report.removed;
      this.c.repairedUpdated += report.updated;
    } else {
      report.added = 0; // the initial load is not a repair
    }
    this.emit('resync', report);
    return report;
  }

  private differs(row: number, e: CompactEntry): boolean {
    const s = this.store;
    return (
      ((e.has & HAS_STATUS) !== 0 && s.status[row] !== e.status) ||
      ((e.has & HAS_MARK) !== 0 && s.mark[row] !== e.mark) ||
      ((e.has & HAS_TCP_STATE) !== 0 && s.tcpState(row) !== e.tcpState)
    );
  }

  private fill(row: number, e: CompactEntry, fresh: boolean): void {
    const s = this.store;
    if (e.has & HAS_STATUS) s.status[row] = e.status;
    if (e.has & HAS_TIMEOUT) {
      s.timeout[row] = e.timeout;
      s.seen[row] = nowDs();
    }
    if (e.has & HAS_MARK) s.mark[row] = e.mark;
    else if (fresh) s.mark[row] = 0;
    if (e.has & HAS_TCP_STATE) s.meta[row * 4 + 2] = e.tcpState;
    if (e.id !== 0) s.id[row] = e.id;
  }

  private updateRow(row: number, e: CompactEntry): void {
    const s = this.store;
    const a = this.aggregates;
    const oldState = s.tcpState(row);
    const oldStatus = s.status[row]!;
    const oldMark = s.mark[row]!;
    this.fill(row, e, false);
    if (oldState !== s.tcpState(row) || oldStatus !== s.status[row] || oldMark !== s.mark[row]) {
      a.varying(oldState, oldStatus, oldMark, 0, -1);
      a.varying(s.tcpState(row), s.status[row]!, s.mark[row]!, 0, 1);
    }
    this.emitChange('update', row);
  }

  private removeRow(row: number): void {
    if ((this.store.flags[row]! & ROW_WATCHED) === 0) this.c.unwatched--;
    this.emitChange('remove', row);
    this.aggregates.addRow(this.store, row, -1);
    this.store.remove(row);
  }

  private emitChange(type: ChangeType, row: number): void {
    const l = this.listeners.change;
    if (l.length === 0) return;
    for (const fn of l) fn(type, row);
  }

  /** Apply one event (the lean decoder's record). */
  private apply(e: CompactEntry): void {
    if (!(e.has & HAS_ORIG)) return;
    const s = this.store;
    const row = s.find(e);
    if (e.event === EV_DESTROY) {
      this.c.destroy++;
      this.destroyedIds?.add(e.id);
      if (row >= 0) {
        if (this.remaining(row) > 1) this.c.destroyedUnexpired++;
        this.removeRow(row);
      }
      return;
    }
    if (e.event === EV_NEW) this.c.new++;
    else this.c.update++;
    if (row < 0) {
      const r = s.insert(e, this.gen);
      s.flags[r] = ROW_WATCHED;
      this.fill(r, e, true);
      this.aggregates.addRow(s, r, 1);
      this.emitChange('add', r);
    } else {
      s.setGen(row, this.gen);
      if ((s.flags[row]! & ROW_WATCHED) === 0) {
        s.flags[row] = ROW_WATCHED;
        this.c.unwatched--;
      }
      this.updateRow(row, e);
    }
  }

  /** Remaining seconds of a row now. */
  remaining(row: number): number {
    const s = this.store;
    const r = s.timeout[row]! - (nowDs() - s.seen[row]!) / 10;
    return r > 0 ? r : 0;
  }

  /** Idle seconds of a row: configured timeout of its state minus remaining. */
  idle(row: number): number {
    const s = this.store;
    const conf = configuredTimeout(this.timeouts, s.proto(row), s.tcpState(row), s.status[row]!);
    const i = conf - this.remaining(row);
    return i > 0 ? i : 0;
  }

  /** Materialise a row (valid rows only; during a 'remove' notification the row is still readable). */
  entryAt(row: number): TableEntry {
    const s = this.store;
    const fam = s.family(row);
    const proto = s.proto(row);
    const words = s.addrArray(row);
    const b = s.addrOffset(row);
    const bytes = new Uint8Array(16);
    const dv = new DataView(bytes.buffer);
    const text = (base: number) => {
      if (fam === 10) {
        for (let i = 0; i < 4; i++) dv.setUint32(i * 4, words[base + i]!, false);
        return formatIpv6(bytes, 0);
      }
      dv.setUint32(0, words[base]!, false);
      return formatIpv4(bytes, 0);
    };
    const ports = s.ports[row]!;
    const out: TableEntry = {
      family: fam, proto, src: text(b), dst: text(b + (fam === 10 ? 4 : 1)), zone: s.zone[row]!, status: s.status[row]!,
      timeout: Math.round(this.remaining(row)), mark: s.mark[row]!, id: s.id[row]!,
    };
    if (hasPorts(proto)) {
      out.srcPort = ports >>> 16;
      out.dstPort = ports & 0xffff;
    } else if (proto === 1 || proto === 58) {
      out.icmpId = ports >>> 16;
      out.icmpType = (ports >>> 8) & 0xff;
      out.icmpCode = ports & 0xff;
    }
    const st = s.tcpState(row);
    if (st !== NO_STATE) {
      out.tcpState = st;
      out.tcpStateName = TCP_STATE_NAMES[st] ?? String(st);
    }
    return out;
  }

  /** Row numbers in use. */
  *rows(): IterableIterator<number> {
    const s = this.store;
    for (let r = 0; r < s.top; r++) if (s.used(r)) yield r;
  }

  *[Symbol.iterator](): Iterator<TableEntry> {
    for (const r of this.rows()) yield this.entryAt(r);
  }

  /** The entry with this original tuple (and zone), if mirrored. */
  get(key: { family?: number; orig: Tuple; zone?: number }): TableEntry | undefined {
    const k = this.keyScratch;
    const o = key.orig;
    const v6 = (o.src ?? o.dst ?? '').includes(':');
    k.family = key.family ?? (v6 ? 10 : 2);
    k.proto = o.proto ?? 0;
    k.zone = key.zone ?? 0;
    k.addr.fill(0);
    const put = (addr: string | undefined, base: number) => {
      if (addr === undefined) return;
      const b = v6 ? parseIpv6(addr) : parseIpv4(addr);
      if (!b) throw new TypeError(`not an IP address: ${JSON.stringify(addr)}`);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < b.length / 4; i++) k.addr[base + i] = dv.getUint32(i * 4, false);
    };
    put(o.src, 0);
    put(o.dst, 4);
    if (o.icmpType !== undefined || o.icmpId !== undefined) {
      k.sport = o.icmpId ?? 0;
      k.dport = ((o.icmpType ?? 0) << 8) | (o.icmpCode ?? 0);
    } else {
      k.sport = o.srcPort ?? 0;
      k.dport = o.dstPort ?? 0;
    }
    const row = this.store.find(k);
    return row < 0 ? undefined : this.entryAt(row);
  }

  /** The n largest groups of a grouping, with counts. */
  top(g: Grouping, n = 10): TopItem[] {
    return this.aggregates.top(g, n);
  }

  /** Count of one raw group key (see Aggregates). */
  count(g: Grouping, key: GroupKey): number {
    return this.aggregates.count(g, key);
  }

  private histogram(value: (row: number) => number, bounds: readonly number[]): Histogram {
    const counts = new Array<number>(bounds.length).fill(0);
    for (const r of this.rows()) {
      const v = value(r);
      let i = 0;
      while (i < bounds.length - 1 && v > bounds[i]!) i++;
      counts[i]!++;
    }
    return { bounds: [...bounds], counts };
  }

  /** Entries by remaining lifetime (s). A scan: O(size). */
  lifetimeHistogram(bounds: readonly number[] = DEFAULT_HISTOGRAM_BOUNDS): Histogram {
    return this.histogram((r) => this.remaining(r), bounds);
  }

  /** Entries by idle time (s): configured timeout of the state minus remaining. A scan: O(size). */
  idleHistogram(bounds: readonly number[] = DEFAULT_HISTOGRAM_BOUNDS): Histogram {
    return this.histogram((r) => this.idle(r), bounds);
  }

  /** Stop following (closes the event socket); the contents stay readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.outOfSync = true;
    clearInterval(this.watchTimer);
    this.events?.close();
  }
}
