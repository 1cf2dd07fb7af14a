/**
 * The conntrack client: requests and event subscriptions over netlink sockets.
 *
 *   const ct = await ConntrackClient.open({ netns: 'blue' });
 *   for await (const e of ct.events({ types: ['new', 'destroy'] })) ...
 *   for await (const entry of ct.dump({ family: AF_INET })) ...
 *   await ct.create({...}); await ct.update({...}); await ct.delete({...}); await ct.flush();
 *   await ct.close();
 *
 * Sockets: one request socket, opened on first use and shared by concurrent non-dump
 * requests; one socket per dump (the kernel allows one dump at a time per socket, and a
 * dump paused by a slow consumer must not hold up other requests); one socket per
 * subscription, with a large receive buffer. Everything is closed by close().
 */
import { AF_UNSPEC } from '../nfnetlink/constants.js';
import { NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_EXP_DESTROY, NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE } from '../nfnetlink/constants.js';
import type { Conntrack as Entry, CpuStats, EventType, Expectation, GlobalStats, Message } from '../ctnetlink/model.js';
import {
  type EntryKey,
  type KernelFilter,
  createRequest,
  deleteRequest,
  dumpRequest,
  dyingRequest,
  expectDumpRequest,
  flushRequest,
  getRequest,
  statsCpuRequest,
  statsRequest,
  unconfirmedRequest,
  updateRequest,
} from '../ctnetlink/requests.js';
import { NetlinkSocket } from '../socket/netlink-socket.js';
import { ClosedError, RequestChannel } from './requests.js';
import { NetlinkRequestChannel } from '../netlink/request-channel.js';
import type { NlMsgHeader } from '../netlink/message.js';
import type { Reader } from '../netlink/reader.js';
import { encodeMessage } from '../ctnetlink/message.js';
import { Subscription, type SubscriptionOptions } from './events.js';
import { TimeoutClient } from './timeouts.js';
import type { Transport, TransportFactory, TransportOptions } from './transport.js';
import type { DeleteCounts, DeleteFilter, DeleteManyOptions, DeleteWhereOptions, DeleteWhereResult, EvictHost } from './evict.js';

export interface ConntrackOptions {
  /** Network namespace: a name under /var/run/netns, an absolute path, or a pid. */
  netns?: string;
  /** Receive buffer for event subscriptions, bytes (default 64 MiB; needs CAP_NET_ADMIN for more than rmem_max). */
  receiveBufferSize?: number;
  /**
   * Event subscriptions are drained by a receive thread in the addon into a buffer of at
   * most this many bytes (default 256 MiB, allocated as needed; at least 256 KiB; 0: no
   * thread, read on the event loop). Loss there is reported as overrun source 'buffer'.
   */
  receiveThreadBuffer?: number;
  /** Open transports some other way (tests, replays). Default: NetlinkSocket. */
  transport?: TransportFactory;
  /** Observer of every raw datagram sent or received by this client (recording to pcap). */
  onDatagram?: (data: Uint8Array, timestampNs: bigint) => void;
}

export interface EventsOptions extends SubscriptionOptions {
  /** Default: all three. */
  types?: readonly EventType[];
  /** Also subscribe to expectation NEW / DESTROY events. */
  expectations?: boolean;
  receiveBufferSize?: number;
  /** This subscription's receive-thread buffer (see ConntrackOptions.receiveThreadBuffer). */
  receiveThreadBuffer?: number;
  /**
   * With a receive thread: the longest a steady stream of events waits there before this
   * process is woken for them, in ms (default 40; one wake-up then carries many events,
   * which is most of the CPU of listening). An event after a quiet spell is handed on at
   * once. 0: woken after every drain of the socket (latency before CPU). 0 to 1000.
   */
  maxDelayMs?: number;
  /**
   * Name the process behind each event's requester port id as the datagram arrives, in
   * the addon (see Subscription.programName): what conntrack -E prints as
   * `[USERSPACE] portid=N progname=NAME`.
   */
  programNames?: boolean;
}

export interface DumpOptions {
  signal?: AbortSignal;
  /** Read and zero the counters of every dumped entry (IPCTNL_MSG_CT_GET_CTRZERO). */
  zero?: boolean;
  /** Raw datagram observer (recording), requests included. */
  onDatagram?: (data: Uint8Array, timestampNs: bigint) => void;
}

