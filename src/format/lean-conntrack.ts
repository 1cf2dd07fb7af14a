/**
 * The conntrack(8) line of a conntrack event or dump entry from the lean record
 * (ctnetlink/lean.ts), without the message model: the same text as conntrack.ts's
 * formatter with the same options, column for column:
 *
 *   [event] [l3 (extended)] proto num timeout [state] src= dst= sport= dport=
 *   [packets= bytes=] [UNREPLIED] src= dst= sport= dport= [packets= bytes=]
 *   [ASSURED|OFFLOAD|HW_OFFLOAD] [mark=] [secmark=] [zone=] [delta-time=] [[start=] [stop=]]
 *   [use=] [id=]   ([<sec>.<usec>]\t before events with -o timestamp; [USERSPACE] after)
 *
 * Only for IPv4 / IPv6 with a port protocol (TCP, UDP, UDP-Lite, SCTP, DCCP): for anything
 * else the writer returns undefined and the caller uses the full path.
 */
import {
  IPPROTO_DCCP,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  IPS_ASSURED,
  IPS_HW_OFFLOAD,
  IPS_OFFLOAD,
  IPS_SEEN_REPLY,
} from '../ctnetlink/constants.js';
import {
  LEAN_DESTROY,
  LEAN_ENTRY,
  LEAN_NEW,
  L_CO,
  L_CO_BYTES,
  L_CO_PKTS,
  L_CR,
  L_CR_BYTES,
  L_CR_PKTS,
  L_ID,
  L_MARK,
  L_SECMARK,
  L_STATUS,
  L_TCP_STATE,
  L_TIMEOUT,
  L_TS,
  L_TS_START,
  L_TS_STOP,
  L_USE,
  L_ZONE,
  type LeanConntrack,
  u64Text,
} from '../ctnetlink/lean.js';
import { tcpStateName } from '../ctnetlink/status.js';
import { ctime, eventColumn, familyName, protoColumn, timestampPrefix, type ConntrackFormatOptions } from './conntrack.js';
import { leanAddress } from './lean-json.js';
import { u32 } from './pieces.js';

const NS_PER_S = 1_000_000_000n;
const U64 = 1n << 64n;

function counters(e: LeanConntrack, pk: number, by: number, pOff: number, bOff: number): string {
  if ((e.has & (pk | by)) !== (pk | by)) return '';
  return ' packets=' + u64Text(e.view, pOff) + ' bytes=' + u64Text(e.view, bOff);
}

/**
 * The line, or undefined when this writer does not cover the record (use the full
 * formatter). `ns`: the receive time (events: -o timestamp; delta-time of live entries).
 */
export function leanConntrackLine(e: LeanConntrack, ns: bigint | undefined, o: ConntrackFormatOptions): string | undefined {
  const family = e.family;
  const p = e.proto;
  if ((family !== 2 && family !== 10) || (p !== IPPROTO_TCP && p !== IPPROTO_UDP && p !== IPPROTO_UDPLITE && p !== IPPROTO_SCTP && p !== IPPROTO_DCCP)) {
    return undefined;
  }
  const has = e.has;
  const b = e.bytes;
  const ev = e.event;
  let s = ev === LEAN_ENTRY ? '' : eventColumn(ev === LEAN_NEW ? '[NEW]' : ev === LEAN_DESTROY ? '[DESTROY]' : '[UPDATE]');
  if (o.extended) s = first(s, ` ${familyName(family).padEnd(8, ' ')} ${family & 0xff}`);
  s = first(s, protoColumn(p));
  if (has & L_TIMEOUT) s += ' ' + u32(e.timeout);
  if (has & L_TCP_STATE) s += ' ' + tcpStateName(e.tcpState);
  s += ' src=' + leanAddress(b, e.origSrc, e.origLen) + ' dst=' + leanAddress(b, e.origDst, e.origLen) +
    ' sport=' + u32(e.origSport) + ' dport=' + u32(e.origDport);
  if (has & L_CO) s += counters(e, L_CO_PKTS, L_CO_BYTES, e.coPkts, e.coBytes);
  const status = e.status;
  if (has & L_STATUS && !(status & IPS_SEEN_REPLY)) s += ' [UNREPLIED]';
  s += ' src=' + leanAddress(b, e.replySrc, e.replyLen) + ' dst=' + leanAddress(b, e.replyDst, e.replyLen) +
    ' sport=' + u32(e.replySport) + ' dport=' + u32(e.replyDport);
  if (has & L_CR) s += counters(e, L_CR_PKTS, L_CR_BYTES, e.crPkts, e.crBytes);
  if (has & L_STATUS) {
    if (status & IPS_HW_OFFLOAD) s += ' [HW_OFFLOAD]';
    else if (status & IPS_OFFLOAD) s += ' [OFFLOAD]';
    else if (status & IPS_ASSURED) s += ' [ASSURED]';
  }
  if (has & L_MARK) s += ' mark=' + u32(e.mark >>> 0);
  if (has & L_SECMARK) s += ' secmark=' + u32(e.secmark >>> 0);
  if (has & L_ZONE) s += ' zone=' + u32(e.zone);
  if (has & L_TS) {
    const v = e.view;
    const start = has & L_TS_START ? v.getBigUint64(e.tsStart, false) : undefined;
    const stop = has & L_TS_STOP ? v.getBigUint64(e.tsStop, false) : undefined;
    if (start !== undefined) {
      const a = start / NS_PER_S;
      const z = stop !== undefined && stop !== 0n ? stop / NS_PER_S : now(ns, o) / NS_PER_S;
      const d = z - a;
      s += ' delta-time=' + (d >= 0n && d < U64 ? d : ((d % U64) + U64) % U64);
    }
    if (o.ktimestamp) {
      if (start !== undefined) s += ` [start=${ctime(start / NS_PER_S)}]`;
      if (stop !== undefined) s += ` [stop=${ctime(stop / NS_PER_S)}]`;
    }
  }
  if (has & L_USE) s += ' use=' + u32(e.use >>> 0);
  if (o.id && has & L_ID) s += ' id=' + u32(e.id >>> 0);
  // (labels: a record with CTA_LABELS never reaches this writer)
  if (ev === LEAN_ENTRY) return s;
  if (o.timestamp) s = timestampPrefix(now(ns, o)) + s;
  const pid = e.pid >>> 0;
  if (pid !== 0) {
    const prog = o.progname?.(pid);
    s += prog === undefined ? ` [USERSPACE] portid=${pid}` : ` [USERSPACE] portid=${pid} progname=${prog}`;
  }
  return s;
}

/** `s` + `col` (a column with its leading space, dropped when it is the first column). */
function first(s: string, col: string): string {
  return s.length === 0 ? col.slice(1) : s + col;
}

function now(ns: bigint | undefined, o: ConntrackFormatOptions): bigint {
  return ns ?? o.now?.() ?? BigInt(Date.now()) * 1_000_000n;
}
