/**
 * Single-entry operations, conntrack(8)'s -G, -I and -U:
 *
 *   ctevents get    -p tcp -s A -d B --sport P --dport Q [-w ZONE] [--zero]   one entry, printed
 *   ctevents create -p tcp -s A -d B --sport P --dport Q -t SECONDS [--state S] [-u LIST] [-m MARK] [-l LABELS]
 *   ctevents update -p tcp -s A -d B --sport P --dport Q [-t SECONDS] [-m MARK[/MASK]] [-l LABELS] [-u LIST]
 *   ctevents update -s 10.0.0.0/8 -m 1                              every entry the tuple options select
 *
 * The entry is named by its original tuple (exact addresses; ports for TCP, UDP, UDP-Lite,
 * SCTP, DCCP; type/code/id for ICMP). create's reply tuple defaults to the original one
 * reversed (an ICMP echo request's reply is the echo reply). Success prints one line on
 * stderr, as conntrack does; a missing entry or an existing one is the kernel's
 * NetlinkError (ENOENT, EEXIST), reported in one line with exit code 1.
 */
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../ctnetlink/constants.js';
import type { Conntrack, Tuple } from '../ctnetlink/model.js';
import { parseIpv4, parseIpv6, formatIpv4, formatIpv6 } from '../ctnetlink/address.js';
import { parseStatus, parseTcpState } from '../ctnetlink/status.js';
import { ConntrackClient } from '../client/client.js';
import { openPcapFile, type PcapFile } from '../pcap/index.js';
import { UsageError, type FilterOptions } from './args.js';
import { PROTO_NUMBERS, compileFilter, parseLabels } from './filter.js';
import type { Session } from './session.js';

const PORT_PROTOS = new Set([6, 17, 33, 132, 136]);

function address(opt: string, s: string): { family: number; text: string } {
  const v6 = s.includes(':');
  const b = v6 ? parseIpv6(s) : parseIpv4(s);
  if (!b) throw new UsageError(`--${opt}: not an IP address (get, create and update need exact addresses): ${JSON.stringify(s)}`);
  return { family: v6 ? 10 : 2, text: v6 ? formatIpv6(b, 0) : formatIpv4(b, 0) };
}

function num(opt: string, s: string, max: number): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(s) || Number(s) > max) throw new UsageError(`--${opt}: not a number from 0 to ${max}: ${JSON.stringify(s)}`);
  return Number(s);
}

