/**
 * The `text` format (ctevents' default): one readable line per message, leading columns
 * fixed so a flood of events scans well.
 *
 *   15:07:01.745528 NEW     tcp     127.0.0.1:44682 -> 127.0.0.1:8081 SYN_SENT [UNREPLIED] timeout=120
 *   15:07:02.241102 UPDATE  tcp     127.0.0.1:47812 -> 127.0.0.1:8082 ESTABLISHED reply 127.0.0.1:8081 -> 127.0.0.1:47812 [ASSURED] timeout=432000
 *   15:07:09.614504 DESTROY icmpv6  ::1 -> ::1 type=128 code=0 id=13785 pkts=1/1 bytes=104/104 duration=8.012s portid=13861
 *   15:07:10.000001 tcp     [2001:db8::1]:11 -> [2001:db8::2]:12 ESTABLISHED [UNREPLIED] [ASSURED] timeout=97 mark=0 use=1 ctid=57255112
 *
 * Columns: local time with microseconds (CTA_TIMESTAMP_EVENT when the kernel sent it, else
 * the receive/capture time; absent when neither is known), the event (NEW, UPDATE, DESTROY
 * padded to 7; dump entries have no event column), the protocol padded to 7, the original
 * direction, the TCP/SCTP/DCCP state, "reply <tuple>" only when the reply tuple is not the
 * mirror of the original one (NAT), flags, then key=value extras in this order:
 * timeout mark secmark zone zone-orig zone-reply pkts=orig/reply bytes=orig/reply
 * duration (start..stop) or age (start..line time) labels=<bits> helper secctx
 * master=<tuple> use ctid (CTA_ID; "id=" is the ICMP id) portid [prog] unknown=<attribute
 * types>.
 *
 * Other messages: expectations ("EXP-NEW" / "EXP-DEL" events, "expect" entries), stats
 * ("stats cpu=0 found=0 ...", "stats entries=14 max=262144", "expect-stats cpu=0 ..."),
 * "error ENOENT (seq 3) IPCTNL_MSG_CT_DELETE: <ext-ack text>", "ack (seq 3) <request>",
 * "done (seq 3)", "request IPCTNL_MSG_CT_GET dump family=ipv4 seq=3", "overrun", "noop",
 * "other <type> ...". Marks and other integers are decimal, as conntrack prints them.
 */
