/**
 * Request/response over one netlink transport, for any message model (the subsystem's
 * codec is injected; ACKs and DONE are decoded here): sequence numbers, NLM_F_ACK, and the matching of
 * replies, ACKs and errors to the request that caused them.
 *
 * Every non-dump request is sent with NLM_F_ACK and completes on its NLMSG_ERROR: error 0
 * resolves with the replies that came before it (a GET's entry, a stats reply), a negative
 * errno rejects with NetlinkError carrying the extended-ACK text. Several requests may be
 * in flight at once; the kernel answers each in order, tagged with its seq.
 *
 * Dumps stream: replies are handed out as they arrive, NLMSG_DONE ends the stream (a
 * negative status in DONE, or an NLMSG_ERROR before the dump starts, is a NetlinkError).
 * When the consumer falls behind, reading pauses; the kernel builds the next dump step
 * only when we read, so memory stays flat whatever the table size.
 */
import { NLM_F_ACK, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN } from './constants.js';
import { decodeDonePayload, decodeErrorPayload } from './control.js';
import { controlTypeName } from './control-message.js';
import { NetlinkError, rethrowIn } from './errors.js';
import { type NlMsgHeader, messageLen, nextMessage } from './message.js';
import { Reader } from './reader.js';

/** A received item: a datagram (with its receive time when the transport knows it), or a loss marker. */
export type ChannelItem = { data: Uint8Array; timestampNs?: bigint } | { overrun: true };

/**
 * What the channel needs of a transport (client/transport.ts's Transport is one): whole
 * datagrams out, batches of received items in, flow control, and the process hold.
 */
export interface DatagramPort {
  send(datagram: Uint8Array): void;
  onReceive(cb: (items: ChannelItem[]) => void, onError: (err: Error) => void): void;
  pause(): void;
  resume(): void;
  close(): void;
  unref?(): void;
  ref?(): void;
}

/** How the channel turns its message model into bytes and replies back into it. */
export interface MessageCodec<M extends { header: NlMsgHeader }> {
  /** Decode the (length-checked) reply message at `off`. */
  decodeAt(r: Reader, off: number, len: number): M;
  /** Encode one request message. */
  encode(m: M): Uint8Array;
}

/** The connection was closed while a request or iteration was pending. */
export class ClosedError extends Error {
  override readonly name = 'ClosedError';
  constructor(what = 'connection') {
    super(`${what} closed`);
  }
}

interface Pending<M> {
  op: string;
  onMessage(m: M): void;
  onEnd(err?: Error): void;
}

const HIGH_WATER = 8192;
const LOW_WATER = 1024;

export class NetlinkRequestChannel<M extends { header: NlMsgHeader }> {
  readonly transport: DatagramPort;
  private readonly codec: MessageCodec<M>;
  private seq: number;
  private readonly pending = new Map<number, Pending<M>>();
  private closed = false;
  private paused = false;
  private queued = 0;
  private idleUnref = false;
  /** Raw datagram observer (recording to pcap). */
  onDatagram?: (data: Uint8Array, timestampNs: bigint) => void;

