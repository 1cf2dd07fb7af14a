/**
 * The `conntrack` output format: byte for byte what conntrack-tools 1.4.7 (with
 * libnetfilter_conntrack 1.0.9, its default printer) writes to stdout for the same kernel
 * message, so scripts written against `conntrack -E` / `conntrack -L` keep working.
 *
 * Rules (from libnetfilter_conntrack src/conntrack/snprintf_default.c, parse_mnl.c,
 * src/expect/snprintf_default.c and conntrack-tools src/conntrack.c; checked against the
 * binaries on Linux 6.18, see test/fixtures/format):
 *
 *   [event]  "%9s " of "[NEW]" (CT_NEW with NLM_F_CREATE), "[UPDATE]", "[DESTROY]"; events only
 *   [l3]     "ipv4     2 " (-o extended)
 *   l4       "%-8s %u ": tcp udp udplite icmp icmpv6 sctp gre dccp, else "unknown"
 *   timeout  "%u "               when CTA_TIMEOUT is present (DESTROY after expiry: absent)
 *   state    "%s "               TCP, SCTP or DCCP state when present (out of range: NONE)
 *   orig     "src=%s dst=%s " + "sport=%u dport=%u " (tcp udp udplite sctp dccp) |
 *            "srckey=0x%x dstkey=0x%x " (gre) | "type=%d code=%d id=%d " (icmp, icmpv6)
 *            [zone-orig=%u] [packets=%llu bytes=%llu (both present)] [UNREPLIED (status
 *            present without SEEN_REPLY)]
 *   reply    the same for the reply tuple, [zone-reply=%u] and its counters
 *   status   [HW_OFFLOAD] else [OFFLOAD] else [ASSURED]
 *   then     mark= secmark= secctx= zone= delta-time= [start=ctime] [stop=ctime] (-o
 *            ktimestamp) helper= use= id= (-o id) labels= (-o labels), each when present
 *   the last space is cut. Events from a process (nlmsg_pid != 0) end with
 *   " [USERSPACE] portid=%u progname=%s" (progname only when it can be found in /proc).
 *
 * Dumps and events share the printer; they differ only by what the kernel sends (dumps
 * always carry CTA_MARK and CTA_USE, so "mark=0 ... use=1"; NEW/UPDATE events carry CTA_MARK
 * only when it is non-zero or has just been set, e.g. by a ctnetlink request, and never
 * counters or start/stop times; DESTROY events carry no CTA_USE, counters and start/stop
 * times when accounting / timestamping is on, and a timeout only when the entry was
 * deleted before it expired), by the event prefix, by the -o timestamp prefix (events
 * only) and by the [USERSPACE] suffix, which `conntrack -L` never prints.
 *
 * Where conntrack reads the clock (delta-time of live entries, the -o timestamp prefix)
 * we use ctx.timestampNs, the receive time, so a line is a pure function of its input.
 */
import { NLM_F_REQUEST } from '../netlink/constants.js';
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
import type { Conntrack, Counters, Expectation, Message, Tuple } from '../ctnetlink/model.js';
import { dccpStateName, sctpStateName, tcpStateName } from '../ctnetlink/status.js';
import type { FormatContext } from './index.js';
import { flat, slots, u32 } from './pieces.js';
import { familyName, protoName } from './names.js';
import { formatCountConntrack, formatCpuStatsConntrack, formatExpectCpuStatsConntrack } from './conntrack-stats.js';