/** The entry the options describe; `need` lists what this operation requires. */
export function entryFromOptions(f: FilterOptions, op: 'get' | 'create' | 'update'): Conntrack {
  if (f.proto === undefined) throw new UsageError(`${op} needs --proto (-p)`);
  const pname = f.proto.toLowerCase();
  const proto = PROTO_NUMBERS[pname] ?? (/^\d{1,3}$/.test(pname) && Number(pname) <= 255 ? Number(pname) : undefined);
  if (proto === undefined) throw new UsageError(`--proto: unknown protocol ${JSON.stringify(f.proto)}`);
  if (f.src === undefined || f.dst === undefined) throw new UsageError(`${op} needs --src (-s) and --dst (-d)`);
  const src = address('src', f.src);
  const dst = address('dst', f.dst);
  let family = src.family;
  if (dst.family !== family) throw new UsageError('--src and --dst are of different address families');
  if (f.family !== undefined) {
    const want = /^(ipv6|inet6|6|10)$/i.test(f.family) ? 10 : /^(ipv4|inet|4|2)$/i.test(f.family) ? 2 : 0;
    if (want !== family) throw new UsageError(`--family ${f.family} does not match the addresses`);
  }
  const orig: Tuple = { src: src.text, dst: dst.text, proto };
  const reply: Tuple = { src: dst.text, dst: src.text, proto };
  const icmp = proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6;
  if (PORT_PROTOS.has(proto)) {
    if (f.sport === undefined || f.dport === undefined) throw new UsageError(`${op} needs --sport and --dport for ${pname}`);
    orig.srcPort = num('sport', f.sport, 65535);
    orig.dstPort = num('dport', f.dport, 65535);
    reply.srcPort = f.replySport !== undefined ? num('reply-port-src', f.replySport, 65535) : orig.dstPort;
    reply.dstPort = f.replyDport !== undefined ? num('reply-port-dst', f.replyDport, 65535) : orig.srcPort;
  } else if (icmp) {
    if (f.icmpType === undefined || f.icmpCode === undefined || f.icmpId === undefined) throw new UsageError(`${op} needs --icmp-type, --icmp-code and --icmp-id for ${pname}`);
    orig.icmpType = num('icmp-type', f.icmpType, 255);
    orig.icmpCode = num('icmp-code', f.icmpCode, 255);
    orig.icmpId = num('icmp-id', f.icmpId, 65535);
    // Echo request -> echo reply (ICMP 8 -> 0, ICMPv6 128 -> 129), as the kernel inverts it.
    const inv = proto === IPPROTO_ICMP ? ({ 8: 0, 13: 14, 15: 16, 17: 18 } as Record<number, number>) : ({ 128: 129, 130: 131 } as Record<number, number>);
    reply.icmpType = inv[orig.icmpType] ?? orig.icmpType;
    reply.icmpCode = orig.icmpCode;
    reply.icmpId = orig.icmpId;
  }
  if (f.replySrc !== undefined) reply.src = address('reply-src', f.replySrc).text;
  if (f.replyDst !== undefined) reply.dst = address('reply-dst', f.replyDst).text;
  if (f.origZone !== undefined) orig.zone = num('orig-zone', f.origZone, 65535);
  if (f.replyZone !== undefined) reply.zone = num('reply-zone', f.replyZone, 65535);
  const ct: Conntrack = { family, orig };
  if (op === 'create') ct.reply = reply;
  if (f.zone !== undefined) ct.zone = num('zone', f.zone, 65535);
  if (op === 'get') return ct;
  applyChanges(ct, f, op, proto);
  void family;
  return ct;
}

/** The values create / update set: mark (update: with a mask), status, TCP state, labels. */
function applyChanges(ct: Conntrack, f: FilterOptions, op: 'create' | 'update', proto: number | undefined): void {
  if (f.mark !== undefined) {
    const [v, m, ...rest] = f.mark.split('/');
    if (rest.length > 0) throw new UsageError(`--mark: expected VALUE[/MASK], not ${JSON.stringify(f.mark)}`);
    ct.mark = num('mark', v!, 0xffffffff);
    if (m !== undefined) {
      if (op === 'create') throw new UsageError('--mark: create sets a mark; a /MASK applies to update');
      ct.markMask = num('mark', m, 0xffffffff);
    }
  }
  if (f.status !== undefined) {
    try {
      ct.status = parseStatus(f.status.split(',').filter(Boolean));
    } catch (e) {
      throw new UsageError(`--status: ${(e as Error).message}`);
    }
  }
  if (f.state !== undefined) {
    const st = parseTcpState(f.state);
    if (st === undefined || proto !== 6) throw new UsageError(`--state: one TCP state (ESTABLISHED, ...) for a tcp entry, not ${JSON.stringify(f.state)}`);
    ct.protoinfo = { tcp: { state: st } };
  }
  if (f.label !== undefined) {
    const labels = new Uint8Array(16);
    for (const b of parseLabels('label', f.label)) labels[b >> 3]! |= 1 << (b & 7);
    ct.labels = labels;
    if (op === 'update') ct.labelsMask = labels.slice();
  }
}

async function withClient<T>(s: Session, fn: (c: ConntrackClient) => Promise<T>): Promise<T> {
  let pcap: PcapFile | undefined;
  if (s.opts.write !== undefined) pcap = await openPcapFile(s.opts.write);
  try {
    const client = await ConntrackClient.open({
      ...(s.opts.netns !== undefined ? { netns: s.opts.netns } : {}),
      ...(pcap ? { onDatagram: (d: Uint8Array, ts: bigint) => void pcap!.writer.writeDatagram(d, ts) } : {}),
    });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  } finally {
    await pcap?.close();
  }
}

