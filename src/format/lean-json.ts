/**
 * The JSON line of a conntrack event or dump entry from the lean record
 * (ctnetlink/lean.ts), without the message model: the same text as json-line.ts's
 * conntrackLine (JSON.stringify(toJson(m)) in the end), key for key, for the shape the
 * lean decoder accepts:
 *
 *   {"type","time","timestampNs", "pid" (events, non-zero) | "msgType","seq","pid","flags"
 *    (entries), "family","proto","protoNum","state","orig","reply","status","timeout",
 *    "mark","secmark","zone","id","use","counters","timestamps","protoinfo"}
 *
 * The pieces shared with conntrackLine (line start per second, status/timeout/mark
 * fragments, family/proto text) come from json-line.ts and its caches.
 */
import { formatIpv4, formatIpv6 } from '../ctnetlink/address.js';
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
  L_PROTOINFO,
  L_SECMARK,
  L_STATUS,
  L_TCP_FLAGS_ORIG,
  L_TCP_FLAGS_REPLY,
  L_TCP_STATE,
  L_TCP_WS_ORIG,
  L_TCP_WS_REPLY,
  L_TIMEOUT,
  L_TS,
  L_TS_EVENT,
  L_TS_START,
  L_TS_STOP,
  L_USE,
  L_ZONE,
  type LeanConntrack,
  u64Text,
} from '../ctnetlink/lean.js';
import { tcpStateName } from '../ctnetlink/status.js';
import { familyProtoText, headerText, q, statusTimeoutMarkText, timedStart, typePrefix } from './json-line.js';
import { flat, u32 } from './pieces.js';

/** The address of `len` bytes at `p` as inet_ntop writes it (the full decoder's text). */
export function leanAddress(b: Uint8Array, p: number, len: number): string {
  return len === 4 ? formatIpv4(b, p) : formatIpv6(b, p);
}

function eventName(ev: number): string {
  return ev === LEAN_ENTRY ? 'entry' : ev === LEAN_NEW ? 'new' : ev === LEAN_DESTROY ? 'destroy' : 'update';
}

/** The header as json-line.ts's headerText reads it. */
const header = { len: 0, type: 0, flags: 0, seq: 0, pid: 0 };

/** The last line's start (up to protoNum) and what it was made of (a dump's lines share it). */
const start = { ns: undefined as bigint | undefined, event: -1, type: -1, seq: -1, pid: -1, flags: -1, family: -1, proto: -1, text: '', flat: false };

/** The line up to `protoNum` (entries: kept from the last line while it is the same). */
export function lineStart(e: LeanConntrack, ns: bigint | undefined): string {
  if (e.event !== LEAN_ENTRY) {
    // Events: every datagram has its own receive time, so no line start is ever reused
    // (and flattening one for a second use would cost more than it saves).
    const type = eventName(e.event);
    let s = ns === undefined ? typePrefix(type) : timedStart(type, ns);
    const pid = e.pid >>> 0;
    if (pid !== 0) s += ',"pid":' + u32(pid);
    return s + familyProtoText(e.family, e.proto);
  }
  const c = start;
  if (ns === c.ns && e.event === c.event && e.type === c.type && e.seq === c.seq && e.pid === c.pid && e.flags === c.flags &&
    e.family === c.family && e.proto === c.proto) {
    if (!c.flat) {
      c.text = flat(c.text);
      c.flat = true;
    }
    return c.text;
  }
  let s = ns === undefined ? typePrefix('entry') : timedStart('entry', ns);
  header.type = e.type;
  header.flags = e.flags;
  header.seq = e.seq;
  header.pid = e.pid;
  s += headerText(header);
  s += familyProtoText(e.family, e.proto);
  c.ns = ns;
  c.event = e.event;
  c.type = e.type;
  c.seq = e.seq;
  c.pid = e.pid;
  c.flags = e.flags;
  c.family = e.family;
  c.proto = e.proto;
  c.text = s;
  c.flat = false;
  return s;
}

