/**
 * Live commands: watch (events), dump (table, optionally followed by events without a
 * gap) and stats. Each opens a client in the chosen namespace and records raw datagrams
 * to a pcap file when --write is given.
 */
import { readFileSync } from 'node:fs';
import { ConntrackClient, type EntryRecord } from '../client/client.js';
import type { Subscription } from '../client/events.js';
import { dumpRequest, dyingRequest, expectStatsCpuRequest, unconfirmedRequest } from '../ctnetlink/requests.js';
import type { LeanWriter } from './lean.js';
import type { Session } from './session.js';
import { statsLines } from './formats.js';
import { requesterPortids } from './progname.js';
import type { Recording } from './recording.js';

/**
 * Opens the client, then (--write) the capture: the output is created only once the
 * sockets are open (see recording.ts).
 */
async function openClient(s: Session): Promise<{ client: ConntrackClient; pcap: Recording | undefined }> {
  // The capture writer loads only with --write (start-up, issue 14).
  const pcap = s.opts.write !== undefined ? (await import('./recording.js')).prepareRecording(s) : undefined;
  const record = pcap ? (d: Uint8Array, ts: bigint) => pcap.record(d, ts) : undefined;
  s.recorder = record;
  const client = await ConntrackClient.open({
    ...(s.opts.netns !== undefined ? { netns: s.opts.netns } : {}),
    ...(s.opts.bufferSize !== undefined ? { receiveBufferSize: s.opts.bufferSize } : {}),
    ...(s.opts.backlogSize !== undefined ? { receiveThreadBuffer: s.opts.backlogSize } : {}),
    ...(record ? { onDatagram: record } : {}),
  });
  try {
    pcap?.open();
  } catch (e) {
    await client.close();
    throw e;
  }
  return { client, pcap };
}

/** The lean print path (cli/lean.ts) and its writer, for a run it serves. */
interface Lean {
  mod: typeof import('./lean.js');
  writer: LeanWriter;
}

/** The lean path is loaded only by the formats it serves (start-up, issue 14). */
async function leanPath(s: Session): Promise<Lean | undefined> {
  if (s.formatName !== 'json' && s.formatName !== 'conntrack') return undefined;
  const mod = await import('./lean.js');
  const writer = mod.leanWriterFor(s);
  return writer ? { mod, writer } : undefined;
}

/** Print subscription items until the session stops or the subscription ends. */
async function pump(s: Session, sub: Subscription, lean?: Lean): Promise<void> {
  const stopped = new Promise<void>((res) => s.stop.signal.addEventListener('abort', () => res(), { once: true }));
  while (!s.stop.signal.aborted) {
    await Promise.race([sub.wait(), stopped]);
    if (s.stop.signal.aborted) break;
    const items = sub.drain();
    if (items.length === 0 && sub.isEnded) break;
    for (const it of items) {
      if (it.kind === 'batch') {
        if (lean!.mod.printEventBatch(s, lean!.writer, it)) break;
      } else if (it.kind === 'datagram') {
        if (lean!.mod.printEventDatagram(s, lean!.writer, it.data, it.receivedNs)) break;
      } else if (it.kind === 'event') {
        if (!s.filter.match(it.conntrack)) continue;
        if (s.record(it.message, it.receivedNs, it.type)) break;
      } else if (it.kind === 'overrun') {
        s.overrun(it.lost, it.receivedNs, it.source);
      } else if (it.kind === 'expect') {
        if (!s.filter.empty && !s.filter.matchExpect(it.expect)) continue;
        if (s.record(it.message, it.receivedNs, 'expect')) break;
      } else if (it.kind === 'netns-gone') {
        s.warn(`ctevents: network namespace ${s.opts.netns ?? ''} was deleted; no new process can enter it, listening on to what is still inside`);
      } else if (it.kind === 'decode-error') {
        s.warn(`ctevents: undecodable datagram skipped: ${it.error.message}`);
      }
    }
    await s.out.flush();
  }
  // Drops counted after the last batch (by the kernel, or by the receive thread's backlog
  // whose marker did not come through) still belong in the summary.
  sub.drain(); // what arrived after the stop is not printed
  sub.checkAllDrops();
  for (const it of sub.drain()) if (it.kind === 'overrun') s.overrun(it.lost, it.receivedNs, it.source);
  await s.out.flush();
}

/** The subscription a run asks for: conntrack events of --events, or (--expect) expectation events. */
function subscribe(s: Session, client: ConntrackClient, lean?: Lean): Subscription {
  const rec = s.recorder;
  const portids = s.portids;
  // Name the requester of an event as soon as its datagram arrives (see progname.ts).
  const onDatagram = portids
    ? (d: Uint8Array, ts: bigint) => {
        requesterPortids(d, portids.prime);
        rec?.(d, ts);
      }
    : undefined;
  // The addon names requesters sooner still, on its receive thread (see progname.ts).
  const extra = { ...(onDatagram ? { onDatagram } : {}), ...(portids ? { programNames: true } : {}), ...(lean ? { raw: true, batches: true } : {}) };
  const sub = s.opts.expect ? client.events({ types: [], expectations: true, ...extra }) : client.events({ types: s.opts.events, ...extra });
  portids?.attach((p, w) => sub.programName(p, w));
  return sub;
}

