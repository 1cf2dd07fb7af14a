/**
 * Request/response over one transport: sequence numbers, NLM_F_ACK, and the matching of
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
import { NLM_F_ACK, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR } from '../netlink/constants.js';
import { NetlinkDecodeError, NetlinkError } from '../netlink/errors.js';
import { messageLen, nextMessage } from '../netlink/message.js';
import { Reader } from '../netlink/reader.js';
import { decodeMessageAt, encodeMessage } from '../ctnetlink/message.js';
import type { Message } from '../ctnetlink/model.js';
import type { ReceiveItem, Transport } from './transport.js';

/** The connection was closed while a request or iteration was pending. */
export class ClosedError extends Error {
  override readonly name = 'ClosedError';
  constructor(what = 'connection') {
    super(`${what} closed`);
  }
}

interface Pending {
  op: string;
  onMessage(m: Message): void;
  onEnd(err?: Error): void;
}

const HIGH_WATER = 8192;
const LOW_WATER = 1024;

export class RequestChannel {
  readonly transport: Transport;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private paused = false;
  private queued = 0;
  private idleUnref = false;
  /** Raw datagram observer (recording to pcap). */
  onDatagram?: (data: Uint8Array, timestampNs: bigint) => void;

  constructor(transport: Transport) {
    this.transport = transport;
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

  private receive(items: ReceiveItem[]): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    for (const item of items) {
      if ('overrun' in item) continue; // unicast replies are never dropped for overrun
      this.onDatagram?.(item.data, item.timestampNs ?? now); // the shim's per-datagram receive time
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

  private dispatch(seq: number, p: Pending, r: Reader, off: number, len: number): void {
    const type = r.view.getUint16(off + 4, r.le);
    if (type === NLMSG_ERROR || type === NLMSG_DONE) {
      const m = decodeMessageAt(r, off, len);
      if (m.kind === 'error') {
        const e = m.error;
        this.finish(seq, p, e.error === 0 ? undefined : new NetlinkError(e.error, seq, e.extAck, p.op));
      } else if (m.kind === 'done') {
        const d = m.done;
        this.finish(seq, p, d.error === 0 ? undefined : new NetlinkError(d.error, seq, d.extAck, p.op));
      }
      return;
    }
    p.onMessage(decodeMessageAt(r, off, len));
  }

  private finish(seq: number, p: Pending, err?: Error): void {
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

  private send(m: Message, flags: number, p: Pending): number {
    if (this.closed) throw new ClosedError();
    const seq = this.nextSeq();
    const msg = { ...m, header: { ...m.header, flags: m.header.flags | flags, seq, pid: 0 } } as Message;
    const bytes = encodeMessage(msg);
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
  request(m: Message, op: string): Promise<Message[]> {
    return new Promise((resolve, reject) => {
      const replies: Message[] = [];
      this.send(m, NLM_F_ACK, {
        op,
        onMessage: (r) => replies.push(r),
        onEnd: (err) => (err ? reject(err) : resolve(replies)),
      });
    });
  }

  /** Send a dump request; yields reply batches as they arrive. */
  async *dump(m: Message, op: string, signal?: AbortSignal): AsyncGenerator<Message[]> {
    let batch: Message[] = [];
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

export { NetlinkDecodeError };
