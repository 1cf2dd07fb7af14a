/**
 * Field-by-field comparison of our decode of a recorded capture with the two decoders we did
 * not write: conntrack-tools (XML and text, see captures-oracles.ts) and Wireshark (tshark's
 * reduced JSON, see tools/captures/tshark.ts). Every disagreement is collected as one line
 * naming the capture, the record (0-based pcap record = tshark frame - 1), the message and the
 * field, so a failing test lists all of them at once.
 */
import { tcpStateName } from '../../src/ctnetlink/status.js';
import type { Conntrack, Expectation, Message, Tuple } from '../../src/ctnetlink/model.js';
import type { OracleExpect, OracleFlow, OracleTuple } from './captures-oracles.js';

const IPS_SEEN_REPLY = 0x2;
const IPS_ASSURED = 0x4;
/** Protocols whose tuples conntrack prints with sport/dport. */
const PORT_PROTOS = new Set([6, 17, 132, 136]);

/** One decoded message with where it came from. */
export interface Located {
  record: number;
  index: number;
  timestampNs: bigint;
  msg: Message;
}

export function where(capture: string, l: Located): string {
  return `${capture} record ${l.record} msg ${l.index}`;
}

/** Collects disagreements. */
export class Mismatches {
  readonly list: string[] = [];
  /** Number of comparisons made (a test with none compared nothing). */
  checks = 0;
  eq(at: string, field: string, ours: unknown, theirs: unknown): void {
    this.checks++;
    if (!same(ours, theirs)) this.list.push(`${at}: ${field}: ours=${show(ours)} oracle=${show(theirs)}`);
  }
  fail(at: string, text: string): void {
    this.list.push(`${at}: ${text}`);
  }
  /** ours - slack <= theirs <= ours (a value read later, counting down). */
  within(at: string, field: string, ours: number | undefined, theirs: number | undefined, slack: number): void {
    if (ours === undefined || theirs === undefined) return this.eq(at, field, ours, theirs);
    if (theirs > ours || theirs < ours - slack) this.list.push(`${at}: ${field}: ours=${ours} oracle=${theirs} (allowed ${ours - slack}..${ours})`);
  }
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b;
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  return v === undefined ? 'absent' : JSON.stringify(v);
}

export interface FlowCompareOptions {
  /** Listing taken after our dump: timeouts may have counted down by up to this much. */
  timeoutSlack?: number;
  /** Label bit → name (connlabel.conf in use when conntrack printed). */
  labelMap?: Map<number, string>;
  /** Text output (default printer) rather than XML. */
  text?: boolean;
  /** Capture time of our record, to check a listing's delta-time (now - start). */
  recordTimeNs?: bigint;
  /** Pid in our message header (text output prints it for events caused by a process). */
  headerPid?: number;
}

function labelNames(labels: Uint8Array | undefined, map: Map<number, string> | undefined): string[] | undefined {
  if (!labels || !map) return undefined;
  const names: string[] = [];
  for (let bit = 0; bit < labels.length * 8; bit++) {
    if (labels[bit >> 3]! & (1 << (bit & 7))) names.push(map.get(bit) ?? `#${bit}`);
  }
  return names.length > 0 ? names : undefined;
}

function compareTuple(m: Mismatches, at: string, dir: string, ours: Tuple | undefined, theirs: OracleTuple, family: number, text: boolean): void {
  m.eq(at, `${dir}.l3`, family, theirs.l3);
  m.eq(at, `${dir}.src`, ours?.src, theirs.src);
  m.eq(at, `${dir}.dst`, ours?.dst, theirs.dst);
  m.eq(at, `${dir}.proto`, ours?.proto, theirs.proto);
  const proto = ours?.proto ?? -1;
  if (PORT_PROTOS.has(proto) || theirs.sport !== undefined) {
    m.eq(at, `${dir}.srcPort`, ours?.srcPort, theirs.sport);
    m.eq(at, `${dir}.dstPort`, ours?.dstPort, theirs.dport);
  }
  // ICMP id/type/code appear in the text output only (the XML printer has no ICMP case).
  if (text && (proto === 1 || proto === 58)) {
    m.eq(at, `${dir}.icmpType`, ours?.icmpType, theirs.icmpType);
    m.eq(at, `${dir}.icmpCode`, ours?.icmpCode, theirs.icmpCode);
    m.eq(at, `${dir}.icmpId`, ours?.icmpId, theirs.icmpId);
  }
  m.eq(at, `${dir}.zone (CTA_TUPLE_ZONE)`, ours?.zone, theirs.zone);
}

