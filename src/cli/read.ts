/**
 * `ctevents read FILE|-`: decode a pcap or pcapng capture offline, every netlink message
 * of every NETLINK_NETFILTER record, with the same formats and filters as the live
 * commands. Needs no privilege and no native addon.
 *
 * Report, skip, go on: every record that can be framed is decoded; whatever cannot be
 * used (a record, a block, one bad message of a datagram whose other messages are still
 * decoded, a timestamp no date can show) becomes an in-band malformed item where it
 * happened (see malformed.ts), and the read goes on. Only a fault that loses the framing
 * ends the read early. Any malformed item makes the exit code 1; the summary counts them.
 */
import { createReadStream } from 'node:fs';
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
  let fatal: MalformedItem | undefined;
  const report = (m: MalformedItem): void => {
    bad++;
    if (m.fatal) fatal = m;
    const line = malformedLine(s.formatName, file, m);
    if (line.stdout !== undefined) s.out.line(line.stdout);
    if (line.stderr !== undefined) {
      // The lines before it first, so that a terminal shows them in order.
      void s.out.flush();
      s.io.stderr.write(line.stderr + '\n');
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
          s.counts.messages++;
          if (m.kind === 'conntrack') {
            if (!s.filter.match(m.conntrack)) continue;
            if (m.event) {
              s.print(m, ts);
              if (s.countEvent(m.event)) break outer;
              continue;
            }
            s.counts.entries++;
          } else if (!s.filter.empty && m.kind === 'expect') {
            continue;
          }
          s.print(m, ts);
        }
        if (s.stop.signal.aborted) break outer;
      }
      // Wait here only when the output asked us to.
      if (s.out.blocked) await s.out.flush();
    }
  } finally {
    // Also when reading fails: the records before the fault are printed.
    await s.out.flush();
  }
  let extra = `${bad} malformed`;
  if (fatal !== undefined) extra += `; the read ended early at file offset ${fatal.fileOffset}: ${fatal.reason}`;
  s.summary('messages', extra);
  return bad > 0 ? 1 : 0;
}
