/**
 * `ctevents read FILE|-`: decode a pcap or pcapng capture offline, every netlink message
 * of every NETLINK_NETFILTER record, with the same formats and filters as the live
 * commands. Needs no privilege and no native addon.
 */
import { createReadStream, statSync } from 'node:fs';
import { UsageError } from './args.js';
import { decodeDatagram } from '../ctnetlink/message.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { readNetlinkDatagramBatches } from '../pcap/index.js';
import type { Session } from './session.js';

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
  try {
    // A batch per input chunk: its records are decoded and printed in one go; lines go out
    // in 64 KiB chunks, and whenever the loop waits for input.
    outer: for await (const batch of readNetlinkDatagramBatches(source)) {
      for (const rec of batch) {
        let ms;
        try {
          ms = decodeDatagram(rec.data);
        } catch (e) {
          if (!(e instanceof NetlinkDecodeError)) throw e;
          bad++;
          // The lines before it first, so that a terminal shows them in order.
          void s.out.flush();
          s.warn(`ctevents: ${file}: record ${rec.index + 1} (file offset ${rec.fileOffset}): ${e.message}`);
          continue;
        }
        for (const m of ms) {
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
          if (s.record(m, rec.timestampNs, kind)) break outer;
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
  await s.finish('messages');
  return bad > 0 ? 1 : 0;
}
