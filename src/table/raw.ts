/**
 * Raw-datagram plumbing for the mirror: a dump and an event subscription whose datagrams
 * go straight through the lean decoder (ctnetlink/compact.ts) into a callback, with no
 * model objects and no queue. Both run on transports from ConntrackClient.openTransport,
 * so they live in the client's namespace and close with it.
 *
 * Dump: one IPCTNL_MSG_CT_GET with NLM_F_REQUEST|NLM_F_DUMP on its own socket (read ahead
 * on the addon's receive thread, lossless); replies with our seq are entries until
 * NLMSG_DONE (or NLMSG_ERROR).
 * Events: NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY; an ENOBUFS item, or a rise of the
 * kernel's drop counter for the socket after a batch, is reported as an overrun with the
 * number of messages lost (when the transport can tell).
 */
import { CompactEntry, COMPACT_CONNTRACK, COMPACT_DONE, COMPACT_ERROR, decodeCompactDatagram } from '../ctnetlink/compact.js';
import { encodeMessage } from '../ctnetlink/message.js';
import { dumpRequest } from '../ctnetlink/requests.js';
import { NLM_F_DUMP } from '../netlink/constants.js';
import { NetlinkError } from '../netlink/errors.js';
import { NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE } from '../nfnetlink/constants.js';
import type { ConntrackClient } from '../client/client.js';
import type { Transport } from '../client/transport.js';

let seqCounter = (Date.now() & 0x3fffffff) >>> 0;

/** Dump the whole table, calling onEntry for each entry (the record is reused). */
export function rawDump(client: ConntrackClient, onEntry: (e: CompactEntry) => void): { done: Promise<void>; cancel(): void } {
  const t = client.openTransport({ receiveBufferSize: 4 * 1024 * 1024, batchBytes: 64 * 1024, readAhead: true });
  const seq = (seqCounter = (seqCounter + 1) >>> 0 || 1);
  const e = new CompactEntry();
  let finish!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    let ended = false;
    finish = (err?: Error) => {
      if (ended) return;
      ended = true;
      t.close();
      if (err) reject(err);
      else resolve();
    };
  });
  const sink = (m: CompactEntry) => {
    if (m.seq !== seq) return;
    if (m.kind === COMPACT_CONNTRACK) onEntry(m);
    else if (m.kind === COMPACT_DONE || m.kind === COMPACT_ERROR) {
      finish(m.error === 0 ? undefined : new NetlinkError(m.error, seq, undefined, 'table dump'));
    }
  };
  t.onReceive(
    (items) => {
      for (const item of items) {
        if ('overrun' in item) continue;
        try {
          decodeCompactDatagram(item.data, e, sink);
        } catch (err) {
          finish(err as Error);
          return;
        }
      }
    },
    (err) => finish(err),
  );
  const req = dumpRequest();
  try {
    t.send(encodeMessage({ ...req, header: { ...req.header, flags: req.header.flags | NLM_F_DUMP, seq, pid: 0 } }));
  } catch (err) {
    finish(err as Error);
  }
  return { done, cancel: () => finish(new Error('dump cancelled')) };
}

export interface RawEventHandlers {
  /** One decoded event (the record is reused). */
  event(e: CompactEntry): void;
  /** Messages were lost (`lost` from the kernel's drop counter, when known). */
  overrun(lost: number | undefined): void;
  /** A datagram that did not decode. */
  decodeError(err: Error): void;
  /** The socket failed; no more events. */
  error(err: Error): void;
}

/** Subscribe to NEW/UPDATE/DESTROY and feed the lean decoder. Returns the transport (close it to stop). */
export function rawEvents(client: ConntrackClient, h: RawEventHandlers, receiveBufferSize?: number, receiveThreadBuffer?: number): Transport {
  const t = client.openTransport({
    groups: [NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY],
    ...(receiveBufferSize !== undefined ? { receiveBufferSize } : {}),
    ...(receiveThreadBuffer !== undefined ? { receiveThread: receiveThreadBuffer } : {}),
  });
  let lastDrops = t.drops?.() ?? 0;
  const takeDrops = (): number | undefined => {
    const d = t.drops?.();
    if (d === undefined) return undefined;
    const lost = (d - lastDrops) >>> 0;
    lastDrops = d;
    return lost;
  };
  const e = new CompactEntry();
  const sink = (m: CompactEntry) => {
    if (m.kind === COMPACT_CONNTRACK && m.event !== 0) h.event(m);
  };
  t.onReceive(
    (items) => {
      for (const item of items) {
        if ('overrun' in item) {
          // The receive thread's own backlog discarded `lost` messages; the kernel's drops
          // are read from its counter.
          h.overrun(item.source === 'buffer' ? item.lost : takeDrops());
          continue;
        }
        try {
          decodeCompactDatagram(item.data, e, sink);
        } catch (err) {
          h.decodeError(err as Error);
        }
      }
      const lost = takeDrops();
      if (lost) h.overrun(lost);
    },
    (err) => h.error(err),
  );
  return t;
}