/** conntrack -G: print one entry. */
export async function get(s: Session): Promise<number> {
  const ct = entryFromOptions(s.opts.filters, 'get');
  const key = { family: ct.family, orig: ct.orig!, ...(ct.zone !== undefined ? { zone: ct.zone } : {}) };
  // Printed in the reply message the kernel sent (its own header and nfgenmsg).
  const reply = await withClient(s, (c) => c.getRecord(key, s.opts.zero ? { zero: true } : {}));
  s.print(reply, BigInt(Date.now()) * 1_000_000n, 'entries');
  s.endDocument();
  await s.out.flush();
  return 0;
}

/** conntrack -I: create one entry. */
export async function create(s: Session): Promise<number> {
  const ct = entryFromOptions(s.opts.filters, 'create');
  ct.timeout = s.opts.timeout!;
  await withClient(s, (c) => c.create(ct));
  s.io.stderr.write('ctevents: 1 entry created\n');
  return 0;
}

/** True when the options name one entry: protocol, exact addresses, and its ports or ICMP fields. */
function namesOneEntry(f: FilterOptions): boolean {
  if (f.proto === undefined || f.src === undefined || f.dst === undefined || f.src.includes('/') || f.dst.includes('/')) return false;
  const p = PROTO_NUMBERS[f.proto.toLowerCase()] ?? Number(f.proto);
  if (PORT_PROTOS.has(p)) return f.sport !== undefined && f.dport !== undefined;
  if (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) return f.icmpType !== undefined && f.icmpCode !== undefined && f.icmpId !== undefined;
  return true;
}

/**
 * conntrack -U: change one entry (named by its whole original tuple) or, like conntrack,
 * every entry the tuple options select (-s, -d, -p, ports, zones, ...: a filtered dump, then
 * one update per entry; entries gone meanwhile are skipped). --mark, --status, --state and
 * --label are the values to set, never filters.
 */
export async function update(s: Session): Promise<number> {
  const f = s.opts.filters;
  if (namesOneEntry(f)) {
    const ct = entryFromOptions(f, 'update');
    if (s.opts.timeout !== undefined) ct.timeout = s.opts.timeout;
    if (ct.timeout === undefined && ct.mark === undefined && ct.labels === undefined && ct.status === undefined && ct.protoinfo === undefined) {
      throw new UsageError('update needs something to change: --timeout, --mark, --label, --status or --state');
    }
    await withClient(s, (c) => c.update(ct));
    s.io.stderr.write('ctevents: 1 entry updated\n');
    return 0;
  }
  const p = f.proto === undefined ? undefined : (PROTO_NUMBERS[f.proto.toLowerCase()] ?? Number(f.proto));
  const changes: Conntrack = { family: 0 };
  applyChanges(changes, f, 'update', p);
  if (s.opts.timeout !== undefined) changes.timeout = s.opts.timeout;
  const { family: _f, ...set } = changes;
  void _f;
  if (Object.keys(set).length === 0) throw new UsageError('update needs something to change: --timeout, --mark, --label, --status or --state');
  const { mark: _m, status: _s, state: _st, label: _l, ...selectors } = f;
  void _m, _s, _st, _l;
  const filter = compileFilter(selectors);
  let n = 0;
  await withClient(s, async (c) => {
    for await (const batch of c.dumpBatches(filter.empty ? undefined : filter.kernel)) {
      for (const e of batch) {
        if (!filter.match(e) || e.orig === undefined) continue;
        try {
          await c.update({ family: e.family, orig: e.orig, ...(e.zone !== undefined ? { zone: e.zone } : {}), ...set });
          n++;
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOENT') throw err;
        }
      }
    }
  });
  s.io.stderr.write(`ctevents: ${n} ${n === 1 ? 'entry' : 'entries'} updated\n`);
  return 0;
}
