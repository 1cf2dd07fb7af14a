/**
 * `ctevents read FILE|-`: decode a pcap or pcapng capture offline, every netlink message
 * of every NETLINK_NETFILTER record, with the same formats and filters as the live
 * commands. Needs no privilege and no native addon.
 */
import { createReadStream, statSync } from 'node:fs';
import { UsageError } from './args.js';
import { decodeDatagramItems } from '../ctnetlink/tolerant.js';
import { MalformedRecord, readNetlinkItemBatches } from '../pcap/index.js';
import { malformedLine, type MalformedItem } from './malformed.js';
import type { Session } from './session.js';

/** Date's range: ±8.64e15 ms. A timestamp outside it is printed as no time, and reported. */
const MAX_DATE_NS = 8_640_000_000_000_000_000_000n;

/** True when the formatters can show this capture time (from the epoch to Date's end). */
export function printableTime(ns: bigint): boolean {
  return ns >= 0n && ns <= MAX_DATE_NS;
}

export async function read(s: Session): Promise<number> {
  const file = s.opts.file!;
  const source = file === '-' ? s.io.stdin : file;
  if (file !== '-') {
    // A directory is a command-line mistake: say so in the words --write uses.
    let dir = false;
    try {
      dir = statSync(file).isDirectory();
    } catch {
      /* missing or unreadable: the open below says which */
    }
    if (dir) throw new UsageError(`${file}: is a directory`);
    // Open first, so that a missing file is one clear line, not a stack trace.
    await new Promise<void>((res, rej) => {
      const st = createReadStream(file);
      st.once('open', () => {
        st.destroy();
        res();
      });
      st.once('error', rej);
    });
  }
  let bad = 0;
  const events = new Set<string>(s.opts.events);
  if (!s.opts.eventsGiven) events.add('update');
  let fatal: MalformedItem | undefined;
  const report = (m: MalformedItem): void => {
    bad++;
    if (m.fatal) fatal = m;
    const line = malformedLine(s.formatName, file, m);
    if (line.stdout !== undefined) s.out.line(line.stdout);
    if (line.stderr !== undefined) {
      // The lines before it first, so that a terminal shows them in order.
      void s.out.flush();
      s.warn(line.stderr);
    }
  };
  try {
    // A batch per input chunk: its records are decoded and printed in one go; lines go out
    // in 64 KiB chunks, and whenever the loop waits for input.
    outer: for await (const batch of readNetlinkItemBatches(source)) {
      for (const rec of batch) {
        if (rec instanceof MalformedRecord) {
          report({ index: rec.index, fileOffset: rec.fileOffset, reason: rec.reason, fatal: rec.fatal });
          continue;
        }
        let ts: bigint | undefined = rec.timestampNs;
        if (!printableTime(ts)) {
          report({ index: rec.index, fileOffset: rec.fileOffset, reason: `timestamp ${ts} ns is outside the range of a date; its messages are shown without a time`, fatal: false });
          ts = undefined;
        }
        for (const m of decodeDatagramItems(rec.data)) {
          if (m.kind === 'malformed') {
            const rest = m.rest ? ' (and the rest of the datagram)' : '';
            report({ index: rec.index, fileOffset: rec.fileOffset, reason: `message at byte ${m.offset} of the datagram${rest}: ${m.error.message}`, fatal: false });
            continue;
          }
          s.messages++;
          // --events selects event types (entries, statistics and control messages are not events).
          let kind = 'other';
          if (m.kind === 'conntrack') {
            if (!s.filter.match(m.conntrack)) continue;
            if (m.event && !events.has(m.event)) continue;
            kind = m.event ?? 'entries';
          } else if (m.kind === 'expect') {
            if (!s.filter.empty && !s.filter.matchExpect(m.expect)) continue;
            if (m.event && !events.has(m.event)) continue;
            kind = 'expect';
          }
          // --count N: the first N printed lines.
          if (s.record(m, ts, kind)) break outer;
        }
        if (s.stop.signal.aborted) break outer;
      }
      // Wait here only when the output asked us to.
      if (s.out.blocked) await s.out.flush();
    }
  } finally {
    // Also when the capture turns out malformed: the records before the fault are printed.
    await s.out.flush();
  }
  let extra = `${bad} malformed`;
  if (fatal !== undefined) extra += `; the read ended early at file offset ${fatal.fileOffset}: ${fatal.reason}`;
  await s.finish('messages', extra);
  return bad > 0 ? 1 : 0;
}