/** `conntrack -o ...` options and the outside world the printer consults. */
export interface ConntrackFormatOptions {
  /** -o extended: the layer-3 column ("ipv4     2 "). */
  extended?: boolean;
  /** -o id: "id=%u" (CTA_ID) after use=. */
  id?: boolean;
  /** -o ktimestamp: "[start=<ctime>] [stop=<ctime>]" in local time after delta-time=. */
  ktimestamp?: boolean;
  /** -o timestamp: events start with "[<sec>.<usec>]\t" taken from ctx.timestampNs. */
  timestamp?: boolean;
  /**
   * -o labels: bit -> name (see loadConnlabels in src/host/connlabel.ts). conntrack prints labels only with
   * -o labels and a readable /etc/xtables/connlabel.conf; without a map nothing is printed.
   */
  labels?: ReadonlyMap<number, string>;
  /**
   * Name of the process holding netlink port `portid`, for the [USERSPACE] suffix. The
   * formatter does no I/O: without a provider no name is printed. Live output passes
   * procPortidResolver() (src/host/progname.ts: the /proc of the events' namespace, as
   * conntrack does); a capture passes nothing.
   */
  progname?: (portid: number) => string | undefined;
  /** Clock for delta-time when ctx.timestampNs is absent (ns since the epoch). Default Date.now(). */
  now?: () => bigint;
}

export { familyName, protoName } from './names.js';

const PORT_PROTOS = new Set([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP]);
const NS_PER_S = 1_000_000_000n;
const U64 = 1n << 64n;

/** NFCT_HELPER_NAME_MAX is 16: libnetfilter_conntrack keeps at most 15 characters. */
function helperName(s: string): string {
  return s.length > 15 ? s.slice(0, 15) : s;
}

function address(family: number, t: Tuple, srcTag: string, dstTag: string): string {
  if (family === 2) return `${srcTag}=${t.src ?? '0.0.0.0'} ${dstTag}=${t.dst ?? '0.0.0.0'} `;
  if (family === 10) return `${srcTag}=${t.src ?? '::'} ${dstTag}=${t.dst ?? '::'} `;
  return '';
}

function ports(t: Tuple): string {
  const p = t.proto ?? 0;
  if (PORT_PROTOS.has(p)) return `sport=${t.srcPort ?? 0} dport=${t.dstPort ?? 0} `;
  if (p === IPPROTO_GRE) return `srckey=0x${(t.srcPort ?? 0).toString(16)} dstkey=0x${(t.dstPort ?? 0).toString(16)} `;
  if (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) return `type=${t.icmpType ?? 0} code=${t.icmpCode ?? 0} id=${t.icmpId ?? 0} `;
  return '';
}

/** CTA_COUNTERS_* value, falling back to the 32-bit CTA_COUNTERS32_* forms like libnetfilter_conntrack. */
function counter(c: Counters, which: 'packets' | 'bytes'): bigint | undefined {
  const v = c[which];
  if (v !== undefined) return v;
  const t32 = which === 'packets' ? 3 : 4;
  const a = c.unknown?.find((u) => (u.type & 0x3fff) === t32 && u.data.length >= 4);
  if (a === undefined) return undefined;
  return BigInt(new DataView(a.data.buffer, a.data.byteOffset, 4).getUint32(0, false));
}

function counters(c: Counters | undefined): string {
  if (c === undefined) return '';
  const p = counter(c, 'packets');
  const b = counter(c, 'bytes');
  return p !== undefined && b !== undefined ? `packets=${p} bytes=${b} ` : '';
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) without its newline, in local time: "Tue Nov 24 15:07:01 2026". */
export function ctime(seconds: bigint): string {
  const d = new Date(Number(seconds) * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]}${String(d.getDate()).padStart(3, ' ')} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

function labelsText(bits: Uint8Array, map: ReadonlyMap<number, string>): string {
  let s = 'labels=';
  for (let bit = 0; bit < bits.length * 8; bit++) {
    if (!(bits[bit >> 3]! & (1 << (bit & 7)))) continue;
    const name = map.get(bit);
    if (name) s += name + ',';
  }
  // conntrack drops the last character (the trailing comma, or the '=' when no set bit
  // has a name) and appends a space.
  return s.slice(0, -1) + ' ';
}

function nowNs(ctx: FormatContext, o: ConntrackFormatOptions): bigint {
  return ctx.timestampNs ?? o.now?.() ?? BigInt(Date.now()) * 1_000_000n;
}

export type CtEventName = '[NEW]' | '[UPDATE]' | '[DESTROY]';