/**
 * A conntrack entry as the kernel sent it (dump entry, GET reply): the decoded message,
 * its header and nfgenmsg as received, the entry in `conntrack`; no `event` (the decoder
 * decided it is an entry).
 */
export type EntryRecord = Message & { kind: 'conntrack' };
/** An expectation as the kernel sent it (dump entry): see EntryRecord. */
export type ExpectRecord = Message & { kind: 'expect' };

export const DEFAULT_EVENT_BUFFER = 64 * 1024 * 1024;
export const DEFAULT_RECEIVE_THREAD_BUFFER = 256 * 1024 * 1024;
const DUMP_BATCH_BYTES = 64 * 1024;

const GROUP_OF: Record<EventType, number> = {
  new: NFNLGRP_CONNTRACK_NEW,
  update: NFNLGRP_CONNTRACK_UPDATE,
  destroy: NFNLGRP_CONNTRACK_DESTROY,
};

export class ConntrackClient {
  private readonly factory: TransportFactory;
  private readonly eventBuffer: number;
  private readonly threadBuffer: number;
  private channel: RequestChannel | undefined;
  private readonly open = new Set<{ close(): void }>();
  private closed = false;
  private readonly onDatagram: ConntrackOptions['onDatagram'];
  /** The namespace given to open() (undefined: the caller's). */
  readonly netns: string | undefined;

  private constructor(opts: ConntrackOptions) {
    this.onDatagram = opts.onDatagram;
    this.netns = opts.netns;
    this.eventBuffer = opts.receiveBufferSize ?? DEFAULT_EVENT_BUFFER;
    this.threadBuffer = opts.receiveThreadBuffer ?? DEFAULT_RECEIVE_THREAD_BUFFER;
    const netns = opts.netns;
    this.factory =
      opts.transport ??
      ((t: TransportOptions) =>
        NetlinkSocket.open({
          ...(netns !== undefined ? { netns } : {}),
          ...(t.groups ? { groups: t.groups } : {}),
          ...(t.receiveBufferSize !== undefined ? { receiveBufferSize: t.receiveBufferSize } : {}),
          ...(t.batchBytes !== undefined ? { batchBytes: t.batchBytes } : {}),
          ...(t.readAhead ? { readAhead: true } : {}),
          ...(t.receiveThread ? { receiveThread: t.receiveThread } : {}),
          ...(t.maxDelayMs !== undefined ? { maxDelayMs: t.maxDelayMs } : {}),
          ...(t.programNames ? { programNames: true } : {}),
        }));
  }

  /**
   * Open a client. The request socket is opened right away, so a missing privilege,
   * namespace or addon is reported here (ErrnoError / NativeAddonError).
   */
  static async open(opts: ConntrackOptions = {}): Promise<ConntrackClient> {
    const c = new ConntrackClient(opts);
    c.requests();
    return c;
  }

  private transport(opts: TransportOptions): Transport {
    if (this.closed) throw new ClosedError('client');
    return this.factory(opts);
  }

  private requests(): RequestChannel {
    if (this.channel === undefined) {
      this.channel = new RequestChannel(this.transport({ receiveBufferSize: 4 * 1024 * 1024 }));
      this.channel.unrefWhenIdle();
      if (this.onDatagram) this.channel.onDatagram = this.onDatagram;
    }
    return this.channel;
  }

  private track<T extends { close(): void }>(x: T): T {
    this.open.add(x);
    return x;
  }

  /**
   * Timeout policies and the namespace's default timeouts (cttimeout), on a socket of
   * their own; closed with the client.
   */
  timeouts(): TimeoutClient {
    return this.track(new TimeoutClient(this.transport({ receiveBufferSize: 1024 * 1024 })));
  }