  constructor(transport: DatagramPort, codec: MessageCodec<M>) {
    this.transport = transport;
    this.codec = codec;
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
    transport.onReceive(
      (items) => this.receive(items),
      (err) => this.failAll(err),
    );
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private receive(items: ChannelItem[]): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const item of items) {
      if ('overrun' in item) continue; // unicast replies are never dropped for overrun
      this.onDatagram?.(item.data, item.timestampNs ?? now); // the transport's per-datagram receive time
      const r = new Reader(item.data);
      const end = item.data.length;
      try {
        for (let off = 0; off < end; ) {
          const len = messageLen(r, off, end);
          const seq = r.view.getUint32(off + 8, r.le);
          const p = this.pending.get(seq);
          if (p !== undefined) this.dispatch(seq, p, r, off, len);
          off = nextMessage(off, len, end);
        }
      } catch (e) {
        // A malformed reply fails the request it belongs to (or all, if unknown).
        const seq = end >= 12 ? r.view.getUint32(8, r.le) : -1;
        const p = this.pending.get(seq);
        if (p) this.finish(seq, p, e as Error);
        else this.failAll(e as Error);
      }
    }
  }

  private dispatch(seq: number, p: Pending<M>, r: Reader, off: number, len: number): void {
    const type = r.view.getUint16(off + 4, r.le);
    if (type === NLMSG_ERROR || type === NLMSG_DONE) {
      // The ACK / end of dump: decoded here, by the netlink layer, whatever the subsystem.
      const flags = r.view.getUint16(off + 6, r.le);
      let status;
      try {
        status = type === NLMSG_ERROR
          ? decodeErrorPayload(r, flags, off + NLMSG_HDRLEN, off + len)
          : decodeDonePayload(r, flags, off + NLMSG_HDRLEN, off + len);
      } catch (e) {
        rethrowIn(controlTypeName(type), e, off);
      }
      this.finish(seq, p, status.error === 0 ? undefined : new NetlinkError(status.error, seq, status.extAck, p.op));
      return;
    }
    p.onMessage(this.codec.decodeAt(r, off, len));
  }

  private finish(seq: number, p: Pending<M>, err?: Error): void {
    this.pending.delete(seq);
    if (this.pending.size === 0 && this.idleUnref) this.transport.unref?.();
    p.onEnd(err);
  }

  /**
   * Let the process exit while no request is pending (a long-lived client must not keep
   * it alive), but hold it while one is: a pending reply is work the program awaits.
   */
  unrefWhenIdle(): void {
    this.idleUnref = true;
    if (this.pending.size === 0) this.transport.unref?.();
  }

  private failAll(err: Error): void {
    for (const [seq, p] of [...this.pending]) this.finish(seq, p, err);
  }

  private send(m: M, flags: number, p: Pending<M>): number {
    if (this.closed) throw new ClosedError();
    const seq = this.nextSeq();
    const msg = { ...m, header: { ...m.header, flags: m.header.flags | flags, seq, pid: 0 } } as M;
    const bytes = this.codec.encode(msg);
    if (this.pending.size === 0 && this.idleUnref) this.transport.ref?.();
    this.pending.set(seq, p);
    try {
      this.transport.send(bytes);
    } catch (e) {
      this.pending.delete(seq);
      if (this.pending.size === 0 && this.idleUnref) this.transport.unref?.();
      throw e;
    }
    this.onDatagram?.(bytes, BigInt(Date.now()) * 1_000_000n);
    return seq;
  }

  /** Send a non-dump request with NLM_F_ACK; resolves with the replies before the ACK. */
  request(m: M, op: string): Promise<M[]> {
    return new Promise((resolve, reject) => {
      const replies: M[] = [];
      this.send(m, NLM_F_ACK, {
        op,
        onMessage: (r) => replies.push(r),
        onEnd: (err) => (err ? reject(err) : resolve(replies)),
      });
    });
  }

  /** Send a dump request; yields reply batches as they arrive. */
  async *dump(m: M, op: string, signal?: AbortSignal): AsyncGenerator<M[]> {
    let batch: M[] = [];
    let ended = false;
    let error: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const seq = this.send(m, m.header.flags & NLM_F_DUMP ? 0 : NLM_F_DUMP, {
      op,
      onMessage: (r) => {
        batch.push(r);
        this.queued++;
        if (!this.paused && this.queued >= HIGH_WATER) {
          this.paused = true;
          this.transport.pause();
        }
        notify();
      },
      onEnd: (err) => {
        ended = true;
        error = err;
        notify();
      },
    });
    const onAbort = () => {
      const p = this.pending.get(seq);
      if (p) this.finish(seq, p, signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (batch.length > 0) {
          const out = batch;
          batch = [];
          this.queued -= out.length;
          if (this.paused && this.queued <= LOW_WATER) {
            this.paused = false;
            this.transport.resume();
          }
          yield out;
          continue;
        }
        if (ended) break;
        await new Promise<void>((res) => (wake = res));
      }
      if (error) throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      const p = this.pending.get(seq);
      if (p) this.finish(seq, p); // consumer stopped early
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new ClosedError());
    this.transport.close();
  }
}