/** "%9s " of the event names, without the space (every later column brings its own). */
export function eventColumn(event: string): string {
  switch (event) {
    case '[NEW]': return '    [NEW]';
    case '[UPDATE]': return ' [UPDATE]';
    case '[DESTROY]': return '[DESTROY]';
    default: return event.padStart(9, ' ');
  }
}

const protoColumns = slots(256);

/** " udp      17" */
export function protoColumn(p: number): string {
  const small = p >= 0 && p < 256 && p === (p | 0);
  const hit = small ? protoColumns[p] : undefined;
  if (hit !== undefined) return hit;
  const t = flat(` ${protoName(p).padEnd(8, ' ')} ${p}`);
  if (small) protoColumns[p] = t;
  return t;
}

/**
 * address() + ports() of a tuple: " src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2". The address
 * part comes from the message's family, the ports part from the tuple's protocol.
 */
function tupleColumns(family: number, t: Tuple): string {
  const p = t.proto ?? 0;
  if (family === 2 || family === 10) {
    const none = family === 2 ? '0.0.0.0' : '::';
    if (p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_UDPLITE || p === IPPROTO_SCTP || p === IPPROTO_DCCP) {
      return ' src=' + (t.src ?? none) + ' dst=' + (t.dst ?? none) + (' sport=' + u32(t.srcPort ?? 0)) + (' dport=' + u32(t.dstPort ?? 0));
    }
    const rest = ports(t);
    return ' src=' + (t.src ?? none) + ' dst=' + (t.dst ?? none) + (rest === '' ? '' : ' ' + rest.slice(0, -1));
  }
  const rest = ports(t);
  return rest === '' ? '' : ' ' + rest.slice(0, -1);
}

/** " packets=%llu bytes=%llu" when both are known. */
function countersColumns(c: Counters): string {
  const p = c.packets;
  const b = c.bytes;
  if (p !== undefined && b !== undefined) return ' packets=' + p + ' bytes=' + b;
  const t = counters(c);
  return t === '' ? '' : ' ' + t.slice(0, -1);
}

/** `s` + `col`, a column with its leading space (dropped when it is the first column). */
function put(s: string, col: string): string {
  return s.length === 0 ? col.slice(1) : s + col;
}

/**
 * One conntrack entry as libnetfilter_conntrack's default printer writes it; `event` is the
 * bracketed prefix for events (undefined for dump entries). No [USERSPACE] suffix.
 *
 * (The printer ends every column with a space and cuts the last one; here every column
 * starts with one instead, so that no line is copied to drop its last character.)
 */
