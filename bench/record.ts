/**
 * Records a capture of real kernel conntrack events for the decode benchmark: in a
 * throwaway namespace, a subscription (NEW + DESTROY) writes every received datagram to a
 * pcap file through onDatagram -> PcapWriter, while the C sender creates flows and a flush
 * destroys them, in rounds of at most 250,000 flows (nf_conntrack_max is 262,144; nothing
 * global is changed).
 */
import { ConntrackClient } from '../src/client/client.js';
import { openPcapFile } from '../src/pcap/index.js';
import { createNetns, flood, sleep, type BenchNetns } from './util.js';

export interface RecordResult {
  path: string;
  datagrams: number;
  bytes: number;
  new: number;
  destroy: number;
  overruns: number;
  lost: number;
  seconds: number;
  rounds: { flows: number; floodPerSecond: number; new: number; destroy: number }[];
}

/** A big receive buffer: recording must not lose events (this is not the benchmark). */
const RECORD_BUFFER = 512 * 1024 * 1024;

export async function recordCapture(path: string, totalFlows: number, perRound = 250_000): Promise<RecordResult> {
  const t0 = performance.now();
  const ns: BenchNetns = createNetns('rec');
  const file = await openPcapFile(path);
  const ct = await ConntrackClient.open({ netns: ns.name });
  let datagrams = 0;
  let needDrain = false;
  const sub = ct.events({
    types: ['new', 'destroy'],
    receiveBufferSize: RECORD_BUFFER,
    onDatagram: (d, ts) => {
      datagrams++;
      if (!file.writer.writeDatagram(d, ts)) needDrain = true;
    },
  });
  const counts = { new: 0, destroy: 0, overruns: 0, lost: 0 };
  let running = true;
  const consumer = (async () => {
    while (running || !sub.isEnded) {
      const items = sub.drain();
      for (const it of items) {
        if (it.kind === 'event') {
          if (it.type === 'new') counts.new++;
          else if (it.type === 'destroy') counts.destroy++;
        } else if (it.kind === 'overrun') {
          counts.overruns++;
          counts.lost += it.lost ?? 0;
        }
      }
      if (needDrain) {
        needDrain = false;
        await file.drain();
      }
      if (items.length === 0) {
        if (!running) break;
        await sub.wait();
      }
    }
  })();

  /** Wait until `get()` reaches `want`, or nothing moved for 3 s. */
  const until = async (get: () => number, want: number) => {
    let last = -1;
    let still = 0;
    while (get() < want && still < 30) {
      await sleep(100);
      const v = get();
      still = v === last ? still + 1 : 0;
      last = v;
    }
  };

  const rounds: RecordResult['rounds'] = [];
  try {
    for (let done = 0; done < totalFlows; done += perRound) {
      const n = Math.min(perRound, totalFlows - done);
      const new0 = counts.new;
      const destroy0 = counts.destroy;
      const f = await flood(ns, n, 0, 0);
      await until(() => counts.new - new0, n);
      await ct.flush();
      await until(() => counts.destroy - destroy0, n);
      rounds.push({ flows: n, floodPerSecond: f.perSecond, new: counts.new - new0, destroy: counts.destroy - destroy0 });
    }
  } finally {
    running = false;
    sub.close();
    await consumer;
    await ct.close();
    await file.close();
    ns.remove();
  }
  return {
    path,
    datagrams,
    bytes: file.writer.bytesWritten,
    ...counts,
    seconds: (performance.now() - t0) / 1000,
    rounds,
  };
}
