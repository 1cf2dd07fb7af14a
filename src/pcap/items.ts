/**
 * Reading a netlink capture that may be damaged: report, skip, go on.
 *
 * {@link NetlinkItemParser} (synchronous, fed with chunks) and {@link readNetlinkItemBatches}
 * (streaming from a path or a stream) give, in file order, every NETLINK_NETFILTER datagram
 * the file holds and a {@link MalformedRecord} for everything else: a record or block that
 * can be framed but not used (too short for its cooked header, a hatype other than
 * ARPHRD_NETLINK, a netlink protocol other than the one wanted, a link type that is not
 * netlink, over the length bound, a missing interface...), an unknown pcapng block type,
 * an IDB option of an unexpected length. Such an item names the record number (0-based
 * `index`, absent for a non-packet block) and the byte offset, and reading goes on.
 *
 * Only a fault that loses the framing (bad magic, a truncated header or record, a block
 * length that is not a multiple of 4, a trailing length that differs) ends the read: it is
 * the last item, with `fatal` set. No PcapError escapes; file system errors pass through.
 *
 * Memory: one input chunk plus the largest record the bound allows (see bound.ts).
 */
import { PcapError } from './errors.js';
import { cookedHeaderLength, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NETLINK, netlinkProtocol, type NetlinkDatagramRecord } from './linktype.js';
import { captureChunks, CaptureParser, type CaptureSource } from './reader.js';
import { DatagramRecord, viewAt } from './record.js';

/** A record, block or option of a capture that could not be used; see the module comment. */
export class MalformedRecord {
  readonly kind = 'malformed';
  constructor(
    /** 0-based record number (tshark's frame number - 1); undefined for a non-packet block. */
    readonly index: number | undefined,
    /** Byte offset in the file of the offending structure or field. */
    readonly fileOffset: number,
    /** What is wrong. */
    readonly reason: string,
    /** The framing is lost: nothing after this item could be read. */
    readonly fatal: boolean = false,
  ) {}

  static of(e: PcapError, fatal = false): MalformedRecord {
    return new MalformedRecord(e.recordIndex, e.offset, e.reason, fatal);
  }
}

/** An item of a capture read with {@link readNetlinkItemBatches}. */
export type NetlinkItem = NetlinkDatagramRecord | MalformedRecord;

const LINKTYPE_NAMES: Record<number, string> = {
  0: 'NULL', 1: 'ETHERNET', 101: 'RAW', 105: 'IEEE802_11', 113: 'LINUX_SLL', 127: 'IEEE802_11_RADIOTAP',
  147: 'USER0', 220: 'USB_LINUX_MMAPPED', 228: 'IPV4', 229: 'IPV6', 249: 'NFLOG', 253: 'NETLINK', 276: 'LINUX_SLL2',
};

/** "LINKTYPE_ETHERNET (1)", or "link type 4242" for one without a name here. */
export function linktypeName(linktype: number): string {
  const n = LINKTYPE_NAMES[linktype];
  return n === undefined ? `link type ${linktype}` : `LINKTYPE_${n} (${linktype})`;
}

const NETLINK_PROTOCOL_NAMES: Record<number, string> = {
  0: 'ROUTE', 2: 'USERSOCK', 4: 'SOCK_DIAG', 5: 'NFLOG', 6: 'XFRM', 7: 'SELINUX', 8: 'ISCSI', 9: 'AUDIT',
  10: 'FIB_LOOKUP', 11: 'CONNECTOR', 12: 'NETFILTER', 13: 'IP6_FW', 14: 'DNRTMSG', 15: 'KOBJECT_UEVENT',
  16: 'GENERIC', 18: 'SCSITRANSPORT', 19: 'ECRYPTFS', 20: 'RDMA', 21: 'CRYPTO', 22: 'SMC',
};

/** "NETLINK_ROUTE (0)", or "netlink protocol 42". */
export function netlinkProtocolName(protocol: number): string {
  const n = NETLINK_PROTOCOL_NAMES[protocol];
  return n === undefined ? `netlink protocol ${protocol}` : `NETLINK_${n} (${protocol})`;
}