export function formatConntrackEntry(
  ct: Conntrack,
  event?: CtEventName,
  ctx: FormatContext = {},
  o: ConntrackFormatOptions = {},
): string {
  let s = event === undefined ? '' : eventColumn(event);
  const orig = ct.orig;
  // libnetfilter_conntrack gives a tuple the message's family only when the tuple is there.
  if (o.extended && orig !== undefined) s = put(s, ` ${familyName(ct.family).padEnd(8, ' ')} ${ct.family & 0xff}`);
  // Without CTA_PROTO_NUM conntrack's printer fails (it prints an unterminated buffer);
  // we leave the column out instead.
  if (orig !== undefined && orig.proto !== undefined) s = put(s, protoColumn(orig.proto));
  if (ct.timeout !== undefined) s = put(s, ' ' + u32(ct.timeout));
  const pi = ct.protoinfo;
  if (pi !== undefined) {
    if (pi.tcp?.state !== undefined) s = put(s, ' ' + tcpStateName(pi.tcp.state));
    if (pi.sctp?.state !== undefined) s = put(s, ' ' + sctpStateName(pi.sctp.state));
    if (pi.dccp?.state !== undefined) s = put(s, ' ' + dccpStateName(pi.dccp.state));
  }
  if (orig !== undefined) {
    s = put(s, tupleColumns(ct.family, orig));
    if (orig.zone !== undefined) s = put(s, ' zone-orig=' + u32(orig.zone));
  }
  if (ct.countersOrig !== undefined) s = put(s, countersColumns(ct.countersOrig));
  const status = ct.status;
  if (status !== undefined && !(status & IPS_SEEN_REPLY)) s = put(s, ' [UNREPLIED]');
  const reply = ct.reply;
  if (reply !== undefined) {
    s = put(s, tupleColumns(ct.family, reply));
    if (reply.zone !== undefined) s = put(s, ' zone-reply=' + u32(reply.zone));
  }
  if (ct.countersReply !== undefined) s = put(s, countersColumns(ct.countersReply));
  if (status !== undefined) {
    if (status & IPS_HW_OFFLOAD) s = put(s, ' [HW_OFFLOAD]');
    else if (status & IPS_OFFLOAD) s = put(s, ' [OFFLOAD]');
    else if (status & IPS_ASSURED) s = put(s, ' [ASSURED]');
  }
  if (ct.mark !== undefined) s = put(s, ' mark=' + u32(ct.mark >>> 0));
  if (ct.secmark !== undefined) s = put(s, ' secmark=' + u32(ct.secmark >>> 0));
  if (ct.secctx !== undefined) s = put(s, ' secctx=' + ct.secctx);
  if (ct.zone !== undefined) s = put(s, ' zone=' + u32(ct.zone));
  const ts = ct.timestamp;
  if (ts !== undefined) {
    if (ts.start !== undefined) {
      // delta-time = stop - start in whole seconds; without a stop time (live entries),
      // "now" - start: conntrack reads the clock when it prints, we use the receive time.
      const start = ts.start / NS_PER_S;
      const stop = ts.stop !== undefined && ts.stop !== 0n ? ts.stop / NS_PER_S : nowNs(ctx, o) / NS_PER_S;
      const d = stop - start;
      s = put(s, ' delta-time=' + (d >= 0n && d < U64 ? d : ((d % U64) + U64) % U64));
    }
    if (o.ktimestamp) {
      if (ts.start !== undefined) s = put(s, ` [start=${ctime(ts.start / NS_PER_S)}]`);
      if (ts.stop !== undefined) s = put(s, ` [stop=${ctime(ts.stop / NS_PER_S)}]`);
    }
  }
  if (ct.helper?.name !== undefined) s = put(s, ' helper=' + helperName(ct.helper.name));
  if (ct.use !== undefined) s = put(s, ' use=' + u32(ct.use >>> 0));
  if (o.id && ct.id !== undefined) s = put(s, ' id=' + u32(ct.id >>> 0));
  if (o.labels !== undefined && ct.labels !== undefined && ct.labels.length > 0) s = put(s, ' ' + labelsText(ct.labels, o.labels).slice(0, -1));
  return s;
}

/**
 * One expectation as `conntrack -L expect` / `-E expect` print it:
 *   [event] [timeout] proto=%d src= dst= <ports> mask-src= mask-dst= <ports>
 *   master-src= master-dst= <ports> [zone=] [PERMANENT,INACTIVE,USERSPACE ] [class=] [helper=]
 * libnetfilter_conntrack 1.0.9 hands the family to the expected / mask / master tuples
 * when MASTER / TUPLE / MASK respectively are present (a crossed wiring we keep).
 */
export function formatExpectationConntrack(x: Expectation, event?: CtEventName): string {
  let s = event === undefined ? '' : event.padStart(9, ' ') + ' ';
  if (x.timeout !== undefined) s += `${x.timeout} `;
  const none: Tuple = {};
  s += `proto=${x.tuple?.proto ?? 0} `;
  if (x.master !== undefined) s += address(x.family, x.tuple ?? none, 'src', 'dst');
  s += ports(x.tuple ?? none);
  if (x.tuple !== undefined) s += address(x.family, x.mask ?? none, 'mask-src', 'mask-dst');
  s += ports(x.mask ?? none);
  if (x.mask !== undefined) s += address(x.family, x.master ?? none, 'master-src', 'master-dst');
  s += ports(x.master ?? none);
  if (x.zone !== undefined) s += `zone=${x.zone} `;
  const flags = x.flags ?? 0;
  const names: string[] = [];
  if (flags & NF_CT_EXPECT_PERMANENT) names.push('PERMANENT');
  if (flags & NF_CT_EXPECT_INACTIVE) names.push('INACTIVE');
  if (flags & NF_CT_EXPECT_USERSPACE) names.push('USERSPACE');
  s += names.join(',');
  if (flags !== 0) s += ' ';
  if (x.class !== undefined) s += `class=${x.class >>> 0} `;
  if (x.helpName !== undefined) s += `helper=${helperName(x.helpName)}`;
  return s.endsWith(' ') ? s.slice(0, -1) : s;
}