export async function watch(s: Session): Promise<number> {
  let failed = true;
  const { client, pcap } = await openClient(s);
  try {
    const lean = await leanPath(s);
    const sub = subscribe(s, client, lean);
    s.startLive();
    await pump(s, sub, lean);
    sub.close();
    failed = false;
  } finally {
    await client.close();
    pcap?.close();
    // A run that never started (no privilege, no namespace) ends with its error alone.
    if (!failed) await s.finish('events');
  }
  return 0;
}

export async function dump(s: Session): Promise<number> {
  const { client, pcap } = await openClient(s);
  let sub: Subscription | undefined;
  let failed = true;
  try {
    const lean = await leanPath(s);
    // Subscribe before dumping so that no change between the two is missed.
    if (s.opts.follow) sub = subscribe(s, client, lean);
    const now = BigInt(Date.now()) * 1_000_000n;
    try {
      outer: for await (const batch of lean ? leanDumpSource(s, client, lean, now) : dumpSource(s, client)) {
        // Each entry is printed in the message the kernel sent (its own header and nfgenmsg).
        for (const m of batch) {
          if (!s.filter.match(m.conntrack)) continue;
          if (s.record(m, now, 'entries')) break outer;
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
      await pump(s, sub, lean);
    }
    failed = false;
  } catch (e) {
    if (!s.stop.signal.aborted) throw e;
    failed = false;
  } finally {
    sub?.close();
    await client.close();
    pcap?.close();
    if (!failed) await s.finish(s.opts.follow ? 'events' : 'entries');
  }
  return 0;
}

/** The entries a dump reads: the table (filtered in the kernel, --zero), or the dying or unconfirmed list. */
async function* dumpSource(s: Session, client: ConntrackClient): AsyncGenerator<EntryRecord[]> {
  const family = s.filter.kernel.family ?? 0;
  const opts = { signal: s.stop.signal };
  if (s.opts.dying || s.opts.unconfirmed) {
    yield* client.listRecords(s.opts.dying ? 'dying' : 'unconfirmed', family, opts);
    return;
  }
  yield* client.dumpRecords(s.filter.empty ? undefined : s.filter.kernel, { ...opts, ...(s.opts.zero ? { zero: true } : {}) });
}

/**
 * dumpSource on the lean path (cli/lean.ts): the entries are printed as they arrive
 * (dumpPrinter); the batches handed to the loop are empty (it only waits for the output).
 */
async function* leanDumpSource(s: Session, client: ConntrackClient, lean: Lean, now: bigint): AsyncGenerator<EntryRecord[]> {
  const family = s.filter.kernel.family ?? 0;
  const opts = { signal: s.stop.signal };
  const at = lean.mod.dumpPrinter(s, lean.writer, now);
  const req = s.opts.dying ? dyingRequest(family) : s.opts.unconfirmed ? unconfirmedRequest(family) : dumpRequest(undefined, s.opts.zero ? { zero: true } : {});
  const op = s.opts.dying ? 'dump dying list' : s.opts.unconfirmed ? 'dump unconfirmed list' : 'dump';
  const none: EntryRecord[] = [];
  for await (const _ of client.dumpMapped(req, op, at, opts)) yield none;
}

/** dump --expect: the expectation table (conntrack -L expect). */
export async function dumpExpect(s: Session): Promise<number> {
  const { client, pcap } = await openClient(s);
  let failed = true;
  try {
    const now = BigInt(Date.now()) * 1_000_000n;
    outer: for await (const batch of client.expectationRecords(s.filter.kernel.family ?? 0, undefined, { signal: s.stop.signal })) {
      for (const m of batch) {
        if (!s.filter.matchExpect(m.expect)) continue;
        if (s.record(m, now, 'expect')) break outer;
        if (s.out.blocked) await s.out.flush();
      }
    }
    failed = false;
  } catch (e) {
    if (!s.stop.signal.aborted) throw e;
    failed = false;
  } finally {
    await client.close();
    pcap?.close();
    if (!failed) await s.finish('expectations');
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
  const { client, pcap } = await openClient(s);
  try {
    if (s.opts.expect) {
      // conntrack -S expect: the expectation counters per CPU, printed like read prints them.
      for await (const ms of client.dumpMessages(expectStatsCpuRequest(), 'expectation stats')) for (const m of ms) s.print(m);
      s.endDocument();
      await s.out.flush();
      return 0;
    }
    const replies = await client.statsMessages();
    const buckets = readNumber('/proc/sys/net/netfilter/nf_conntrack_buckets');
    for (const line of statsLines(s.formatName, replies, buckets)) s.out.line(line);
    await s.out.flush();
  } finally {
    await client.close();
    pcap?.close();
  }
  return 0;
}
