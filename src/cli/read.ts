/**
 * `ctevents read FILE|-`: decode a pcap or pcapng capture offline, every netlink message
 * of every NETLINK_NETFILTER record, with the same formats and filters as the live
 * commands. Needs no privilege and no native addon.
 */
import { createReadStream } from 'node:fs';
import { decodeDatagram } from '../ctnetlink/message.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { readNetlinkDatagrams } from '../pcap/index.js';
import type { Session } from './session.js';

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
  outer: for await (const rec of readNetlinkDatagrams(source)) {
    let ms;
    try {
      ms = decodeDatagram(rec.data);
    } catch (e) {
      if (!(e instanceof NetlinkDecodeError)) throw e;
      bad++;
      s.io.stderr.write(`ctevents: ${file}: record ${rec.index + 1} (file offset ${rec.fileOffset}): ${e.message}\n`);
      continue;
    }
    for (const m of ms) {
      s.counts.messages++;
      if (m.kind === 'conntrack') {
        if (!s.filter.match(m.conntrack)) continue;
        if (m.event) {
          s.print(m, rec.timestampNs);
          if (s.countEvent(m.event)) break outer;
          continue;
        }
        s.counts.entries++;
      } else if (!s.filter.empty && m.kind === 'expect') {
        continue;
      }
      s.print(m, rec.timestampNs);
    }
    await s.out.flush();
    if (s.stop.signal.aborted) break;
  }
  await s.out.flush();
  s.summary('messages');
  return bad > 0 ? 1 : 0;
}