export { formatCountConntrack, formatCpuStatsConntrack, formatExpectCpuStatsConntrack } from './conntrack-stats.js';

/** "[1795532820.745528]\t" as `conntrack -E -o timestamp` prefixes events ("[%-.8ld.%-.6ld]\t"). */
export function timestampPrefix(ns: bigint): string {
  const sec = ns / NS_PER_S;
  const usec = (ns % NS_PER_S) / 1000n;
  return `[${String(sec).padStart(8, '0')}.${String(usec).padStart(6, '0')}]\t`;
}

/**
 * The bracketed event name of the type the decoder decided (ctnetlink/subsystem.ts). The
 * kernel sets NLM_F_CREATE|NLM_F_EXCL together on every NEW event (conntrack and
 * expectation), which is what libnetfilter_conntrack's __parse_message tests, so the
 * decoder's 'new' / 'update' is the name conntrack prints.
 */
const EVENT_NAMES: Record<string, CtEventName> = { new: '[NEW]', update: '[UPDATE]', destroy: '[DESTROY]' };

/** A formatMessage with fixed options (see ConntrackFormatOptions). */
export function createConntrackFormatter(o: ConntrackFormatOptions = {}): (m: Message, ctx?: FormatContext) => string | undefined {
  return (m, ctx = {}) => {
    switch (m.kind) {
      case 'conntrack': {
        if (m.event === undefined) {
          if (m.header.flags & NLM_F_REQUEST) return undefined;
          return formatConntrackEntry(m.conntrack, undefined, ctx, o);
        }
        let line = formatConntrackEntry(m.conntrack, EVENT_NAMES[m.event], ctx, o);
        if (o.timestamp) line = timestampPrefix(nowNs(ctx, o)) + line;
        const pid = m.header.pid >>> 0;
        if (pid !== 0) {
          const prog = o.progname?.(pid);
          line += prog === undefined ? ` [USERSPACE] portid=${pid}` : ` [USERSPACE] portid=${pid} progname=${prog}`;
        }
        return line;
      }
      case 'expect': {
        if (m.event === undefined) {
          if (m.header.flags & NLM_F_REQUEST) return undefined;
          return formatExpectationConntrack(m.expect);
        }
        const line = formatExpectationConntrack(m.expect, EVENT_NAMES[m.event]);
        // Expectation events use "[%-8ld.%-6ld]\t": left-aligned, space-padded fields.
        if (!o.timestamp) return line;
        const ns = nowNs(ctx, o);
        return `[${String(ns / NS_PER_S).padEnd(8, ' ')}.${String((ns % NS_PER_S) / 1000n).padEnd(6, ' ')}]\t${line}`;
      }
      case 'stats-cpu':
        return formatCpuStatsConntrack(m.stats);
      case 'expect-stats-cpu':
        return formatExpectCpuStatsConntrack(m.stats);
      case 'stats':
        return m.stats.entries === undefined ? undefined : formatCountConntrack(m.stats.entries);
      default:
        // Requests, ACKs, errors, DONE, overrun markers: conntrack prints nothing for them.
        return undefined;
    }
  };
}

const defaultFormatter = createConntrackFormatter();

/**
 * What conntrack prints for this message (without the newline), or undefined when it
 * prints nothing. Default options: `conntrack -E` / `-L` without -o, no progname provider.
 */
export function formatMessage(m: Message, ctx: FormatContext = {}): string | undefined {
  return defaultFormatter(m, ctx);
}
