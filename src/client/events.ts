/**
 * Event subscriptions: NEW / UPDATE / DESTROY (and expectation) events as an async
 * iterable, interleaved with overrun markers.
 *
 * Flow control: received events wait in a queue bounded in BYTES (of the datagrams they
 * came in, `highWaterBytes`, default 4 MiB) for the consumer. When it is full, delivery
 * pauses; the live socket's receive thread (in the addon) keeps draining the kernel into
 * its own byte-bounded buffer (256 MiB by default), so a slow consumer does not make the
 * kernel drop. If that buffer fills, what it discards shows up in order as
 * { kind: 'overrun', source: 'buffer', lost }. If the kernel's queue overflows anyway
 * (ENOBUFS) it shows up as { kind: 'overrun', source: 'kernel', lost } where `lost` is the
 * kernel's own drop count for the socket (SO_MEMINFO) since the previous marker. The kernel reports ENOBUFS
 * once per congestion episode, so the drop counter is also read after every received
 * batch, and drops that came later get a marker of their own. Loss is never silent and
 * never ends the stream; after an overrun, resynchronise with a dump.
 *
 * Namespace: when the transport can tell (NetlinkSocket.namespaceGone), the namespace the
 * subscription listens in is checked every `netnsCheckMs` (default 1000 ms, one stat());
 * once it was deleted, one { kind: 'netns-gone' } item is queued and the stream goes on.
 * A subscription in the caller's own namespace has no timer: an idle listener does not
 * wake (each wake-up of an idle Node process costs about a clock tick of CPU here).
 *
 * Times: `receivedNs` is the receive time of the datagram an item came in (taken by the
 * addon right after recvmsg, ns resolution), or Date.now() where a transport has none.
 */
import { decodeDatagram } from '../ctnetlink/message.js';
import type { Conntrack, EventType, Expectation, Message } from '../ctnetlink/model.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { RB_FLAGS, RB_LEN, RB_LOCAL_DROP, RB_OVERRUN, RB_PID, RB_STRIDE, batchTimeNs } from './receive-batch.js';
import type { ReceiveItem, Transport } from './transport.js';

/**
 * A conntrack event as a domain record: its type decided once, by the decoder (ctnetlink
 * subsystem.ts), the family, the port id of the process that caused it (nlmsg_pid, absent
 * for the kernel's own changes) and the receive time. `message` is the decoded message as
 * it came (for printers and recorders: nothing needs to rebuild one).
 */
export interface ConntrackEvent {
  kind: 'event';
  type: EventType;
  conntrack: Conntrack;
  /** nfgenmsg family: 2 AF_INET, 10 AF_INET6. */
  family: number;
  /** Netlink port id of the process whose request caused the event, if any. */
  portid?: number;
  header: NlMsgHeader;
  /** When the datagram was received (ns since the epoch). */
  receivedNs: bigint;
  message: Message & { kind: 'conntrack' };
}

export interface ExpectEvent {
  kind: 'expect';
  type: 'new' | 'destroy';
  expect: Expectation;
  family: number;
  portid?: number;
  header: NlMsgHeader;
  receivedNs: bigint;
  message: Message & { kind: 'expect' };
}

export interface OverrunMarker {
  kind: 'overrun';
  /** Messages lost here: the kernel's drops since the previous marker, or what our buffer discarded. */
  lost?: number;
  /** `kernel`: the socket's receive queue overflowed (ENOBUFS / SO_MEMINFO drops); `buffer`: the receive thread's buffer was full. */
  source?: 'kernel' | 'buffer';
  receivedNs: bigint;
}

/** The namespace of the subscription was deleted (reported once; events may still come from what is inside). */
export interface NamespaceGone {
  kind: 'netns-gone';
  receivedNs: bigint;
}

/** A datagram that did not decode: reported in-band, the stream goes on. */
export interface DecodeFailure {
  kind: 'decode-error';
  error: NetlinkDecodeError;
  data: Uint8Array;
  receivedNs: bigint;
}