/** Compares one conntrack message (event or dump object) with conntrack's print of it. */
export function compareFlow(m: Mismatches, at: string, msg: Message, o: OracleFlow, opts: FlowCompareOptions = {}): void {
  if (msg.kind !== 'conntrack') return m.fail(at, `kind ${msg.kind}, oracle has a flow`);
  const c: Conntrack = msg.conntrack;
  const text = opts.text ?? false;
  if (o.type !== undefined) m.eq(at, 'event type', msg.event, o.type);
  compareTuple(m, at, 'orig', c.orig, o.orig, c.family, text);
  compareTuple(m, at, 'reply', c.reply, o.reply, c.family, text);
  m.eq(at, 'orig counters packets', c.countersOrig?.packets, o.orig.packets);
  m.eq(at, 'orig counters bytes', c.countersOrig?.bytes, o.orig.bytes);
  m.eq(at, 'reply counters packets', c.countersReply?.packets, o.reply.packets);
  m.eq(at, 'reply counters bytes', c.countersReply?.bytes, o.reply.bytes);
  const state = c.protoinfo?.tcp?.state;
  m.eq(at, 'TCP state', state === undefined ? undefined : tcpStateName(state), o.state);
  if (opts.timeoutSlack) m.within(at, 'timeout', c.timeout, o.timeout, opts.timeoutSlack);
  else m.eq(at, 'timeout', c.timeout, o.timeout);
  m.eq(at, 'mark', c.mark, o.mark);
  m.eq(at, 'secmark', c.secmark, o.secmark);
  m.eq(at, 'zone (CTA_ZONE)', c.zone, o.zone);
  m.eq(at, 'use', c.use, o.use);
  m.eq(at, 'id', c.id, o.id);
  if (c.status !== undefined) {
    m.eq(at, 'status ASSURED', (c.status & IPS_ASSURED) !== 0, o.assured ?? false);
    m.eq(at, 'status UNREPLIED (no SEEN_REPLY)', (c.status & IPS_SEEN_REPLY) === 0, o.unreplied ?? false);
  } else if (o.assured || o.unreplied) {
    m.fail(at, 'oracle prints status flags, we decoded no CTA_STATUS');
  }
  if (text) {
    // Text prints ctime() seconds.
    const sec = (ns: bigint | undefined) => (ns === undefined ? undefined : (ns / 1_000_000_000n) * 1_000_000_000n);
    m.eq(at, 'timestamp start (s)', sec(c.timestamp?.start), o.start);
    m.eq(at, 'timestamp stop (s)', sec(c.timestamp?.stop), o.stop);
    m.eq(at, '[USERSPACE] portid', opts.headerPid ? opts.headerPid : undefined, o.portid);
  } else {
    m.eq(at, 'timestamp start', c.timestamp?.start, o.start);
    m.eq(at, 'timestamp stop', c.timestamp?.stop, o.stop);
  }
  const start = c.timestamp?.start;
  const stop = c.timestamp?.stop;
  if (start !== undefined && stop !== undefined) {
    // XML: (stop - start) / 1e9; text: stop/1e9 - start/1e9 (whole seconds first).
    const s = 1_000_000_000n;
    const delta = text ? stop / s - start / s : (stop - start) / s;
    m.eq(at, 'delta-time (stop - start, s)', Number(delta), o.deltatime);
  } else if (start !== undefined && opts.recordTimeNs !== undefined && o.deltatime !== undefined) {
    // Printed as time(NULL) - start seconds, a moment after our dump was received.
    const ours = Number(opts.recordTimeNs / 1_000_000_000n - start / 1_000_000_000n);
    if (o.deltatime < ours || o.deltatime > ours + 2) m.fail(at, `delta-time: oracle=${o.deltatime}, ours at capture time=${ours}`);
  } else {
    m.eq(at, 'delta-time presence', undefined, o.deltatime);
  }
  m.eq(at, 'helper', c.helper?.name, o.helper);
  if (opts.labelMap) m.eq(at, 'labels', labelNames(c.labels, opts.labelMap), o.labels);
}

