/**
 * The mirror's event path on one core, without a kernel: NEW and DESTROY datagrams as the
 * kernel sends them (built with our encoder, 40 events per datagram like a busy socket
 * read), fed through a ConntrackTable over an in-memory transport.
 *
 *   node build/bench/mirror-cpu.js [EVENTS]      (default 1,000,000 NEW then as many DESTROY)
 *
 * Prints {"events":N,"seconds":S,"perSecond":R,"size":...}.
 */
import { ConntrackClient } from '../src/client/client.js';
import type { Transport, TransportOptions, ReceiveItem } from '../src/client/transport.js';
import { encodeMessages } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLMSG_DONE } from '../src/netlink/constants.js';
import { ConntrackTable } from '../src/table/table.js';

const N = Number(process.argv[2] ?? 1_000_000);
const PER = 40;

function event(i: number, destroy: boolean): Message {
  const src = `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
  const sport = 1024 + (i % 60000);
  return {
    kind: 'conntrack',
    header: { type: (1 << 8) | (destroy ? 2 : 0), flags: destroy ? 0 : NLM_F_CREATE | NLM_F_EXCL, seq: 0, pid: 0 },
    nfgen: { family: 2, version: 0, resId: 0 },
    event: destroy ? 'destroy' : 'new',
    conntrack: {
      family: 2,
      orig: { src, dst: '192.0.2.1', proto: 17, srcPort: sport, dstPort: 53 },
      reply: { src: '192.0.2.1', dst: src, proto: 17, srcPort: 53, dstPort: sport },
      status: 8,
      ...(destroy ? {} : { timeout: 30 }),
      id: i + 1,
    },
  };
}

function datagrams(destroy: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < N; i += PER) {
    const ms: Message[] = [];
    for (let j = i; j < Math.min(N, i + PER); j++) ms.push(event(j, destroy));
    out.push(encodeMessages(ms));
  }
  return out;
}

const news = datagrams(false);
const destroys = datagrams(true);
let eventSink: ((items: ReceiveItem[]) => void) | undefined;
const factory = (o: TransportOptions): Transport => {
  let cb: ((items: ReceiveItem[]) => void) | undefined;
  const t: Transport = {
    portid: 1,
    send(d: Uint8Array) {
      // A dump request: answer DONE at once (the table starts empty).
      const seq = new DataView(d.buffer, d.byteOffset).getUint32(8, true);
      const done = new Uint8Array(20);
      const v = new DataView(done.buffer);
      v.setUint32(0, 20, true);
      v.setUint16(4, NLMSG_DONE, true);
      v.setUint32(8, seq, true);
      queueMicrotask(() => cb?.([{ data: done, pid: 0, groups: 0, truncated: false } as ReceiveItem]));
    },
    onReceive(f) {
      cb = f;
      if (o.groups) eventSink = f;
    },
    pause() {},
    resume() {},
    close() {},
  };
  return t;
};
const client = await ConntrackClient.open({ transport: factory });
const table = await ConntrackTable.open(client, { timeouts: {} });
const run = (list: Uint8Array[]) => {
  for (let i = 0; i < list.length; i += 64) {
    eventSink!(list.slice(i, i + 64).map((data) => ({ data, pid: 0, groups: 1, truncated: false }) as ReceiveItem));
  }
};
const t0 = performance.now();
run(news);
const t1 = performance.now();
const size = table.size;
run(destroys);
const t2 = performance.now();
const s = (t2 - t0) / 1000;
process.stdout.write(JSON.stringify({ events: 2 * N, seconds: s, perSecond: Math.round((2 * N) / s), newPerSecond: Math.round(N / ((t1 - t0) / 1000)), destroyPerSecond: Math.round(N / ((t2 - t1) / 1000)), sizeAfterNew: size, sizeAfterDestroy: table.size }) + '\n');
table.close();
await client.close();
