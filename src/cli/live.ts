/**
 * Live commands: watch (events), dump (table, optionally followed by events without a
 * gap) and stats. Each opens a client in the chosen namespace and records raw datagrams
 * to a pcap file when --write is given.
 */
import { readFileSync } from 'node:fs';
import { ConntrackClient } from '../client/client.js';
import type { Subscription } from '../client/events.js';
import { NFNL_SUBSYS_CTNETLINK } from '../nfnetlink/constants.js';
import { nfType, type NfGenMsg } from '../nfnetlink/header.js';
import { IPCTNL_MSG_CT_NEW } from '../ctnetlink/constants.js';
import { NLM_F_MULTI } from '../netlink/constants.js';
import { openPcapFile, type PcapFile } from '../pcap/index.js';
import type { Session } from './session.js';
import { statsLines } from './formats.js';

async function openRecording(s: Session): Promise<PcapFile | undefined> {
  if (s.opts.write === undefined) return undefined;
  return openPcapFile(s.opts.write);
}

async function openClient(s: Session, pcap: PcapFile | undefined): Promise<ConntrackClient> {
  return ConntrackClient.open({
    ...(s.opts.netns !== undefined ? { netns: s.opts.netns } : {}),
    ...(s.opts.bufferSize !== undefined ? { receiveBufferSize: s.opts.bufferSize } : {}),
    ...(pcap ? { onDatagram: (d: Uint8Array, ts: bigint) => void pcap.writer.writeDatagram(d, ts) } : {}),
  });
}

/** Header of a dump reply, for printing entries the way `read` prints recorded ones. */
const DUMP_HEADER = { type: nfType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW), flags: NLM_F_MULTI, seq: 0, pid: 0 };

const NFGEN_INET = { family: 2, version: 0, resId: 0 };
const NFGEN_INET6 = { family: 10, version: 0, resId: 0 };

/** The nfgenmsg of a message about an entry of `family` (shared objects for IPv4 and IPv6). */
function nfgenOf(family: number): NfGenMsg {
  return family === 2 ? NFGEN_INET : family === 10 ? NFGEN_INET6 : { family, version: 0, resId: 0 };
}

/** Print subscription items until the session stops or the subscription ends. */
async function pump(s: Session, sub: Subscription): Promise<void> {
  const stopped = new Promise<void>((res) => s.stop.signal.addEventListener('abort', () => res(), { once: true }));
  while (!s.stop.signal.aborted) {
    await Promise.race([sub.wait(), stopped]);
    if (s.stop.signal.aborted) break;
    const items = sub.drain();
    if (items.length === 0 && sub.isEnded) break;
    for (const it of items) {
      if (it.kind === 'event') {
        if (!s.filter.match(it.conntrack)) continue;
        s.print(it.message, it.receivedNs);
        if (s.countEvent(it.type)) break;
      } else if (it.kind === 'overrun') {
        s.overrun(it.lost, it.receivedNs);
      } else if (it.kind === 'expect') {
        s.print(it.message, it.receivedNs);
      } else if (it.kind === 'decode-error') {
        s.io.stderr.write(`ctevents: undecodable datagram skipped: ${it.error.message}\n`);
      }
    }
    await s.out.flush();
  }
  // Drops counted by the kernel after the last batch still belong in the summary.
  const tail = sub.checkDrops();
  if (tail > 0) s.overrun(tail, BigInt(Date.now()) * 1_000_000n);
  await s.out.flush();
}

export async function watch(s: Session): Promise<number> {
  const pcap = await openRecording(s);
  let failed = true;
  const client = await openClient(s, pcap).catch(async (e) => {
    await pcap?.close();
    throw e;
  });
  try {
    const sub = client.events({ types: s.opts.events });
    s.startLive();
    await pump(s, sub);
    sub.close();
    failed = false;
  } finally {
    await client.close();
    await pcap?.close();
    // A run that never started (no privilege, no namespace) ends with its error alone.
    if (!failed) s.summary('events');
  }
  return 0;
}

export async function dump(s: Session): Promise<number> {
  const pcap = await openRecording(s);
  const client = await openClient(s, pcap).catch(async (e) => {
    await pcap?.close();
    throw e;
  });
  let sub: Subscription | undefined;
  let failed = true;
  try {
    // Subscribe before dumping so that no change between the two is missed.
    if (s.opts.follow) sub = client.events({ types: s.opts.events });
    const now = BigInt(Date.now()) * 1_000_000n;
    try {
      for await (const batch of client.dumpBatches(s.filter.empty ? undefined : s.filter.kernel, { signal: s.stop.signal })) {
        for (const ct of batch) {
          if (!s.filter.match(ct)) continue;
          s.counts.entries++;
          s.print({ kind: 'conntrack', header: DUMP_HEADER, nfgen: nfgenOf(ct.family), conntrack: ct }, now);
        }
        // Lines go out in 64 KiB chunks (and whenever the loop waits for the kernel); wait
        // here only when the output asked us to.
        if (s.out.blocked) await s.out.flush();
        if (s.stop.signal.aborted) break;
      }
    } finally {
      // The table is out before anything else is said (events, errors, the summary).
      await s.out.flush();
    }
    if (sub && !s.stop.signal.aborted) {
      s.startLive();
      await pump(s, sub);
    }
    failed = false;
  } catch (e) {
    if (!s.stop.signal.aborted) throw e;
    failed = false;
  } finally {
    sub?.close();
    await client.close();
    await pcap?.close();
    if (!failed) s.summary(s.opts.follow ? 'events' : 'entries');
  }
  return 0;
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

export async function stats(s: Session): Promise<number> {
  const pcap = await openRecording(s);
  const client = await openClient(s, pcap).catch(async (e) => {
    await pcap?.close();
    throw e;
  });
  try {
    const [global, cpus] = await Promise.all([client.stats(), client.statsPerCpu()]);
    const buckets = readNumber('/proc/sys/net/netfilter/nf_conntrack_buckets');
    for (const line of statsLines(s.formatName, global, cpus, buckets)) s.out.line(line);
    await s.out.flush();
  } finally {
    await client.close();
    await pcap?.close();
  }
  return 0;
}
