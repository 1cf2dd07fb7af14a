/**
 * The conntrack(8) line of the lean record written as bytes straight into an output
 * chunk: the same text as lean-conntrack.ts's leanConntrackLine, newline included, for its
 * common case (no -o timestamp / ktimestamp, no CTA_TIMESTAMP, events without a requester
 * port id). Anything else returns -1 and the caller uses leanConntrackLine.
 *
 *   [event] [l3 (extended)] proto num [timeout] [state] src= dst= sport= dport=
 *   [packets= bytes=] [UNREPLIED] src= dst= sport= dport= [packets= bytes=]
 *   [ASSURED|OFFLOAD|HW_OFFLOAD] [mark=] [secmark=] [zone=] [use=] [id=]
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
  LEAN_ENTRY,
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
  L_USE,
  L_ZONE,
  type LeanConntrack,
} from '../ctnetlink/lean.js';
import { tcpStateName } from '../ctnetlink/status.js';
import { addr, dec, enc, lit, u64 } from './bytes.js';
import { eventColumn, familyName, protoColumn, type ConntrackFormatOptions } from './conntrack.js';

const SRC = enc(' src=');
const DST = enc(' dst=');
const SPORT = enc(' sport=');
const DPORT = enc(' dport=');
const PACKETS = enc(' packets=');
const BYTES = enc(' bytes=');
const UNREPLIED = enc(' [UNREPLIED]');
const HW_OFFLOAD = enc(' [HW_OFFLOAD]');
const OFFLOAD = enc(' [OFFLOAD]');
const ASSURED = enc(' [ASSURED]');
const MARK = enc(' mark=');
const SECMARK = enc(' secmark=');
const ZONE = enc(' zone=');
const USE = enc(' use=');
const ID = enc(' id=');
const EVENTS = [enc(''), enc(eventColumn('[NEW]')), enc(eventColumn('[UPDATE]')), enc(eventColumn('[DESTROY]'))];
const protoCols = new Map<number, Uint8Array>();
const states: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(256).fill(undefined);
const families = new Map<number, Uint8Array>();

/** Write the line and its newline at `pos`; the end, or -1 when leanConntrackLine must write it. */
export function leanConntrackBytes(e: LeanConntrack, o: ConntrackFormatOptions, b: Uint8Array, pos: number): number {
  const family = e.family;
  const pr = e.proto;
  const has = e.has;
  if ((family !== 2 && family !== 10) || (pr !== IPPROTO_TCP && pr !== IPPROTO_UDP && pr !== IPPROTO_UDPLITE && pr !== IPPROTO_SCTP && pr !== IPPROTO_DCCP)) return -1;
  if (o.timestamp || o.ktimestamp || has & L_TS || (e.event !== LEAN_ENTRY && e.pid !== 0)) return -1;
  let p = pos;
  let first = e.event === LEAN_ENTRY; // the first column drops its leading space
  if (!first) p = lit(b, p, EVENTS[e.event]!);
  if (o.extended) {
    let f = families.get(family);
    if (f === undefined) families.set(family, (f = enc(` ${familyName(family).padEnd(8, ' ')} ${family & 0xff}`)));
    p = first ? lit(b, p, f.subarray(1)) : lit(b, p, f);
    first = false;
  }
  let pc = protoCols.get(pr);
  if (pc === undefined) protoCols.set(pr, (pc = enc(protoColumn(pr))));
  p = first ? lit(b, p, pc.subarray(1)) : lit(b, p, pc);
  const src = e.bytes;
  if (has & L_TIMEOUT) {
    b[p++] = 32;
    p = dec(b, p, e.timeout);
  }
  if (has & L_TCP_STATE) p = lit(b, p, states[e.tcpState] ??= enc(' ' + tcpStateName(e.tcpState)));
  p = lit(b, p, SRC);
  p = addr(b, p, src, e.origSrc, e.origLen);
  p = lit(b, p, DST);
  p = addr(b, p, src, e.origDst, e.origLen);
  p = lit(b, p, SPORT);
  p = dec(b, p, e.origSport);
  p = lit(b, p, DPORT);
  p = dec(b, p, e.origDport);
  const v = e.view;
  if (has & L_CO && (has & (L_CO_PKTS | L_CO_BYTES)) === (L_CO_PKTS | L_CO_BYTES)) {
    p = lit(b, p, PACKETS);
    p = u64(b, p, v, e.coPkts);
    p = lit(b, p, BYTES);
    p = u64(b, p, v, e.coBytes);
  }
  const status = e.status;
  if (has & L_STATUS && !(status & IPS_SEEN_REPLY)) p = lit(b, p, UNREPLIED);
  p = lit(b, p, SRC);
  p = addr(b, p, src, e.replySrc, e.replyLen);
  p = lit(b, p, DST);
  p = addr(b, p, src, e.replyDst, e.replyLen);
  p = lit(b, p, SPORT);
  p = dec(b, p, e.replySport);
  p = lit(b, p, DPORT);
  p = dec(b, p, e.replyDport);
  if (has & L_CR && (has & (L_CR_PKTS | L_CR_BYTES)) === (L_CR_PKTS | L_CR_BYTES)) {
    p = lit(b, p, PACKETS);
    p = u64(b, p, v, e.crPkts);
    p = lit(b, p, BYTES);
    p = u64(b, p, v, e.crBytes);
  }
  if (has & L_STATUS) {
    if (status & IPS_HW_OFFLOAD) p = lit(b, p, HW_OFFLOAD);
    else if (status & IPS_OFFLOAD) p = lit(b, p, OFFLOAD);
    else if (status & IPS_ASSURED) p = lit(b, p, ASSURED);
  }
  if (has & L_MARK) {
    p = lit(b, p, MARK);
    p = dec(b, p, e.mark >>> 0);
  }
  if (has & L_SECMARK) {
    p = lit(b, p, SECMARK);
    p = dec(b, p, e.secmark >>> 0);
  }
  if (has & L_ZONE) {
    p = lit(b, p, ZONE);
    p = dec(b, p, e.zone);
  }
  if (has & L_USE) {
    p = lit(b, p, USE);
    p = dec(b, p, e.use >>> 0);
  }
  if (o.id && has & L_ID) {
    p = lit(b, p, ID);
    p = dec(b, p, e.id >>> 0);
  }
  b[p] = 10;
  return p + 1;
}
