/**
 * A transport that plays a recorded capture back as the kernel: when the client sends a
 * request, the replies recorded for the same kind of request come back, with sequence
 * number and port id rewritten to the new request's. Recorded events (seq 0) are
 * delivered to subscriptions. The client's real framing and matching code runs on real
 * kernel bytes.
 */
import { readFileSync } from 'node:fs';
import type { ReceiveItem, Transport, TransportOptions } from '../../src/client/transport.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../../src/netlink/constants.js';
import { netlinkPayload, parseCapture } from '../../src/pcap/index.js';

interface Exchange {
  type: number;
  flags: number;
  replies: Uint8Array[];
  used: boolean;
}

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
const u16 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(off, true);

export class Replay {
  readonly exchanges: Exchange[] = [];
  readonly events: Uint8Array[] = [];
  sent: Uint8Array[] = [];

  constructor(path: string) {
    const bySeq = new Map<number, Exchange>();
    for (const rec of parseCapture(readFileSync(path))) {
      const p = netlinkPayload(rec);
      if (!p) continue;
      const d = new Uint8Array(p.data); // a copy (Buffer#slice would be a view)
      const seq = u32(d, 8);
      const flags = u16(d, 6);
      if (flags & NLM_F_REQUEST) {
        const x = { type: u16(d, 4), flags, replies: [], used: false };
        this.exchanges.push(x);
        bySeq.set(seq, x);
      } else if (seq === 0) this.events.push(d);
      else bySeq.get(seq)?.replies.push(d);
    }
  }

  /** A TransportFactory for ConntrackClient.open({ transport }). */
  factory = (opts: TransportOptions): Transport => new ReplayTransport(this, opts);
}

class ReplayTransport implements Transport {
  readonly portid = 4242;
  private cb: ((items: ReceiveItem[]) => void) | undefined;
  private closed = false;
  constructor(private readonly replay: Replay, private readonly opts: TransportOptions) {}

  onReceive(cb: (items: ReceiveItem[]) => void): void {
    this.cb = cb;
    if (this.opts.groups?.length) {
      const events = this.replay.events;
      setImmediate(() => !this.closed && this.cb?.(events.map((data) => ({ data, pid: 0, groups: 1, truncated: false }))));
    }
  }

  send(datagram: Uint8Array): void {
    this.replay.sent.push(new Uint8Array(datagram));
    const type = u16(datagram, 4);
    const flags = u16(datagram, 6) & ~NLM_F_ACK;
    const seq = u32(datagram, 8);
    const x = this.replay.exchanges.find((e) => !e.used && e.type === type && (e.flags & ~NLM_F_ACK) === flags);
    if (!x) throw new Error(`replay: no recorded answer for request type 0x${type.toString(16)} flags 0x${flags.toString(16)}`);
    x.used = true;
    const replies = x.replies.map((r) => {
      const c = new Uint8Array(r);
      const v = new DataView(c.buffer);
      for (let off = 0; off + 16 <= c.length; off += (v.getUint32(off, true) + 3) & ~3) {
        v.setUint32(off + 8, seq, true);
        v.setUint32(off + 12, this.portid, true);
        if (v.getUint16(off + 4, true) === 2 && off + 36 <= c.length) v.setUint32(off + 28, seq, true); // echoed request seq
        if (v.getUint32(off, true) < 16) break;
      }
      return { data: c, pid: 0, groups: 0, truncated: false };
    });
    setImmediate(() => !this.closed && this.cb?.(replies));
  }

  pause(): void {}
  resume(): void {}
  close(): void {
    this.closed = true;
  }
}