/**
 * A received datagram left undecoded (SubscriptionOptions.raw): `data` is a view into the
 * transport's batch buffer, which is never reused, so it may be kept.
 */
export interface RawDatagram {
  kind: 'datagram';
  data: Uint8Array;
  receivedNs: bigint;
}

/**
 * Received datagrams left undecoded, one item per run of datagrams of a receive batch
 * (SubscriptionOptions.batches): rows [first, end) of `meta` (layout in
 * receive-batch.ts: length, pid, groups, flags, receive seconds, nanoseconds) are all
 * datagrams, the first of them at byte `offset` of `data`, each following the previous
 * one. Markers between runs are items of their own. `data` is never reused, so it may be
 * kept.
 */
export interface DatagramBatch {
  kind: 'batch';
  data: Uint8Array;
  meta: Uint32Array;
  first: number;
  end: number;
  offset: number;
}

export type EventItem = ConntrackEvent | ExpectEvent | OverrunMarker | DecodeFailure | NamespaceGone | RawDatagram | DatagramBatch;

/** Default bound of the consumer queue, in bytes of received datagrams. */
export const DEFAULT_HIGH_WATER_BYTES = 4 * 1024 * 1024;

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

export interface SubscriptionOptions {
  signal?: AbortSignal;
  /** Bytes (of received datagrams) waiting for the consumer before delivery pauses (default 4 MiB). */
  highWaterBytes?: number;
  /** Also pause at this many waiting items (no item bound unless given). */
  highWater?: number;
  /** How often to check that the namespace still exists, ms (default 1000; 0: never). */
  netnsCheckMs?: number;
  /** Raw datagram observer (recording), called in receive order. */
  onDatagram?: (data: Uint8Array, timestampNs: bigint) => void;
  /**
   * Queue each received datagram undecoded, as a 'datagram' item (overruns and namespace
   * notices as usual), for consumers that decode it themselves (the CLI's lean path).
   */
  raw?: boolean;
  /**
   * With `raw`: hand the datagrams over as 'batch' items (DatagramBatch, one per run of
   * datagrams in a receive batch) instead of one 'datagram' item each, when the
   * transport can (Transport.onReceiveBatch); nothing is allocated per datagram.
   */
  batches?: boolean;
}

export class Subscription implements AsyncIterable<EventItem> {
  private readonly transport: Transport;
  private queue: EventItem[] = [];
  private head = 0;
  private paused = false;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private lastDrops = 0;
  /** Messages our own buffer discarded that markers have reported so far. */
  private bufferLostReported = 0;
  private queuedBytes = 0;
  private readonly highWater: number;
  private readonly highWaterBytes: number;
  private netnsTimer: NodeJS.Timeout | undefined;
  private readonly onDatagram: SubscriptionOptions['onDatagram'];
  private readonly raw: boolean;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.close();
  private onClose: (() => void) | undefined;

  constructor(transport: Transport, opts: SubscriptionOptions = {}, onClose?: () => void) {
    this.transport = transport;
    this.highWater = opts.highWater ?? Infinity;
    this.highWaterBytes = opts.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.onDatagram = opts.onDatagram;
    this.raw = opts.raw === true;
    this.signal = opts.signal;
    this.onClose = onClose;
    this.lastDrops = transport.drops?.() ?? 0;
    const onError = (err: Error) => {
      this.error = err;
      this.close();
    };
    if (this.raw && opts.batches && transport.onReceiveBatch) transport.onReceiveBatch((data, meta) => this.receiveBatch(data, meta), onError);
    else transport.onReceive((items) => this.receive(items), onError);
    if (this.signal?.aborted) this.close();
    else this.signal?.addEventListener('abort', this.onAbort, { once: true });
    const every = opts.netnsCheckMs ?? 1000;
    if (!this.ended && every > 0 && transport.namespaceGone && transport.watchesNamespace !== false) {
      this.netnsTimer = setInterval(() => this.checkNamespace(), every);
      this.netnsTimer.unref();
    }
  }