import {
  IPPROTO_DCCP,
  IPPROTO_GRE,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  IPS_ASSURED,
  IPS_HW_OFFLOAD,
  IPS_OFFLOAD,
  IPS_SEEN_REPLY,
  NF_CT_EXPECT_INACTIVE,
  NF_CT_EXPECT_PERMANENT,
  NF_CT_EXPECT_USERSPACE,
} from '../ctnetlink/constants.js';
import { messageTypeName } from '../ctnetlink/message.js';
import type { Conntrack, Counters, CpuStats, ExpectCpuStats, Expectation, Message, Tuple } from '../ctnetlink/model.js';
import { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import { dccpStateName, sctpStateName, tcpStateName } from '../ctnetlink/status.js';
import {
  NLM_F_ACK,
  NLM_F_APPEND,
  NLM_F_ATOMIC,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_ECHO,
  NLM_F_EXCL,
  NLM_F_MATCH,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NLM_F_ROOT,
} from '../netlink/constants.js';
import { errnoName } from '../netlink/errno.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { msgTypeOf, subsysOf } from '../nfnetlink/header.js';
import type { FormatContext } from './index.js';
import { flat, slots, u32 } from './pieces.js';
import { CPU_NAMES } from './names.js';

export interface TextFormatOptions {
  /** Prefix the time with the date ("2026-11-24 15:07:01.745528"). */
  date?: boolean;
  /** UTC instead of local time. */
  utc?: boolean;
  /** Name of the process behind a port id, shown as prog= after portid= (default: none). */
  progname?: (portid: number) => string | undefined;
}

const NS_PER_S = 1_000_000_000n;

const NAMES: Record<number, string> = {
  [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_UDPLITE]: 'udplite', [IPPROTO_ICMP]: 'icmp',
  [IPPROTO_ICMPV6]: 'icmpv6', [IPPROTO_SCTP]: 'sctp', [IPPROTO_GRE]: 'gre', [IPPROTO_DCCP]: 'dccp',
};
const PORT_PROTOS = new Set([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP]);

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * localTime with a memory of the last second: a flood shares a handful of seconds, and
 * only the microseconds change within one (slices of the decimal digits of `ns`).
 */
class Clock {
  private sec = '';
  private prefix = '';
  constructor(private readonly o: TextFormatOptions) {}

  /** localTime(ns, o) + ' ' */
  column(ns: bigint): string {
    const digits = ns.toString();
    const n = digits.length;
    if (n <= 9 || digits.charCodeAt(0) === 45 /* '-' */) return localTime(ns, this.o) + ' ';
    const sec = digits.slice(0, n - 9);
    if (sec !== this.sec) {
      const full = localTime(ns, this.o);
      this.prefix = flat(full.slice(0, full.length - 6));
      this.sec = sec;
    }
    return this.prefix + digits.slice(n - 9, n - 3) + ' ';
  }
}

/** "15:07:01.745528" (or with the date) for ns since the epoch. */
export function localTime(ns: bigint, o: TextFormatOptions = {}): string {
  const sec = ns >= 0n ? ns / NS_PER_S : (ns - NS_PER_S + 1n) / NS_PER_S;
  const usec = String((ns - sec * NS_PER_S) / 1000n).padStart(6, '0');
  const d = new Date(Number(sec) * 1000);
  const [y, mo, da, h, mi, s] = o.utc
    ? [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const time = `${pad2(h)}:${pad2(mi)}:${pad2(s)}.${usec}`;
  return o.date ? `${y}-${pad2(mo + 1)}-${pad2(da)} ${time}` : time;
}

function protoText(p: number | undefined): string {
  return p === undefined ? '?' : (NAMES[p] ?? String(p));
}

function familyText(f: number): string {
  return f === 2 ? 'ipv4' : f === 10 ? 'ipv6' : f === 0 ? 'unspec' : String(f);
}

function hostPort(addr: string | undefined, port: string | undefined): string {
  const a = addr ?? '?';
  if (port === undefined) return a;
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

const ALL_ONES = new Set(['255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
const ZEROS = new Set(['0.0.0.0', '::']);

/** A tuple as "src:sport -> dst:dport" (+ ICMP / GRE detail); `mask` shows wildcards as '*'. */
function flow(t: Tuple, mask?: Tuple): string {
  const p = t.proto;
  const addr = (a: string | undefined, m: string | undefined) =>
    m === undefined || a === undefined || ALL_ONES.has(m) ? a : ZEROS.has(m) ? '*' : `${a}/${m}`;
  const port = (v: number | undefined, m: number | undefined) =>
    v === undefined ? '0' : m === undefined || m === 0xffff ? String(v) : m === 0 ? '*' : `${v}/0x${m.toString(16)}`;
  const src = addr(t.src, mask?.src);
  const dst = addr(t.dst, mask?.dst);
  if (p !== undefined && PORT_PROTOS.has(p)) {
    return `${hostPort(src, port(t.srcPort, mask?.srcPort))} -> ${hostPort(dst, port(t.dstPort, mask?.dstPort))}`;
  }
  let s = `${src ?? '?'} -> ${dst ?? '?'}`;
  if (p === IPPROTO_GRE) s += ` srckey=0x${(t.srcPort ?? 0).toString(16)} dstkey=0x${(t.dstPort ?? 0).toString(16)}`;
  if (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) s += ` type=${t.icmpType ?? 0} code=${t.icmpCode ?? 0} id=${t.icmpId ?? 0}`;
  return s;
}

/** "[2001:db8::1]:80" / "1.2.3.4:80" */
function hostPortText(addr: string | undefined, port: number | undefined): string {
  const a = addr ?? '?';
  const p = ':' + u32(port ?? 0);
  return a.includes(':') ? '[' + a + ']' + p : a + p;
}

/** flow(t) without a mask. */
function plainFlow(t: Tuple): string {
  const p = t.proto;
  if (p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_UDPLITE || p === IPPROTO_SCTP || p === IPPROTO_DCCP) {
    return hostPortText(t.src, t.srcPort) + ' -> ' + hostPortText(t.dst, t.dstPort);
  }
  return flow(t);
}

/** Is `r` the mirror of `o` (what conntrack expects without NAT)? */
function isMirror(o: Tuple, r: Tuple): boolean {
  if (o.src !== r.dst || o.dst !== r.src || o.proto !== r.proto) return false;
  if (o.proto === IPPROTO_ICMP || o.proto === IPPROTO_ICMPV6) return o.icmpId === r.icmpId;
  return o.srcPort === r.dstPort && o.dstPort === r.srcPort;
}

function seconds(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  const ms = a / 1_000_000n;
  return `${neg ? '-' : ''}${ms / 1000n}.${String(ms % 1000n).padStart(3, '0')}s`;
}

function labelBits(b: Uint8Array): string {
  const bits: number[] = [];
  for (let i = 0; i < b.length * 8; i++) if (b[i >> 3]! & (1 << (i & 7))) bits.push(i);
  return bits.join(',');
}

function counterPair(o: Counters | undefined, r: Counters | undefined, k: 'packets' | 'bytes'): string | undefined {
  const a = o?.[k];
  const b = r?.[k];
  if (a === undefined && b === undefined) return undefined;
  return `${a ?? '-'}/${b ?? '-'}`;
}

function unknownTypes(list: { type: number }[] | undefined): string | undefined {
  return list && list.length > 0 ? list.map((u) => u.type & 0x3fff).join(',') : undefined;
}

const protoColumns = slots(256);

/** protoText(p) padded to 7, and a space. */
function protoColumn(p: number | undefined): string {
  const small = p !== undefined && p >= 0 && p < 256 && p === (p | 0);
  const hit = small ? protoColumns[p] : undefined;
  if (hit !== undefined) return hit;
  const t = flat(protoText(p).padEnd(7, ' ') + ' ');
  if (small) protoColumns[p] = t;
  return t;
}

/** The body of a conntrack line after the time and event columns; `extra` is " k=v ..." text. */
function conntrackBody(ct: Conntrack, refNs: bigint | undefined, extra: string): string {
  const o = ct.orig ?? {};
  let s = protoColumn(o.proto) + plainFlow(o);
  const pi = ct.protoinfo;
  if (pi !== undefined) {
    if (pi.tcp?.state !== undefined) s += ' ' + tcpStateName(pi.tcp.state);
    if (pi.sctp?.state !== undefined) s += ' ' + sctpStateName(pi.sctp.state);
    if (pi.dccp?.state !== undefined) s += ' ' + dccpStateName(pi.dccp.state);
  }
  const reply = ct.reply;
  if (reply !== undefined && !isMirror(o, reply)) s += ' reply ' + plainFlow(reply);
  const st = ct.status;
  if (st !== undefined) {
    if (!(st & IPS_SEEN_REPLY)) s += ' [UNREPLIED]';
    if (st & IPS_ASSURED) s += ' [ASSURED]';
    if (st & IPS_OFFLOAD) s += ' [OFFLOAD]';
    if (st & IPS_HW_OFFLOAD) s += ' [HW_OFFLOAD]';
  }
  if (ct.timeout !== undefined) s += ' timeout=' + u32(ct.timeout);
  if (ct.mark !== undefined) s += ' mark=' + u32(ct.mark);
  if (ct.secmark !== undefined) s += ' secmark=' + u32(ct.secmark);
  if (ct.zone !== undefined) s += ' zone=' + u32(ct.zone);
  if (ct.orig?.zone !== undefined) s += ' zone-orig=' + ct.orig.zone;
  if (reply?.zone !== undefined) s += ' zone-reply=' + reply.zone;
  if (ct.countersOrig !== undefined || ct.countersReply !== undefined) {
    const pk = counterPair(ct.countersOrig, ct.countersReply, 'packets');
    if (pk !== undefined) s += ' pkts=' + pk;
    const by = counterPair(ct.countersOrig, ct.countersReply, 'bytes');
    if (by !== undefined) s += ' bytes=' + by;
  }
  const start = ct.timestamp?.start;
  if (start !== undefined) {
    const stop = ct.timestamp?.stop;
    if (stop !== undefined) s += ' duration=' + seconds(stop - start);
    else if (refNs !== undefined) s += ' age=' + seconds(refNs - start);
  }
  if (ct.labels !== undefined && ct.labels.length > 0) {
    const bits = labelBits(ct.labels);
    if (bits) s += ' labels=' + bits;
  }
  if (ct.helper?.name !== undefined) s += ' helper=' + ct.helper.name;
  if (ct.secctx !== undefined) s += ' secctx=' + ct.secctx;
  if (ct.master !== undefined) s += ' master=' + flow(ct.master).replace(/ /g, '');
  if (ct.use !== undefined) s += ' use=' + u32(ct.use);
  if (ct.id !== undefined) s += ' ctid=' + u32(ct.id);
  s += extra;
  const u = unknownTypes(ct.unknown);
  if (u !== undefined) s += ' unknown=' + u;
  return s;
}

const EXP_FLAGS: [number, string][] = [
  [NF_CT_EXPECT_PERMANENT, 'PERMANENT'], [NF_CT_EXPECT_INACTIVE, 'INACTIVE'], [NF_CT_EXPECT_USERSPACE, 'USERSPACE'],
];

function expectBody(x: Expectation): string {
  const t = x.tuple ?? {};
  const parts: string[] = [protoText(t.proto).padEnd(7, ' '), flow(t, x.mask)];
  if (x.master !== undefined) parts.push(`master ${flow(x.master)}`);
  const kv = (k: string, v: string | number | undefined) => {
    if (v !== undefined) parts.push(`${k}=${v}`);
  };
  kv('timeout', x.timeout);
  kv('zone', x.zone);
  if (x.flags !== undefined && x.flags !== 0) {
    const names = EXP_FLAGS.filter(([b]) => x.flags! & b).map(([, n]) => n);
    const rest = x.flags & ~0x7;
    if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
    kv('flags', names.join(','));
  }
  kv('class', x.class);
  kv('helper', x.helpName);
  kv('fn', x.fn);
  if (x.nat?.tuple !== undefined) kv('nat', `${x.nat.dir === 1 ? 'reply' : 'orig'}:${flow(x.nat.tuple).replace(/ /g, '')}`);
  kv('ctid', x.id);
  kv('unknown', unknownTypes(x.unknown));
  return parts.join(' ');
}

function cpuStats(s: CpuStats): string {
  let out = `stats cpu=${s.cpu}`;
  for (const [, key] of CPU_STATS_FIELDS) if (s[key] !== undefined) out += ` ${CPU_NAMES[key]}=${s[key]}`;
  const u = unknownTypes(s.unknown);
  return u === undefined ? out : `${out} unknown=${u}`;
}

function expectCpuStats(s: ExpectCpuStats): string {
  let out = `expect-stats cpu=${s.cpu}`;
  if (s.new !== undefined) out += ` new=${s.new}`;
  if (s.create !== undefined) out += ` create=${s.create}`;
  if (s.delete !== undefined) out += ` delete=${s.delete}`;
  return out;
}

/** Flag words of a request header, read with the meaning its message type gives them. */
function requestFlags(h: NlMsgHeader): string[] {
  const f = h.flags;
  const out: string[] = [];
  if (f & NLM_F_ACK) out.push('ack');
  if (f & NLM_F_ECHO) out.push('echo');
  const msg = msgTypeOf(h.type);
  const isNew = h.type >= 0x100 && msg === 0; // IPCTNL_MSG_CT_NEW / IPCTNL_MSG_EXP_NEW
  if (isNew) {
    if (f & NLM_F_REPLACE) out.push('replace');
    if (f & NLM_F_EXCL) out.push('excl');
    if (f & NLM_F_CREATE) out.push('create');
    if (f & NLM_F_APPEND) out.push('append');
  } else {
    if ((f & NLM_F_DUMP) === NLM_F_DUMP) out.push('dump');
    else if (f & NLM_F_ROOT) out.push('root');
    else if (f & NLM_F_MATCH) out.push('match');
    if (f & NLM_F_ATOMIC) out.push('atomic');
  }
  return out;
}

function requestHead(h: NlMsgHeader, family: number): string {
  const words = requestFlags(h);
  return `request ${messageTypeName(h.type)}${words.length ? ' ' + words.join(',') : ''} family=${familyText(family)} seq=${h.seq >>> 0}`;
}

function isEmptyConntrack(ct: Conntrack): boolean {
  return Object.keys(ct).every((k) => k === 'family');
}

function isEmptyExpect(x: Expectation): boolean {
  return Object.keys(x).every((k) => k === 'family');
}

const NO_CONTEXT: FormatContext = {};

/** A formatMessage with fixed options. */
export function createTextFormatter(o: TextFormatOptions = {}): (m: Message, ctx?: FormatContext) => string | undefined {
  const clock = new Clock(o);
  return (m, ctx = NO_CONTEXT) => {
    const ref = (m.kind === 'conntrack' ? m.conntrack.eventTimestamp : undefined) ?? ctx.timestampNs;
    const line = body(m, ref, o);
    return ref === undefined ? line : clock.column(ref) + line;
  };
}

/** "NEW     " (the event padded to 7, and a space) */
function eventColumn(event: string): string {
  switch (event) {
    case 'new': return 'NEW     ';
    case 'update': return 'UPDATE  ';
    case 'destroy': return 'DESTROY ';
    default: return event.toUpperCase().padEnd(7, ' ') + ' ';
  }
}

function body(m: Message, refNs: bigint | undefined, o: TextFormatOptions): string {
  switch (m.kind) {
    case 'conntrack': {
      const ct = m.conntrack;
      if (m.header.flags & NLM_F_REQUEST) {
        const head = requestHead(m.header, m.nfgen.family);
        if (isEmptyConntrack(ct)) return head;
        let extra = '';
        for (const x of requestExtras(ct)) extra += ' ' + x;
        return `${head} ${conntrackBody(ct, refNs, extra)}`;
      }
      let extra = '';
      const pid = m.header.pid >>> 0;
      if (m.event !== undefined && pid !== 0) {
        extra = ' portid=' + u32(pid);
        const prog = o.progname?.(pid);
        if (prog !== undefined) extra += ' prog=' + prog;
      }
      const text = conntrackBody(ct, refNs, extra);
      return m.event === undefined ? text : eventColumn(m.event) + text;
    }
    case 'expect': {
      if (m.header.flags & NLM_F_REQUEST) {
        const head = requestHead(m.header, m.nfgen.family);
        return isEmptyExpect(m.expect) ? head : `${head} ${expectBody(m.expect)}`;
      }
      const text = expectBody(m.expect);
      if (m.event === 'new') return `EXP-NEW ${text}`;
      if (m.event === 'destroy') return `EXP-DEL ${text}`;
      return `expect  ${text}`;
    }
    case 'stats-cpu':
      return cpuStats(m.stats);
    case 'expect-stats-cpu':
      return expectCpuStats(m.stats);
    case 'stats': {
      let s = 'stats';
      if (m.stats.entries !== undefined) s += ` entries=${m.stats.entries}`;
      if (m.stats.maxEntries !== undefined) s += ` max=${m.stats.maxEntries}`;
      const u = unknownTypes(m.stats.unknown);
      return u === undefined ? s : `${s} unknown=${u}`;
    }
    case 'request': {
      const head = requestHead(m.header, m.nfgen.family);
      const u = unknownTypes(m.unknown);
      return u === undefined ? head : `${head} unknown=${u}`;
    }
    case 'error': {
      const e = m.error;
      const req = messageTypeName(e.request.type);
      if (e.error === 0) return `ack (seq ${m.header.seq >>> 0}) ${req}`;
      let s = `error ${errnoName(e.error)} (seq ${m.header.seq >>> 0}) ${req}`;
      const x = e.extAck;
      if (x?.offset !== undefined) s += ` offset=${x.offset}`;
      if (x?.missingType !== undefined) s += ` missing-attr=${x.missingType}`;
      if (x?.missingNest !== undefined) s += ` missing-nest=${x.missingNest}`;
      if (x?.message !== undefined) s += `: ${x.message}`;
      return s;
    }
    case 'done': {
      const d = m.done;
      let s = d.error === 0 ? `done (seq ${m.header.seq >>> 0})` : `done ${errnoName(d.error)} (seq ${m.header.seq >>> 0})`;
      if (d.extAck?.message !== undefined) s += `: ${d.extAck.message}`;
      return s;
    }
    case 'overrun':
      return 'overrun';
    case 'noop':
      return `noop (seq ${m.header.seq >>> 0})`;
    case 'other': {
      const h = m.header;
      const sub = h.type >= 0x100 ? ` subsys=${subsysOf(h.type)}` : '';
      return `other ${messageTypeName(h.type)}${sub} flags=0x${h.flags.toString(16)} seq=${h.seq >>> 0} pid=${h.pid >>> 0} len=${m.payload.length}`;
    }
  }
}

/** Request-only attributes (NAT ranges, masks, filters) of a conntrack request. */
function requestExtras(ct: Conntrack): string[] {
  const out: string[] = [];
  const nat = (k: string, n: Conntrack['natSrc']) => {
    if (n === undefined) return;
    const ip = n.minIp === n.maxIp || n.maxIp === undefined ? (n.minIp ?? '?') : `${n.minIp ?? '?'}-${n.maxIp}`;
    const port = n.minPort === undefined ? '' : n.maxPort === undefined || n.maxPort === n.minPort ? `:${n.minPort}` : `:${n.minPort}-${n.maxPort}`;
    out.push(`${k}=${ip}${port}`);
  };
  nat('snat', ct.natSrc);
  nat('dnat', ct.natDst);
  if (ct.markMask !== undefined) out.push(`mark-mask=0x${(ct.markMask >>> 0).toString(16)}`);
  if (ct.statusMask !== undefined) out.push(`status-mask=0x${(ct.statusMask >>> 0).toString(16)}`);
  if (ct.labelsMask !== undefined) out.push(`labels-mask=${labelBits(ct.labelsMask)}`);
  if (ct.filter !== undefined) {
    out.push(`filter=0x${((ct.filter.origFlags ?? 0) >>> 0).toString(16)}/0x${((ct.filter.replyFlags ?? 0) >>> 0).toString(16)}`);
  }
  return out;
}

const defaultFormatter = createTextFormatter();

/** The text line for a message (never undefined: every message gets a line). */
export function formatMessage(m: Message, ctx: FormatContext = {}): string | undefined {
  return defaultFormatter(m, ctx);
}