function compareExpTuple(m: Mismatches, at: string, part: string, ours: Tuple | undefined, theirs: OracleTuple): void {
  m.eq(at, `${part}.src`, ours?.src, theirs.src);
  m.eq(at, `${part}.dst`, ours?.dst, theirs.dst);
  m.eq(at, `${part}.srcPort`, ours?.srcPort, theirs.sport);
  m.eq(at, `${part}.dstPort`, ours?.dstPort, theirs.dport);
}

/** Compares one expectation message with conntrack's print of it. */
export function compareExpect(m: Mismatches, at: string, msg: Message, o: OracleExpect, timeoutSlack = 0): void {
  if (msg.kind !== 'expect') return m.fail(at, `kind ${msg.kind}, oracle has an expectation`);
  const e: Expectation = msg.expect;
  if (o.type !== undefined) m.eq(at, 'event type', msg.event, o.type);
  if (o.l3 !== undefined) m.eq(at, 'l3', e.family, o.l3);
  m.eq(at, 'proto', e.tuple?.proto, o.proto);
  compareExpTuple(m, at, 'tuple', e.tuple, o.expected);
  compareExpTuple(m, at, 'mask', e.mask, o.mask);
  compareExpTuple(m, at, 'master', e.master, o.master);
  if (timeoutSlack) m.within(at, 'timeout', e.timeout, o.timeout, timeoutSlack);
  else m.eq(at, 'timeout', e.timeout, o.timeout);
  m.eq(at, 'helper name', e.helpName, o.helper);
  m.eq(at, 'class', e.class, o.class);
}

// ---------------------------------------------------------------------------------------
// tshark

/** A message of NAME.tshark.json (see tools/captures/tshark.ts). */
export interface TsharkMessage {
  hdr: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  nfgen?: { subsys?: string; family?: string; version?: string; resId?: string };
  error?: string;
  echo?: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  fields?: Record<string, string | string[]>;
}