function isNetlinkLinktype(linktype: number): boolean {
  return linktype === LINKTYPE_NETLINK || linktype === LINKTYPE_LINUX_SLL || linktype === LINKTYPE_LINUX_SLL2;
}

/**
 * The synchronous core: push chunks, then {@link drain} the items they complete; {@link end}
 * once the input is exhausted. After a fatal item nothing more is read.
 */
export class NetlinkItemParser {
  private readonly parser: CaptureParser;
  private out: NetlinkItem[] = [];
  private stopped = false;

  constructor(private readonly wanted: number = 12) {
    this.parser = new CaptureParser({ onMalformed: (e) => this.out.push(MalformedRecord.of(e)) });
  }

  /** True once a fatal item has been given. */
  get done(): boolean {
    return this.stopped;
  }

  push(chunk: Uint8Array): void {
    if (!this.stopped) this.parser.push(chunk);
  }

  /** Appends the items the input so far completes to `batch` (returned). */
  drain(batch: NetlinkItem[] = []): NetlinkItem[] {
    if (this.stopped) return batch;
    this.out = batch;
    try {
      for (let r = this.parser.advance(); r !== undefined; r = this.parser.advance()) {
        let protocol: number;
        try {
          protocol = netlinkProtocol(r.linktype, r.buf, r.start, r.length, r.fileOffset, r.index);
        } catch (e) {
          if (!(e instanceof PcapError)) throw e;
          batch.push(MalformedRecord.of(e));
          continue;
        }
        if (protocol !== this.wanted) {
          const why =
            protocol >= 0
              ? `${netlinkProtocolName(protocol)} record, not ${netlinkProtocolName(this.wanted)}; skipped`
              : isNetlinkLinktype(r.linktype)
                ? `${linktypeName(r.linktype)} record of another hardware type than ARPHRD_NETLINK; skipped`
                : `${linktypeName(r.linktype)} is not a netlink link type (LINKTYPE_NETLINK, LINUX_SLL, LINUX_SLL2); record skipped`;
          batch.push(new MalformedRecord(r.index, r.fileOffset, why));
          continue;
        }
        const skip = cookedHeaderLength(r.linktype);
        const data = viewAt(r.buf, r.start + skip, r.length - skip);
        batch.push(new DatagramRecord(r.index, r.fileOffset, protocol, data, r.tsHigh, r.tsLow, r.clock));
      }
    } catch (e) {
      if (!(e instanceof PcapError)) throw e;
      batch.push(MalformedRecord.of(e, true));
      this.stopped = true;
    }
    return batch;
  }

  /** Declares the end of input; appends the fatal item of a truncated file, if any. */
  end(batch: NetlinkItem[] = []): NetlinkItem[] {
    if (this.stopped) return batch;
    this.stopped = true;
    try {
      this.parser.end();
    } catch (e) {
      if (!(e instanceof PcapError)) throw e;
      batch.push(MalformedRecord.of(e, true));
    }
    return batch;
  }
}

/**
 * Streams the items of a capture (path or byte stream) a batch per input chunk; a batch is
 * never empty. Datagram records are those of readNetlinkDatagramBatches (views into the
 * input chunks). Ends after a fatal item. Only file system errors are thrown.
 */
export async function* readNetlinkItemBatches(
  source: CaptureSource,
  opts: { protocol?: number } = {},
): AsyncGenerator<NetlinkItem[], void, undefined> {
  const p = new NetlinkItemParser(opts.protocol ?? 12);
  try {
    for await (const chunk of captureChunks(source)) {
      p.push(chunk);
      const batch = p.drain();
      if (batch.length > 0) yield batch;
      if (p.done) return;
    }
  } catch (e) {
    if (!(e instanceof PcapError)) throw e;
    yield [MalformedRecord.of(e, true)];
    return;
  }
  const last = p.end();
  if (last.length > 0) yield last;
}