function countersText(e: LeanConntrack, pk: number, by: number, pOff: number, bOff: number): string {
  const has = e.has;
  let b = '';
  if (has & pk) b = '"packets":"' + u64Text(e.view, pOff) + '"';
  if (has & by) b = (b.length === 0 ? '"bytes":"' : b + ',"bytes":"') + u64Text(e.view, bOff) + '"';
  return '{' + b + '}';
}

function member(body: string, key: string, value: string): string {
  return body.length === 0 ? '"' + key + '":' + value : body + ',"' + key + '":' + value;
}

/** The JSON line of the record (ns: the receive time of its datagram, or the dump's time). */
export function leanJsonLine(e: LeanConntrack, ns: bigint | undefined): string {
  const has = e.has;
  const b = e.bytes;
  let s = lineStart(e, ns);
  if (has & L_TCP_STATE) s += ',"state":' + q(tcpStateName(e.tcpState));
  s += ',"orig":{"src":"' + leanAddress(b, e.origSrc, e.origLen) + '","dst":"' + leanAddress(b, e.origDst, e.origLen) +
    '","sport":' + u32(e.origSport) + ',"dport":' + u32(e.origDport) + '}';
  s += ',"reply":{"src":"' + leanAddress(b, e.replySrc, e.replyLen) + '","dst":"' + leanAddress(b, e.replyDst, e.replyLen) +
    '","sport":' + u32(e.replySport) + ',"dport":' + u32(e.replyDport) + '}';
  s += statusTimeoutMarkText(has & L_STATUS ? e.status : undefined, has & L_TIMEOUT ? e.timeout : undefined, has & L_MARK ? e.mark : undefined);
  if (has & L_SECMARK) s += ',"secmark":' + u32(e.secmark);
  if (has & L_ZONE) s += ',"zone":' + u32(e.zone);
  if (has & L_ID) s += ',"id":' + u32(e.id);
  if (has & L_USE) s += ',"use":' + u32(e.use);
  if (has & (L_CO | L_CR)) {
    let c = '';
    if (has & L_CO) c = '"orig":' + countersText(e, L_CO_PKTS, L_CO_BYTES, e.coPkts, e.coBytes);
    if (has & L_CR) c = member(c, 'reply', countersText(e, L_CR_PKTS, L_CR_BYTES, e.crPkts, e.crBytes));
    s += ',"counters":{' + c + '}';
  }
  if (has & (L_TS | L_TS_EVENT)) {
    let t = '';
    if (has & L_TS_START) t = '"start":"' + e.view.getBigUint64(e.tsStart, false) + '"';
    if (has & L_TS_STOP) t = member(t, 'stop', '"' + e.view.getBigUint64(e.tsStop, false) + '"');
    if (has & L_TS_EVENT) t = member(t, 'event', '"' + e.view.getBigUint64(e.tsEvent, false) + '"');
    if (t.length > 0) s += ',"timestamps":{' + t + '}';
  }
  if (has & L_PROTOINFO) {
    let t = '';
    if (has & L_TCP_STATE) t = '"state":' + e.tcpState + ',"stateName":"' + tcpStateName(e.tcpState) + '"';
    if (has & L_TCP_WS_ORIG) t = member(t, 'wscaleOriginal', '' + e.tcpWsOrig);
    if (has & L_TCP_WS_REPLY) t = member(t, 'wscaleReply', '' + e.tcpWsReply);
    if (has & L_TCP_FLAGS_ORIG) t = member(t, 'flagsOriginal', '{"flags":' + e.tcpFlagsOrig + ',"mask":' + e.tcpMaskOrig + '}');
    if (has & L_TCP_FLAGS_REPLY) t = member(t, 'flagsReply', '{"flags":' + e.tcpFlagsReply + ',"mask":' + e.tcpMaskReply + '}');
    s += ',"protoinfo":{"tcp":{' + t + '}}';
  }
  return s + '}';
}
