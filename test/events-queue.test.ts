// The subscription queue (src/client/events.ts) over a fake transport: bounded in bytes,
// receive times per datagram, both kinds of overrun kept apart, the netns-gone notice.
import { describe, expect, it } from 'vitest';
import { Subscription } from '../src/client/events.js';
import type { ReceiveItem, Transport } from '../src/client/transport.js';
import { IPCTNL_MSG_CT_NEW } from '../src/ctnetlink/constants.js';
import { NFNL_SUBSYS_CTNETLINK } from '../src/nfnetlink/constants.js';

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A NEW event datagram of `size` bytes (a CTA_MARK, then padding in an unknown attribute). */
function eventDatagram(size: number): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, size, LE);
  v.setUint16(4, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, LE);
  v.setUint16(6, 0x400 | 0x200, LE); // NLM_F_CREATE | NLM_F_EXCL
  b[16] = 2; // nfgenmsg: AF_INET
  // one attribute covering the rest: type 200 (unknown, kept raw)
  v.setUint16(20, size - 20, LE);
  v.setUint16(22, 200, LE);
  return b;
}

class FakeTransport implements Transport {
  readonly portid = 1;
  cb: ((items: ReceiveItem[]) => void) | undefined;
  pauses = 0;
  resumes = 0;
  gone = false;
  kernelDrops = 0;
  send(): void {}
  onReceive(cb: (items: ReceiveItem[]) => void): void {
    this.cb = cb;
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
  close(): void {}
  drops(): number {
    return this.kernelDrops;
  }
  namespaceGone(): boolean {
    return this.gone;
  }
}

describe('subscription queue', () => {
  it('pauses delivery by bytes queued, not by items', () => {
    const t = new FakeTransport();
    const sub = new Subscription(t, { highWaterBytes: 10_000 });
    t.cb!(Array.from({ length: 9 }, () => ({ data: eventDatagram(1000), pid: 0, groups: 1, truncated: false })));
    expect(t.pauses).toBe(0);
    t.cb!([{ data: eventDatagram(1000), pid: 0, groups: 1, truncated: false }]);
    expect(t.pauses).toBe(1);
    expect(sub.drain().filter((i) => i.kind === 'event')).toHaveLength(10);
    expect(t.resumes).toBe(1);
    // Small datagrams: many more items before the same bound.
    t.cb!(Array.from({ length: 200 }, () => ({ data: eventDatagram(48), pid: 0, groups: 1, truncated: false })));
    expect(t.pauses).toBe(1);
    sub.close();
  });

  it('gives each item its datagram receive time and keeps kernel and buffer loss apart', () => {
    const t = new FakeTransport();
    const sub = new Subscription(t, { netnsCheckMs: 0 });
    t.kernelDrops = 0;
    t.cb!([
      { data: eventDatagram(64), pid: 0, groups: 1, truncated: false, timestampNs: 1_700_000_000_123_456_789n },
      { overrun: true, source: 'buffer', lost: 7, timestampNs: 1_700_000_000_200_000_000n },
      { data: eventDatagram(64), pid: 0, groups: 1, truncated: false, timestampNs: 1_700_000_000_300_000_001n },
    ]);
    t.kernelDrops = 5;
    t.cb!([{ overrun: true, source: 'kernel', timestampNs: 1_700_000_000_400_000_000n }]);
    const items = sub.drain();
    expect(items.map((i) => [i.kind, i.receivedNs])).toEqual([
      ['event', 1_700_000_000_123_456_789n],
      ['overrun', 1_700_000_000_200_000_000n],
      ['event', 1_700_000_000_300_000_001n],
      ['overrun', 1_700_000_000_400_000_000n],
    ]);
    expect(items[1]).toMatchObject({ kind: 'overrun', source: 'buffer', lost: 7 });
    expect(items[3]).toMatchObject({ kind: 'overrun', source: 'kernel', lost: 5 });
    sub.close();
  });

  it('reports a deleted namespace once', async () => {
    const t = new FakeTransport();
    const sub = new Subscription(t, { netnsCheckMs: 10 });
    await new Promise((r) => setTimeout(r, 40));
    expect(sub.drain()).toEqual([]);
    t.gone = true;
    await sub.wait();
    await new Promise((r) => setTimeout(r, 40));
    expect(sub.drain().map((i) => i.kind)).toEqual(['netns-gone']);
    sub.close();
  });

  it('does not poll a transport in the caller\'s own namespace (watchesNamespace false)', async () => {
    const t = new (class extends FakeTransport {
      readonly watchesNamespace = false;
      polls = 0;
      override namespaceGone(): boolean {
        this.polls++;
        return super.namespaceGone();
      }
    })();
    const sub = new Subscription(t, { netnsCheckMs: 10 });
    t.gone = true;
    await new Promise((r) => setTimeout(r, 60));
    expect(t.polls).toBe(0);
    expect(sub.drain()).toEqual([]);
    sub.close();
  });
});

describe('subscription queue, end of stream', () => {
  it('checkAllDrops reports buffer drops whose marker never came through, once', () => {
    const t = new FakeTransport() as FakeTransport & { localDrops(): number };
    let local = 0;
    t.localDrops = () => local;
    const sub = new Subscription(t, { netnsCheckMs: 0 });
    local = 12;
    t.cb!([{ overrun: true, source: 'buffer', lost: 5 }]);
    sub.drain();
    expect(sub.checkAllDrops()).toBe(7);
    expect(sub.drain()).toMatchObject([{ kind: 'overrun', source: 'buffer', lost: 7 }]);
    expect(sub.checkAllDrops()).toBe(0);
    t.kernelDrops = 3;
    expect(sub.checkAllDrops()).toBe(3);
    expect(sub.drain()).toMatchObject([{ kind: 'overrun', source: 'kernel', lost: 3 }]);
    sub.close();
  });
});