  /** Queue one 'netns-gone' item once the namespace was deleted. */
  private checkNamespace(): void {
    if (this.ended || !this.transport.namespaceGone?.()) return;
    clearInterval(this.netnsTimer);
    this.netnsTimer = undefined;
    this.queue.push({ kind: 'netns-gone', receivedNs: nowNs() });
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Lost messages since the last look at the kernel's drop counter, or undefined if unknown. */
  private takeDrops(): number | undefined {
    const drops = this.transport.drops?.();
    if (drops === undefined) return undefined;
    const lost = (drops - this.lastDrops) >>> 0;
    this.lastDrops = drops;
    return lost;
  }

  private receive(items: ReceiveItem[]): void {
    if (this.ended) return;
    let fallbackNs: bigint | undefined;
    let receivedNs = 0n;
    for (const item of items) {
      receivedNs = item.timestampNs ?? (fallbackNs ??= nowNs());
      if ('overrun' in item) {
        this.queueOverrun(item.source === 'buffer' ? item.lost ?? 0 : undefined, receivedNs);
        continue;
      }
      this.queuedBytes += item.data.byteLength;
      this.onDatagram?.(item.data, receivedNs);
      if (this.raw) {
        this.queue.push({ kind: 'datagram', data: item.data, receivedNs });
        continue;
      }
      let ms;
      try {
        ms = decodeDatagram(item.data);
      } catch (e) {
        if (!(e instanceof NetlinkDecodeError)) throw e;
        this.queue.push({ kind: 'decode-error', error: e, data: new Uint8Array(item.data), receivedNs });
        continue;
      }
      for (const m of ms) {
        if (m.kind === 'conntrack' && m.event) {
          const pid = m.header.pid >>> 0;
          this.queue.push(
            pid === 0
              ? { kind: 'event', type: m.event, conntrack: m.conntrack, family: m.nfgen.family, header: m.header, receivedNs, message: m }
              : { kind: 'event', type: m.event, conntrack: m.conntrack, family: m.nfgen.family, portid: pid, header: m.header, receivedNs, message: m },
          );
        } else if (m.kind === 'expect' && m.event) {
          const pid = m.header.pid >>> 0;
          this.queue.push(
            pid === 0
              ? { kind: 'expect', type: m.event, expect: m.expect, family: m.nfgen.family, header: m.header, receivedNs, message: m }
              : { kind: 'expect', type: m.event, expect: m.expect, family: m.nfgen.family, portid: pid, header: m.header, receivedNs, message: m },
          );
        }
      }
    }
    this.afterReceive(receivedNs || nowNs());
  }

  /** After each received batch: the kernel's drops since the last look, flow control, the consumer. */
  private afterReceive(receivedNs: bigint): void {
    this.checkDrops(receivedNs);
    if (!this.paused && (this.queuedBytes >= this.highWaterBytes || this.queue.length - this.head >= this.highWater)) {
      this.paused = true;
      this.transport.pause();
    }
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * receive() for a batch as the transport received it (SubscriptionOptions.batches):
   * markers are items as receive() makes them, each run of datagrams between them one
   * 'batch' item.
   */
  /**
   * An overrun marker in the stream: the transport's own buffer discarded `bufferLost`
   * messages, or (undefined) the kernel's queue overflowed, counted from its drop counter.
   */
  private queueOverrun(bufferLost: number | undefined, receivedNs: bigint): void {
    if (bufferLost !== undefined) {
      this.bufferLostReported += bufferLost;
      this.queue.push({ kind: 'overrun', source: 'buffer', lost: bufferLost, receivedNs });
      return;
    }
    const lost = this.takeDrops();
    this.queue.push(lost === undefined ? { kind: 'overrun', source: 'kernel', receivedNs } : { kind: 'overrun', source: 'kernel', lost, receivedNs });
  }

  private receiveBatch(data: Uint8Array, meta: Uint32Array): void {
    if (this.ended) return;
    const rows = Math.floor(meta.length / RB_STRIDE);
    const rec = this.onDatagram;
    let first = 0;
    let start = 0;
    let off = 0;
    for (let i = 0, m = 0; i < rows; i++, m += RB_STRIDE) {
      const flags = meta[m + RB_FLAGS]!;
      if (flags & (RB_OVERRUN | RB_LOCAL_DROP)) {
        if (i > first) this.queue.push({ kind: 'batch', data, meta, first, end: i, offset: start });
        this.queueOverrun(flags & RB_OVERRUN ? undefined : meta[m + RB_PID]!, batchTimeNs(meta, m));
        first = i + 1;
        start = off;
        continue;
      }
      const len = meta[m + RB_LEN]!;
      if (rec !== undefined) rec(data.subarray(off, off + len), batchTimeNs(meta, m));
      off += len;
    }
    if (rows > first) this.queue.push({ kind: 'batch', data, meta, first, end: rows, offset: start });
    this.queuedBytes += off;
    this.afterReceive(rows > 0 ? batchTimeNs(meta, (rows - 1) * RB_STRIDE) : nowNs());
  }

  /**
   * Queue an overrun marker for drops the kernel counted since the last marker (drops
   * inside a congestion episode that ENOBUFS already reported). Returns the number queued.
   * Called after every batch; call it once more before ending to account for the tail.
   */
  checkDrops(receivedNs: bigint = nowNs()): number {
    if (this.ended) return 0;
    const lost = this.takeDrops();
    if (!lost) return 0;
    this.queue.push({ kind: 'overrun', source: 'kernel', lost, receivedNs });
    return lost;
  }

  /**
   * Before ending: all drops not reported yet, the kernel's (as checkDrops) and those of
   * the transport's own receive buffer whose in-band marker has not come through (a
   * backlog still full when the consumer stops). Returns the number queued.
   */
  checkAllDrops(receivedNs: bigint = nowNs()): number {
    let n = this.checkDrops(receivedNs);
    if (this.ended) return n;
    const local = this.transport.localDrops?.();
    if (local !== undefined && local > this.bufferLostReported) {
      const lost = local - this.bufferLostReported;
      this.bufferLostReported = local;
      this.queue.push({ kind: 'overrun', source: 'buffer', lost, receivedNs });
      n += lost;
    }
    return n;
  }

  /** Take everything queued now (may be empty). For consumers that batch. */
  drain(): EventItem[] {
    const out = this.head === 0 ? this.queue : this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    if (this.paused && !this.ended) {
      this.paused = false;
      this.transport.resume();
    }
    return out;
  }

  /** Resolves when items are queued or the subscription ended. */
  wait(): Promise<void> {
    if (this.queue.length > this.head || this.ended) return Promise.resolve();
    return new Promise((res) => (this.wake = res));
  }

  get isEnded(): boolean {
    return this.ended && this.queue.length === this.head;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EventItem> {
    try {
      for (;;) {
        const items = this.drain();
        for (const it of items) yield it;
        if (items.length > 0) continue;
        if (this.ended) break;
        await this.wait();
      }
      if (this.error) throw this.error;
    } finally {
      this.close();
    }
  }

  /**
   * The process behind requester port id `portid` (an event's `portid`), as the transport
   * named it when the datagram arrived (EventsOptions.programNames): a name; null when it
   * looked and found none; undefined when it did not look. Waits up to `waitMs` for a
   * lookup still running.
   */
  programName(portid: number, waitMs = 0): string | null | undefined {
    if (this.ended) return undefined;
    return this.transport.programName?.(portid, waitMs);
  }

  /** Stop the subscription; a pending iteration ends. Idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.netnsTimer);
    this.netnsTimer = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.transport.close();
    this.onClose?.();
    this.onClose = undefined;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