export interface TsharkFrame {
  frame: number;
  protocols: string;
  expert?: unknown[];
  messages: TsharkMessage[];
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function int(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return v.startsWith('0x') ? Number.parseInt(v, 16) : Number(v);
}

/** "29:a6" → 0x29a6 (attr_data bytes, big-endian). */
function beBytes(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  const hex = v.replace(/:/g, '');
  return hex === '' ? 0n : BigInt(`0x${hex}`);
}

function beNum(v: string | undefined): number | undefined {
  const b = beBytes(v);
  return b === undefined ? undefined : Number(b);
}

function bytesHex(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** NUL-terminated string from attr_data bytes. */
function cString(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const bytes = v.split(':').map((h) => Number.parseInt(h, 16));
  const end = bytes.indexOf(0);
  return String.fromCharCode(...(end < 0 ? bytes : bytes.slice(0, end)));
}

function compareTsharkTuple(m: Mismatches, at: string, f: Record<string, string | string[]>, prefix: string, ours: Tuple | undefined): void {
  const get = (k: string) => one(f[`${prefix}${k}`]);
  const v4 = get('IP address/IPv4 source address/nfct_tuple.ip.ip_addr');
  const src = v4 ?? get('IP address/IPv6 source address/nfct_tuple.ip.ip6_addr');
  const dst = get('IP address/IPv4 destination address/nfct_tuple.ip.ip_addr') ?? get('IP address/IPv6 destination address/nfct_tuple.ip.ip6_addr');
  m.eq(at, `tshark ${prefix}src`, ours?.src, src);
  m.eq(at, `tshark ${prefix}dst`, ours?.dst, dst);
  m.eq(at, `tshark ${prefix}proto`, ours?.proto, int(get('L4 protocol info/IP protocol number/nfct_tuple.proto.num')));
  m.eq(at, `tshark ${prefix}srcPort`, ours?.srcPort, int(get('L4 protocol info/Source port/nfct_tuple.proto.src_port')));
  m.eq(at, `tshark ${prefix}dstPort`, ours?.dstPort, int(get('L4 protocol info/Destination port/nfct_tuple.proto.dst_port')));
  const icmp = ours?.proto === 58 ? 'ICMPv6' : 'ICMPv4';
  m.eq(at, `tshark ${prefix}icmpId`, ours?.icmpId, beNum(get(`L4 protocol info/${icmp} ID/attr_data`)));
  m.eq(at, `tshark ${prefix}icmpType`, ours?.icmpType, beNum(get(`L4 protocol info/${icmp} type/attr_data`)));
  m.eq(at, `tshark ${prefix}icmpCode`, ours?.icmpCode, beNum(get(`L4 protocol info/${icmp} code/attr_data`)));
  m.eq(at, `tshark ${prefix}zone`, ours?.zone, int(get('Zone/nfct_tuple.zone')));
}

/**
 * Wireshark's names for top-level CTA_* attribute types (packet-netlink-netfilter.c), used
 * for the stats replies, which it decodes as if they were conntrack attributes.
 */
const WS_CT_ATTR: Record<number, string> = {
  1: 'Original IP tuple/attr_data',
  2: 'Reply IP tuple/attr_data',
  3: 'Connection status/ct_attr.status',
  4: 'Protocol-specific info/attr_data',
  5: 'Helper/attr_data',
  6: 'SNAT setup/attr_data',
  7: 'Timeout/ct_attr.timeout',
  8: 'Mark/attr_data',
  9: 'COUNTERS_ORIG/attr_data',
  10: 'COUNTERS_REPLY/attr_data',
  11: 'Use count/attr_data',
  12: 'ID/ct_attr.id',
  13: 'DNAT setup/attr_data',
  14: 'Master IP tuple/attr_data',
  15: 'Sequence number adjustment (original direction)/attr_data',
};

const CPU_STATS: [string, number][] = [
  ['searched', 1], ['found', 2], ['new', 3], ['invalid', 4], ['ignore', 5], ['delete', 6], ['deleteList', 7],
  ['insert', 8], ['insertFailed', 9], ['drop', 10], ['earlyDrop', 11], ['error', 12], ['searchRestart', 13],
  ['clashResolve', 14], ['chainTooLong', 15],
];

function wsValue(f: Record<string, string | string[]>, type: number): number | undefined {
  const key = WS_CT_ATTR[type];
  const v = key ? one(f[key]) : undefined;
  if (v === undefined) return undefined;
  return key!.endsWith('attr_data') ? beNum(v) : int(v);
}

/** Compares one of our messages with tshark's decode of the same message. */
export function compareTshark(m: Mismatches, at: string, msg: Message, len: number, t: TsharkMessage): void {
  const h = msg.header;
  m.eq(at, 'tshark nlmsg_len', len, int(t.hdr.len));
  m.eq(at, 'tshark nlmsg_type', h.type, int(t.hdr.type));
  m.eq(at, 'tshark nlmsg_flags', h.flags, int(t.hdr.flags));
  m.eq(at, 'tshark nlmsg_seq', h.seq, int(t.hdr.seq));
  m.eq(at, 'tshark nlmsg_pid', h.pid, int(t.hdr.pid));
  if ('nfgen' in msg) {
    m.eq(at, 'tshark subsystem', h.type >> 8, int(t.nfgen?.subsys));
    m.eq(at, 'tshark nfgen family', msg.nfgen.family, int(t.nfgen?.family));
    m.eq(at, 'tshark nfgen version', msg.nfgen.version, int(t.nfgen?.version));
    m.eq(at, 'tshark nfgen res_id', msg.nfgen.resId, int(t.nfgen?.resId));
  }
  const f = t.fields ?? {};
  switch (msg.kind) {
    case 'error': {
      m.eq(at, 'tshark error', msg.error.error, int(t.error));
      m.eq(at, 'tshark echoed type', msg.error.request.type, int(t.echo?.type));
      m.eq(at, 'tshark echoed flags', msg.error.request.flags, int(t.echo?.flags));
      m.eq(at, 'tshark echoed seq', msg.error.request.seq, int(t.echo?.seq));
      m.eq(at, 'tshark echoed len', msg.error.request.len, int(t.echo?.len));
      break;
    }
    case 'done':
      m.eq(at, 'tshark DONE status', msg.done.error, leS32(one(f['data/data.data'])));
      break;
    case 'conntrack': {
      const c = msg.conntrack;
      compareTsharkTuple(m, at, f, 'Original IP tuple/', c.orig);
      compareTsharkTuple(m, at, f, 'Reply IP tuple/', c.reply);
      compareTsharkTuple(m, at, f, 'Master IP tuple/', c.master);
      m.eq(at, 'tshark status', c.status, int(one(f['Connection status/ct_attr.status'])));
      m.eq(at, 'tshark timeout', c.timeout, int(one(f['Timeout/ct_attr.timeout'])));
      m.eq(at, 'tshark id', c.id, int(one(f['ID/ct_attr.id'])));
      m.eq(at, 'tshark mark', c.mark, beNum(one(f['Mark/attr_data'])));
      m.eq(at, 'tshark mark mask', c.markMask, beNum(one(f['Mark mask/attr_data'])));
      m.eq(at, 'tshark status mask', c.statusMask, beNum(one(f['STATUS_MASK/attr_data'])));
      m.eq(at, 'tshark use', c.use, beNum(one(f['Use count/attr_data'])));
      m.eq(at, 'tshark zone', c.zone, beNum(one(f['Zone/attr_data'])));
      m.eq(at, 'tshark labels', bytesHex(c.labels), one(f['LABELS/attr_data']));
      m.eq(at, 'tshark helper', c.helper?.name, one(f['Helper/Helper name/ct_help_attr.help_name']));
      m.eq(at, 'tshark CTA_TIMESTAMP_EVENT', c.eventTimestamp, beBytes(one(f['#27/attr_data'])));
      break;
    }
    case 'expect': {
      const e = msg.expect;
      compareTsharkTuple(m, at, f, 'IP tuple/', e.tuple);
      compareTsharkTuple(m, at, f, 'IP mask tuple/', e.mask);
      compareTsharkTuple(m, at, f, 'Master IP tuple/', e.master);
      m.eq(at, 'tshark expect timeout', e.timeout, int(one(f['Timeout/nfexp.timeout'])));
      m.eq(at, 'tshark expect id', e.id, int(one(f['ID/nfexp.id'])));
      m.eq(at, 'tshark expect flags', e.flags, int(one(f['Flags/nfexp.flags'])));
      m.eq(at, 'tshark expect class', e.class, int(one(f['Class/nfexp.class'])));
      m.eq(at, 'tshark expect zone', e.zone, int(one(f['Zone/nfexp.zone'])));
      m.eq(at, 'tshark expect helper', e.helpName, cString(one(f['Helper name/attr_data'])));
      break;
    }
    case 'stats-cpu': {
      const s = msg.stats as unknown as Record<string, number | undefined>;
      for (const [name, type] of CPU_STATS) m.eq(at, `tshark stats ${name} (attr ${type})`, s[name], wsValue(f, type));
      break;
    }
    case 'stats':
      m.eq(at, 'tshark stats entries (attr 1)', msg.stats.entries, wsValue(f, 1));
      m.eq(at, 'tshark stats max entries (attr 2)', msg.stats.maxEntries, wsValue(f, 2));
      break;
    case 'expect-stats-cpu':
      m.eq(at, 'tshark expect stats new (attr 1)', msg.stats.new, wsValue(f, 1));
      m.eq(at, 'tshark expect stats create (attr 2)', msg.stats.create, wsValue(f, 2));
      m.eq(at, 'tshark expect stats delete (attr 3)', msg.stats.delete, wsValue(f, 3));
      break;
    default:
      break;
  }
}

/** data.data of a DONE ("00:00:00:00"): an int in host order (little-endian here). */
function leS32(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const b = v.split(':').map((h) => Number.parseInt(h, 16));
  return (b[0] ?? 0) | ((b[1] ?? 0) << 8) | ((b[2] ?? 0) << 16) | ((b[3] ?? 0) << 24);
}