  /** Subscribe to conntrack events. Iterate the result; close() it (or break) to stop. */
  events(opts: EventsOptions = {}): Subscription {
    const types = opts.types ?? ['new', 'update', 'destroy'];
    const groups = types.map((t) => GROUP_OF[t]);
    if (opts.expectations) groups.push(NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_DESTROY);
    const thread = opts.receiveThreadBuffer ?? this.threadBuffer;
    const t = this.transport({ groups, receiveBufferSize: opts.receiveBufferSize ?? this.eventBuffer, ...(thread > 0 ? { receiveThread: thread } : {}), ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}), ...(opts.programNames ? { programNames: true } : {}) });
    let sub: Subscription | undefined;
    const subOpts = opts.onDatagram || !this.onDatagram ? opts : { ...opts, onDatagram: this.onDatagram };
    sub = this.track(new Subscription(t, subOpts, () => sub && this.open.delete(sub)));
    return sub;
  }

  /**
   * A raw transport opened like this client's own sockets (same namespace, tracked, closed
   * by close()): for consumers that read datagrams themselves, such as the table mirror's
   * lean decoder (src/table). `groups` subscribes (receive buffer: the client's event
   * buffer unless given); `readAhead`/`batchBytes` suit dumps.
   */
  openTransport(opts: TransportOptions): Transport {
    // Subscriptions get the client's event buffer and receive thread unless told otherwise.
    let withBuffer = opts.groups && opts.receiveBufferSize === undefined ? { ...opts, receiveBufferSize: this.eventBuffer } : opts;
    if (opts.groups && opts.receiveThread === undefined && this.threadBuffer > 0) withBuffer = { ...withBuffer, receiveThread: this.threadBuffer };
    if (withBuffer.receiveThread === 0) {
      const { receiveThread: _off, ...rest } = withBuffer;
      withBuffer = rest;
    }
    const t = this.track(this.transport(withBuffer));
    const close = t.close.bind(t);
    t.close = () => {
      this.open.delete(t);
      close();
    };
    return t;
  }

  /** Stream replies of a dump request on its own socket, in batches. */
  async *dumpMessages(req: Message, op: string, opts: DumpOptions = {}): AsyncGenerator<Message[]> {
    // The kernel builds one dump datagram (~32 KiB, ~120 entries) per recvmsg: taking a
    // couple per turn keeps each turn's entries few and short-lived, so memory stays flat
    // and the consumer starts sooner, instead of decoding ~4,000 entries per 1 MiB batch.
    // Read-ahead moves those recvmsg calls (and so the kernel's work) to a thread of the
    // addon that keeps reading while JS decodes, up to 1 MiB ahead.
    const ch = this.track(
      new RequestChannel(this.transport({ receiveBufferSize: 4 * 1024 * 1024, batchBytes: DUMP_BATCH_BYTES, readAhead: true })),
    );
    const rec = opts.onDatagram ?? this.onDatagram;
    if (rec) ch.onDatagram = rec;
    try {
      yield* ch.dump(req, op, opts.signal);
    } finally {
      this.open.delete(ch);
      ch.close();
    }
  }

  /** The table (or what the kernel-side filter matches), entry by entry, in constant memory. */
  async *dump(filter?: KernelFilter, opts: DumpOptions = {}): AsyncGenerator<Entry> {
    for await (const batch of this.dumpBatches(filter, opts)) yield* batch;
  }

  /**
   * A dump whose reply messages are turned into T by `decodeAt` as they arrive (every reply
   * but NLMSG_DONE / NLMSG_ERROR, with the borrowed datagram; an exception fails the dump
   * like a decode error), in batches: for printers that go from the bytes to text without
   * the message model (the CLI's lean path, issue 14).
   */
  async *dumpMapped<T>(req: Message, op: string, decodeAt: (r: Reader, off: number, len: number) => T, opts: DumpOptions = {}): AsyncGenerator<T[]> {
    const t = this.transport({ receiveBufferSize: 4 * 1024 * 1024, batchBytes: DUMP_BATCH_BYTES, readAhead: true });
    const ch = this.track(new NetlinkRequestChannel<{ header: NlMsgHeader }>(t, { decodeAt: decodeAt as (r: Reader, off: number, len: number) => { header: NlMsgHeader }, encode: (m) => encodeMessage(m as Message) }));
    const rec = opts.onDatagram ?? this.onDatagram;
    if (rec) ch.onDatagram = rec;
    try {
      yield* ch.dump(req, op, opts.signal) as AsyncGenerator<unknown[]> as AsyncGenerator<T[]>;
    } finally {
      this.open.delete(ch);
      ch.close();
    }
  }

  /** The table in batches as they arrive (one batch per received chunk): the fast path. */
  async *dumpBatches(filter?: KernelFilter, opts: DumpOptions = {}): AsyncGenerator<Entry[]> {
    const req = dumpRequest(filter, opts.zero ? { zero: true } : {});
    for await (const ms of this.dumpMessages(req, 'dump', opts)) {
      const out: Entry[] = [];
      for (const m of ms) if (m.kind === 'conntrack') out.push(m.conntrack);
      yield out;
    }
  }

  /**
   * The table as domain records, in batches as they arrive: each entry in the message the
   * kernel sent (nlmsghdr and nfgenmsg as received, the type decided by the decoder: a dump
   * entry carries no event), for printers and recorders that need no rebuilt header.
   */
  async *dumpRecords(filter?: KernelFilter, opts: DumpOptions = {}): AsyncGenerator<EntryRecord[]> {
    yield* this.entryRecords(dumpRequest(filter, opts.zero ? { zero: true } : {}), 'dump', opts);
  }

  /** The dying or unconfirmed list as domain records (see dumpRecords). */
  async *listRecords(list: 'dying' | 'unconfirmed', family = AF_UNSPEC, opts: DumpOptions = {}): AsyncGenerator<EntryRecord[]> {
    if (list === 'dying') yield* this.entryRecords(dyingRequest(family), 'dump dying list', opts);
    else yield* this.entryRecords(unconfirmedRequest(family), 'dump unconfirmed list', opts);
  }

  private async *entryRecords(req: Message, op: string, opts: DumpOptions): AsyncGenerator<EntryRecord[]> {
    for await (const ms of this.dumpMessages(req, op, opts)) {
      const out: EntryRecord[] = [];
      for (const m of ms) if (m.kind === 'conntrack') out.push(m);
      yield out;
    }
  }

  /** Entries on the dying list (awaiting DESTROY delivery). */
  async *dying(family = AF_UNSPEC, opts: DumpOptions = {}): AsyncGenerator<Entry> {
    for await (const ms of this.listRecords('dying', family, opts)) for (const m of ms) yield m.conntrack;
  }

  /** The unconfirmed list (always empty on current kernels). */
  async *unconfirmed(family = AF_UNSPEC, opts: DumpOptions = {}): AsyncGenerator<Entry> {
    for await (const ms of this.listRecords('unconfirmed', family, opts)) for (const m of ms) yield m.conntrack;
  }

  /** Expectations, optionally of one master connection. */
  async *expectations(family = AF_UNSPEC, master?: Entry['orig'], opts: DumpOptions = {}): AsyncGenerator<Expectation> {
    for await (const ms of this.expectationRecords(family, master, opts)) for (const m of ms) yield m.expect;
  }

  /** Expectations as domain records (the kernel's messages, see dumpRecords), in batches. */
  async *expectationRecords(family = AF_UNSPEC, master?: Entry['orig'], opts: DumpOptions = {}): AsyncGenerator<ExpectRecord[]> {
    for await (const ms of this.dumpMessages(expectDumpRequest(family, master), 'dump expectations', opts)) {
      const out: ExpectRecord[] = [];
      for (const m of ms) if (m.kind === 'expect') out.push(m);
      yield out;
    }
  }

  /** One entry by tuple; rejects with NetlinkError ENOENT if there is none. */
  async get(key: EntryKey, opts: { zero?: boolean } = {}): Promise<Entry> {
    return (await this.getRecord(key, opts)).conntrack;
  }

  /** get() as a domain record: the kernel's reply message (header and nfgenmsg as received). */
  async getRecord(key: EntryKey, opts: { zero?: boolean } = {}): Promise<EntryRecord> {
    const replies = await this.requests().request(getRequest(key, opts), opts.zero ? 'get-and-zero' : 'get');
    for (const m of replies) if (m.kind === 'conntrack') return m;
    throw new Error('get: the kernel acknowledged without sending the entry');
  }

  /** Create an entry (orig, reply and timeout are required). EEXIST unless `orUpdate`. */
  async create(entry: Entry, opts: { orUpdate?: boolean } = {}): Promise<void> {
    await this.requests().request(createRequest(entry, opts), 'create');
  }

  /** Update an existing entry (found by orig or reply tuple). */
  async update(entry: Entry): Promise<void> {
    await this.requests().request(updateRequest(entry), 'update');
  }

  /** Delete one entry by tuple (and id, if given). */
  async delete(key: EntryKey): Promise<void> {
    await this.requests().request(deleteRequest(key), 'delete');
  }

  /**
   * Flush the whole table (no argument), or what the filter matches. An explicit
   * `undefined` filter is refused (NetlinkEncodeError), like any filter that would not
   * narrow the flush: only flush() wipes the table.
   */
  async flush(filter?: KernelFilter): Promise<void> {
    await this.requests().request(arguments.length === 0 ? flushRequest() : flushRequest(filter), 'flush');
  }

  /**
   * Delete many entries by key (orig tuple + zone + id), batched and pipelined on a socket
   * of their own; ENOENT (raced away) is counted, not thrown. See src/client/evict.ts.
   */
  deleteMany(keys: Iterable<EntryKey> | AsyncIterable<EntryKey>, opts: DeleteManyOptions = {}): Promise<DeleteCounts> {
    // evict.ts (and the sysctl reader) load on first use: most programs never delete (start-up, issue 14).
    const host = this.evictHost();
    return import('./evict.js').then((m) => m.deleteMany(host, keys, opts));
  }

  /**
   * Delete what a filter matches: a kernel-side filtered flush when the kernel can express
   * the whole filter, else a streaming dump with pipelined deletes. Refuses an empty filter.
   */
  deleteWhere(filter: DeleteFilter, opts: DeleteWhereOptions = {}): Promise<DeleteWhereResult> {
    const host = this.evictHost();
    return import('./evict.js').then((m) => m.deleteWhere(host, filter, opts));
  }

  private evictHost(): EvictHost {
    return {
      openTransport: () => {
        const t = this.track(this.transport({ receiveBufferSize: 4 * 1024 * 1024 }));
        return t;
      },
      releaseTransport: (t) => {
        this.open.delete(t);
        t.close();
      },
      ...(this.netns !== undefined ? { netns: this.netns } : {}),
      dumpBatches: (filter, opts) => this.dumpBatches(filter, opts),
      flush: (filter) => this.flush(filter),
      count: async () => (await this.stats()).entries ?? 0,
    };
  }

  /** Per-CPU counters (insert_failed, drop, early_drop, chaintoolong, ...). */
  async statsPerCpu(opts: DumpOptions = {}): Promise<CpuStats[]> {
    const out: CpuStats[] = [];
    for await (const ms of this.dumpMessages(statsCpuRequest(), 'per-CPU stats', opts)) {
      for (const m of ms) if (m.kind === 'stats-cpu') out.push(m.stats);
    }
    return out;
  }

  /**
   * The kernel's replies to GET_STATS and GET_STATS_CPU as decoded messages, headers and
   * all (what `ctevents stats --format json` prints, as `read` prints a capture of them).
   */
  async statsMessages(): Promise<{ global: Extract<Message, { kind: 'stats' }>; cpus: Extract<Message, { kind: 'stats-cpu' }>[] }> {
    const [replies, cpus] = await Promise.all([
      this.requests().request(statsRequest(), 'stats'),
      (async () => {
        const out: Extract<Message, { kind: 'stats-cpu' }>[] = [];
        for await (const ms of this.dumpMessages(statsCpuRequest(), 'per-CPU stats')) for (const m of ms) if (m.kind === 'stats-cpu') out.push(m);
        return out;
      })(),
    ]);
    const global = replies.find((m): m is Extract<Message, { kind: 'stats' }> => m.kind === 'stats');
    if (!global) throw new Error('stats: the kernel acknowledged without sending the counters');
    return { global, cpus };
  }

  /** Entries in use and nf_conntrack_max. */
  async stats(): Promise<GlobalStats> {
    const replies = await this.requests().request(statsRequest(), 'stats');
    for (const m of replies) if (m.kind === 'stats') return m.stats;
    throw new Error('stats: the kernel acknowledged without sending the counters');
  }

  /** Close every socket; pending requests reject with ClosedError, iterations end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const x of [...this.open]) x.close();
    this.open.clear();
    this.channel?.close();
  }
}
